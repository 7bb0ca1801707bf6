//! `multipart/x-mixed-replace`: the body IP cameras and mjpg-streamer send to `<img>` tags, one
//! whole JPEG per part, each part replacing the one before (RFC 2046 §5.1.1 syntax; the
//! subtype is Netscape's, which browsers and ffmpeg's `mpjpeg` demuxer read).
//!
//! ```text
//! --BOUNDARY CRLF
//! Content-Type: image/jpeg CRLF
//! Content-Length: N CRLF
//! CRLF
//! <N bytes> CRLF
//! --BOUNDARY CRLF          (the next part)
//! …
//! ```
//!
//! Each part carries `Content-Length`, so a reader need not search the JPEG for the boundary
//! (ffmpeg reads exactly that many bytes); the boundary is still one no JPEG marker begins.
//! There is no close delimiter (`--BOUNDARY--`): such a stream has no planned end, neither
//! ffmpeg's `mpjpeg` muxer nor IP cameras write one, and ffmpeg's demuxer fails on it (it
//! reads it as the start of a part); the body ends where the HTTP message does.

/// The parts of one multipart body, under one boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    boundary: String,
}

impl Multipart {
    /// Parts delimited by `boundary` (RFC 2046 §5.1.1: 1 to 70 characters of `bchars`; the
    /// caller's choice is trusted).
    pub fn new(boundary: &str) -> Multipart {
        Multipart {
            boundary: boundary.to_owned(),
        }
    }

    /// The boundary.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The response's `Content-Type` value: `multipart/x-mixed-replace;boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/x-mixed-replace;boundary={}", self.boundary)
    }

    /// Appends the head of a part of `len` bytes of `content_type`: the delimiter line, its
    /// `Content-Type` and `Content-Length` fields and the empty line. The caller then appends
    /// the `len` bytes and [`Multipart::write_part_tail`].
    pub fn write_part_head(&self, content_type: &str, len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        out.extend_from_slice(len.to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// Appends the line end that follows a part's bytes (the CRLF RFC 2046 attaches to the
    /// next delimiter).
    pub fn write_part_tail(out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
    }

    /// The bytes a whole part of `len` bytes of `content_type` takes: head, bytes, tail.
    pub fn part_len(&self, content_type: &str, len: usize) -> usize {
        let digits = len.checked_ilog10().map_or(1, |d| d as usize + 1);
        2 + self.boundary.len()
            + "\r\nContent-Type: ".len()
            + content_type.len()
            + "\r\nContent-Length: ".len()
            + digits
            + 4
            + len
            + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads parts back the way ffmpeg's `mpjpeg` demuxer does: skip empty lines, expect the
    /// delimiter, read fields to the empty line, take `Content-Length` bytes.
    fn parts(mut body: &[u8], boundary: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let line = |b: &mut &[u8]| -> Option<String> {
            let end = b.iter().position(|&c| c == b'\n')?;
            let l = String::from_utf8(b[..end].to_vec()).ok()?;
            *b = &b[end + 1..];
            Some(l.trim_end_matches('\r').to_owned())
        };
        loop {
            let Some(mut l) = line(&mut body) else {
                return out;
            };
            while l.is_empty() {
                match line(&mut body) {
                    Some(next) => l = next,
                    None => return out,
                }
            }
            assert_eq!(l, format!("--{boundary}"));
            let mut len = None;
            loop {
                let f = line(&mut body).unwrap();
                if f.is_empty() {
                    break;
                }
                if let Some(v) = f.strip_prefix("Content-Length: ") {
                    len = v.parse::<usize>().ok();
                }
            }
            let len = len.unwrap();
            out.push(body[..len].to_vec());
            body = &body[len..];
        }
    }

    #[test]
    fn parts_read_back_whole_and_part_len_is_exact() {
        let m = Multipart::new("hdstream");
        let frames: Vec<Vec<u8>> = vec![
            vec![0xFF, 0xD8, b'\r', b'\n', 0xFF, 0xD9],
            vec![],
            vec![7; 1000],
        ];
        let mut body = Vec::new();
        for f in &frames {
            let before = body.len();
            m.write_part_head("image/jpeg", f.len(), &mut body);
            body.extend_from_slice(f);
            Multipart::write_part_tail(&mut body);
            assert_eq!(body.len() - before, m.part_len("image/jpeg", f.len()));
        }
        assert_eq!(parts(&body, "hdstream"), frames);
        assert_eq!(
            m.content_type(),
            "multipart/x-mixed-replace;boundary=hdstream"
        );
    }
}
