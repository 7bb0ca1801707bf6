//! The dialect of the course's Python clients and servers (docs/architecture.md, "The
//! course's dialect").
//!
//! The course client sends
//!
//! ```text
//! SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000
//! ```
//!
//! with bare LF, a bare file name for the URL and no blank line (read it with
//! [`parse_unterminated`](super::parse_unterminated)), and it reads the reply by line position:
//! line 0 must be the status line, line 1 `CSeq: n`, line 2 `Session: id` with an integer id
//! and nothing after it. The course server answers the same way and reads requests by
//! position too (line 1 CSeq, line 2 Transport or Session).

use super::message::write_text;
use super::{Request, StatusCode, Version};

/// The course server's reply, `RTSP/1.0 200 OK\nCSeq: n\nSession: id`: LF line ends, no
/// blank line, no other header, except that the caching variant's server adds a fourth line
/// `Total-Frames: N` (its client's progress bar reads it; the other clients read lines 0–2
/// only). The course client parses the session as an integer, so `session` should be digits
/// (and carry no `;timeout`).
pub fn reply(status: StatusCode, cseq: u32, session: &str, total_frames: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(72 + session.len());
    out.extend_from_slice(Version::V1_0.as_str().as_bytes());
    out.extend_from_slice(
        format!(
            " {} {}\nCSeq: {cseq}\nSession: ",
            status.as_u16(),
            status.canonical_reason()
        )
        .as_bytes(),
    );
    write_text(&mut out, session);
    if let Some(n) = total_frames {
        out.extend_from_slice(format!("\n{TOTAL_FRAMES}: {n}").as_bytes());
    }
    out
}

/// The caching variant's fourth reply line: the frames in the file.
pub const TOTAL_FRAMES: &str = "Total-Frames";

/// A request as the course client writes it: the request line and each header in order,
/// separated by bare LF, with no final line end, no blank line and no body (the course server
/// reads the header lines by position, so put `CSeq` first).
pub fn request(request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    write_text(&mut out, request.method.as_str());
    out.push(b' ');
    write_text(&mut out, &request.uri);
    out.push(b' ');
    out.extend_from_slice(Version::V1_0.as_str().as_bytes());
    for (name, value) in &request.headers {
        out.push(b'\n');
        write_text(&mut out, name);
        out.extend_from_slice(b": ");
        write_text(&mut out, value);
    }
    out
}

/// The course client's Transport value, `RTP/UDP; client_port= <port>` (the course server
/// takes the port as the fourth space-separated word of the line).
pub fn transport(client_port: u16) -> String {
    format!("RTP/UDP; client_port= {client_port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::header::{CSeq, Header, Session, Transport};
    use crate::rtsp::{Message, Method, Parsed, parse, parse_unterminated};

    #[test]
    fn the_reply_is_three_lines_and_the_caching_variant_s_total_frames() {
        assert_eq!(
            reply(StatusCode::OK, 1, "123456", None),
            b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456"
        );
        assert_eq!(
            reply(StatusCode::NOT_FOUND, 2, "9", None),
            b"RTSP/1.0 404 Not Found\nCSeq: 2\nSession: 9"
        );
        assert_eq!(
            reply(StatusCode::OK, 3, "9", Some(500)),
            b"RTSP/1.0 200 OK\nCSeq: 3\nSession: 9\nTotal-Frames: 500"
        );
    }

    #[test]
    fn the_course_server_reads_our_request_by_position() {
        let mut setup = Request::new(Method::Setup, "movie.Mjpeg");
        setup.headers.set_typed(&CSeq(1));
        setup.headers.set("Transport", transport(25000));
        let bytes = request(&setup);
        assert_eq!(
            bytes,
            b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000"
        );
        // What ServerWorker.py does: split on '\n', then on ' '.
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines[0].split(' ').nth(1), Some("movie.Mjpeg"));
        assert_eq!(lines[1].split(' ').nth(1), Some("1"));
        assert_eq!(lines[2].split(' ').nth(3), Some("25000"));
    }

    #[test]
    fn our_parser_reads_the_course_dialect_both_ways() {
        let bytes = reply(StatusCode::OK, 3, "654321", Some(40));
        assert!(matches!(parse(&bytes), Ok(Parsed::Incomplete { .. })));
        let Some((Message::Response(r), n)) = parse_unterminated(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(n, bytes.len());
        assert!(r.is_course_dialect());
        assert_eq!(r.cseq(), Some(Ok(CSeq(3))));
        assert_eq!(r.session(), Some(Ok(Session::new("654321"))));
        assert_eq!(r.headers.get(TOTAL_FRAMES), Some("40"));

        let mut play = Request::new(Method::Play, "movie.Mjpeg");
        play.headers.set_typed(&CSeq(2));
        play.headers.set_typed(&Session::new("654321"));
        let bytes = request(&play);
        let Some((Message::Request(r), _)) = parse_unterminated(&bytes).unwrap() else {
            panic!()
        };
        assert!(r.is_course_dialect() && !r.framing.terminated);
        assert_eq!(r.headers, play.headers);
        let t = Transport::parse("RTP/UDP; client_port= 25000").unwrap();
        assert!(t.0[0].is_course());
    }
}
