//! Whole JPEGs out of a byte stream of concatenated JPEGs (what `ffmpeg -f mjpeg -` and most
//! cameras' MJPEG pipes write): [`Splitter`].
//!
//! A frame runs from SOI to the EOI that ends its last scan (ITU-T T.81 B.2): marker segments
//! are skipped by their length, so an EOI inside a segment (an embedded EXIF thumbnail) does not
//! end the frame, and entropy-coded data is scanned for the next marker (`FF 00` is a stuffed
//! byte, `FF D0`–`FF D7` restart markers). Bytes before an SOI are skipped; a frame longer than
//! the limit is dropped with an error and the splitter looks for the next SOI.

/// What went wrong with one frame (the splitter goes on with the next).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// No EOI within the limit.
    #[error("a JPEG of more than {0} bytes in the stream: skipped to the next SOI")]
    TooLong(usize),
    /// A marker segment's length field is below 2.
    #[error("bad marker segment length at byte {0} of a frame: skipped to the next SOI")]
    BadLength(usize),
}

/// Splits a stream of concatenated JPEGs into frames.
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    /// Where the frame being read continues to be parsed (an index into `buf`; the frame
    /// starts at 0 once an SOI is found).
    at: usize,
    /// Whether `buf` starts with an SOI.
    started: bool,
    /// Whether the parse is inside entropy-coded data.
    in_scan: bool,
    max_frame: usize,
    /// Bytes skipped outside frames.
    pub skipped: u64,
}

impl Splitter {
    /// A splitter that drops frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Splitter {
        Splitter {
            buf: Vec::new(),
            at: 0,
            started: false,
            in_scan: false,
            max_frame,
            skipped: 0,
        }
    }

    /// More bytes from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, an error about one that was dropped, or `None` until more bytes
    /// come.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, SplitError>> {
        if !self.started {
            let Some(start) = find_soi(&self.buf) else {
                // Keep a last 0xFF: it may be the first half of an SOI.
                let keep = usize::from(self.buf.last() == Some(&0xFF));
                self.skipped += (self.buf.len() - keep) as u64;
                self.buf.drain(..self.buf.len() - keep);
                return None;
            };
            self.skipped += start as u64;
            self.buf.drain(..start);
            self.started = true;
            self.at = 2;
            self.in_scan = false;
        }
        match self.parse() {
            Step::More if self.buf.len() > self.max_frame => {
                Some(Err(self.drop_frame(SplitError::TooLong(self.max_frame))))
            }
            Step::More => None,
            // Too long however it came in: dropped the same way as while it was coming.
            Step::End(end) if end > self.max_frame => {
                Some(Err(self.drop_frame(SplitError::TooLong(self.max_frame))))
            }
            Step::End(end) => {
                let rest = self.buf.split_off(end);
                let frame = std::mem::replace(&mut self.buf, rest);
                self.started = false;
                Some(Ok(frame))
            }
            Step::Bad(at) => Some(Err(self.drop_frame(SplitError::BadLength(at)))),
        }
    }

    /// Drops the frame being read (its SOI too, so the next search starts after it).
    fn drop_frame(&mut self, error: SplitError) -> SplitError {
        self.buf.drain(..2.min(self.buf.len()));
        self.started = false;
        error
    }

    /// Parses from `at`: where the frame ends, or that more bytes are needed.
    fn parse(&mut self) -> Step {
        let buf = &self.buf;
        loop {
            if self.in_scan {
                // Entropy-coded data: up to the next marker that is not a stuffed byte or a
                // restart marker.
                let mut i = self.at;
                loop {
                    let Some(ff) = buf[i.min(buf.len())..].iter().position(|&b| b == 0xFF) else {
                        self.at = buf.len();
                        return Step::More;
                    };
                    i += ff;
                    let Some(&next) = buf.get(i + 1) else {
                        self.at = i;
                        return Step::More;
                    };
                    match next {
                        0x00 | 0xD0..=0xD7 => i += 2,
                        0xFF => i += 1,
                        _ => break,
                    }
                }
                self.at = i;
                self.in_scan = false;
            }
            // A marker at `at` (fill bytes 0xFF allowed before it).
            let mut i = self.at;
            while buf.get(i) == Some(&0xFF) && buf.get(i + 1) == Some(&0xFF) {
                i += 1;
            }
            let (Some(&ff), Some(&marker)) = (buf.get(i), buf.get(i + 1)) else {
                self.at = i;
                return Step::More;
            };
            if ff != 0xFF {
                // Garbage where a marker should be: treat it as the end of this frame's
                // headers gone wrong.
                return Step::Bad(i);
            }
            match marker {
                0xD9 => return Step::End(i + 2),
                0xD0..=0xD7 | 0x01 | 0xD8 => {
                    self.at = i + 2;
                }
                _ => {
                    let (Some(&hi), Some(&lo)) = (buf.get(i + 2), buf.get(i + 3)) else {
                        self.at = i;
                        return Step::More;
                    };
                    let len = usize::from(u16::from_be_bytes([hi, lo]));
                    if len < 2 {
                        return Step::Bad(i);
                    }
                    if buf.len() < i + 2 + len {
                        self.at = i;
                        return Step::More;
                    }
                    self.at = i + 2 + len;
                    self.in_scan = marker == 0xDA;
                }
            }
        }
    }
}

enum Step {
    More,
    End(usize),
    Bad(usize),
}

fn find_soi(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == [0xFF, 0xD8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpegs() -> Vec<Vec<u8>> {
        crate::pattern::frames(64, 48, 3, 80).unwrap()
    }

    #[test]
    fn concatenated_frames_come_out_whole_in_any_chunking() {
        let frames = jpegs();
        let mut stream = b"junk".to_vec();
        for f in &frames {
            stream.extend_from_slice(f);
        }
        for chunk in [1, 7, 100, 4096] {
            let mut s = Splitter::new(1 << 20);
            let mut out = Vec::new();
            for piece in stream.chunks(chunk) {
                s.push(piece);
                while let Some(frame) = s.next_frame() {
                    out.push(frame.unwrap());
                }
            }
            assert_eq!(out, frames, "chunks of {chunk}");
            assert_eq!(s.skipped, 4);
        }
    }

    #[test]
    fn an_eoi_inside_a_segment_does_not_end_the_frame() {
        let frame = &jpegs()[0];
        // An APP1 segment holding FF D9 right after the SOI.
        let mut with_app = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD9];
        with_app.extend_from_slice(&frame[2..]);
        let mut s = Splitter::new(1 << 20);
        s.push(&with_app);
        assert_eq!(s.next_frame(), Some(Ok(with_app.clone())));
    }

    #[test]
    fn a_frame_that_never_ends_is_dropped_and_the_next_one_found() {
        let frames = jpegs();
        let mut s = Splitter::new(frames[0].len() + 10);
        // A frame cut off after its headers, then megabytes of scan data, then a good frame.
        let cut = &frames[0][..frames[0].len() / 2];
        s.push(cut);
        let mut errors = 0;
        let mut good = Vec::new();
        for _ in 0..100 {
            s.push(&[0x12; 1000]);
            while let Some(f) = s.next_frame() {
                match f {
                    Ok(f) => good.push(f),
                    Err(e) => {
                        assert_eq!(e, SplitError::TooLong(frames[0].len() + 10));
                        errors += 1;
                    }
                }
            }
        }
        s.push(&frames[1]);
        while let Some(f) = s.next_frame() {
            good.push(f.unwrap());
        }
        assert_eq!(errors, 1);
        assert_eq!(good, vec![frames[1].clone()]);
    }
}
