//! The course's RTP payload: raw JPEG bytes with no RFC 2435 header (docs/architecture.md,
//! "The course's dialect"), whole or cut into pieces.
//!
//! The course comes in three variants whose senders differ; hdstream's server sends a form all
//! three clients play, and [`Depacketizer`] reads all of them:
//!
//! | sender | packets | marker | timestamp | sequence number |
//! |---|---|---|---|---|
//! | basic | one whole JPEG | 0 | wall-clock seconds | frame number |
//! | HD | 1500-byte pieces | 0 | frame number | +1 per piece |
//! | caching | 1400-byte pieces | 1 on the last | 90 kHz, +3000 a frame | +1 per piece |
//! | hdstream-server ([`pieces`]) | whole when ≤ [`WHOLE_MAX`] bytes of RTP, else [`PIECE`]-byte pieces | 1 on the last | frame number | +1 per packet |
//!
//! The basic and HD clients read datagrams of [`WHOLE_MAX`] bytes (a larger one is cut short),
//! the caching client 65,536; the HD client takes a higher timestamp as a new frame and shows a
//! frame once SOI…EOI is complete; the caching client ends a frame at the marker or a timestamp
//! change. So a frame that fits leaves whole (the basic client shows one packet as one frame),
//! and a larger one in pieces stamped with its frame number.

use std::collections::VecDeque;

use crate::rtp;

/// Which RTSP and RTP a peer speaks: RFC 2326 and RFC 2435 as written, or the course's dialect
/// (LF-only requests answered by line position, raw JPEG payloads; docs/architecture.md, "The
/// course's dialect"). One value decides both the talk and the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// RFC 2326 requests and replies; RFC 2435 payloads.
    Standard,
    /// The course's requests and replies; raw JPEG payloads, whole or in [`pieces`].
    Course,
}

/// The largest RTP packet the basic and HD course clients read whole (`recv(20480)`).
pub const WHOLE_MAX: usize = 20_480;
/// Payload bytes of each piece of a frame too large to leave whole (the caching server's size).
pub const PIECE: usize = 1400;
/// The course's frame rate: its basic and HD servers send a frame every 50 ms, its caching
/// client shows 20 a second, and its `movie.Mjpeg` container carries no rate of its own.
pub const FPS: f64 = 20.0;
/// A rebuilt frame larger than this is lost (bounded memory).
pub const MAX_FRAME_LEN: usize = 32 << 20;

const SOI: [u8; 2] = [0xFF, 0xD8];
const EOI: [u8; 2] = [0xFF, 0xD9];

/// The payloads of one frame as hdstream's server sends it to a course client: the whole JPEG
/// when it fits in [`WHOLE_MAX`] bytes of RTP, else pieces of at most [`PIECE`] bytes; the
/// marker goes on the last.
pub fn pieces(jpeg: &[u8]) -> std::slice::Chunks<'_, u8> {
    jpeg.chunks(piece_size(jpeg.len()))
}

/// Payload bytes in each of a `jpeg_len`-byte frame's packets but the last ([`pieces`]).
pub fn piece_size(jpeg_len: usize) -> usize {
    if jpeg_len + rtp::Header::LEN <= WHOLE_MAX {
        jpeg_len.max(1)
    } else {
        PIECE
    }
}

/// Why a frame could not be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Loss {
    /// Its first piece (the one with SOI) never arrived.
    #[error("first piece (SOI) missing")]
    MissingFirst,
    /// A sequence number inside the frame is missing.
    #[error("sequence gap inside the frame (expected {expected}, got {got})")]
    SequenceGap {
        /// The extended sequence number that should have come next.
        expected: u64,
        /// The one that came.
        got: u64,
    },
    /// The frame ended (marker, new timestamp, end of stream) without its EOI.
    #[error("last piece (EOI) missing")]
    MissingLast,
    /// Larger than [`MAX_FRAME_LEN`].
    #[error("frame larger than {MAX_FRAME_LEN} bytes")]
    TooLarge,
}

/// One rebuilt frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Frame number, counted from the first frame seen (0): the sender's frame numbering where
    /// its timestamps or sequence numbers give one.
    pub number: i64,
    /// The RTP timestamp of its packets.
    pub timestamp: u32,
    /// RTP packets it came in.
    pub packets: u32,
    /// SOI … EOI, exactly as sent.
    pub data: Vec<u8>,
}

/// What [`Depacketizer::pull`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A complete JPEG.
    Frame(Frame),
    /// A frame that cannot be rebuilt.
    Lost {
        /// Its number, as for [`Frame::number`].
        number: i64,
        /// Why.
        reason: Loss,
    },
}

/// The frame being gathered.
#[derive(Debug)]
struct Partial {
    timestamp: u32,
    first_seq: u64,
    next_seq: u64,
    packets: u32,
    data: Vec<u8>,
    broken: Option<Loss>,
}

/// The last frame finished (rebuilt or lost), for numbering the next.
#[derive(Debug, Clone, Copy)]
struct Done {
    timestamp: u32,
    first_seq: u64,
    single: bool,
    number: i64,
}

/// Rebuilds JPEGs from the course's RTP packets (any of the three senders, and ours).
///
/// Feed packets in sequence order with their extended sequence numbers (a reorder buffer
/// belongs before this). A frame ends at the marker bit, at a change of timestamp, or when a
/// new piece starts with SOI; it is complete when its bytes run from SOI to EOI with no
/// sequence number missing (the HD sender sets no marker: a frame whose bytes end in EOI is
/// complete at once — entropy-coded data cannot contain FF D9).
///
/// Frames are numbered so that the caller can count the ones of which nothing arrived: by the
/// smallest positive timestamp step seen (the HD and caching senders, ours), or, between
/// one-packet frames that share a timestamp (the basic sender's wall-clock seconds), by the
/// sequence number (which the basic sender sets to the frame number).
#[derive(Debug, Default)]
pub struct Depacketizer {
    current: Option<Partial>,
    last: Option<Done>,
    step: Option<u32>,
    outputs: VecDeque<Output>,
    spare: Vec<Vec<u8>>,
}

impl Depacketizer {
    /// A depacketizer that has seen nothing.
    pub fn new() -> Depacketizer {
        Depacketizer::default()
    }

    /// Gives a frame's buffer back for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < 2 {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// The next output, oldest first.
    pub fn pull(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The smallest positive timestamp step between frames seen so far.
    pub fn timestamp_step(&self) -> Option<u32> {
        self.step
    }

    /// Ends the stream: a frame still incomplete is reported lost.
    pub fn flush(&mut self) {
        if let Some(partial) = self.current.take() {
            self.finish(partial);
        }
    }

    /// Takes one RTP packet whose extended sequence number is `ext_seq`.
    pub fn push(&mut self, packet: &rtp::Packet<'_>, ext_seq: u64) {
        let payload = packet.payload();
        let timestamp = packet.timestamp();
        let starts_frame = payload.starts_with(&SOI);
        if let Some(partial) = self
            .current
            .take_if(|p| p.timestamp != timestamp || starts_frame)
        {
            self.finish(partial);
        }
        let mut partial = match self.current.take() {
            Some(mut partial) => {
                if ext_seq != partial.next_seq && partial.broken.is_none() {
                    partial.broken = Some(Loss::SequenceGap {
                        expected: partial.next_seq,
                        got: ext_seq,
                    });
                }
                partial
            }
            None => {
                let mut data = self.spare.pop().unwrap_or_default();
                data.clear();
                Partial {
                    timestamp,
                    first_seq: ext_seq,
                    next_seq: ext_seq,
                    packets: 0,
                    data,
                    broken: (!starts_frame).then_some(Loss::MissingFirst),
                }
            }
        };
        partial.next_seq = ext_seq + 1;
        partial.packets = partial.packets.saturating_add(1);
        if partial.broken.is_none() {
            if partial.data.len() + payload.len() > MAX_FRAME_LEN {
                partial.broken = Some(Loss::TooLarge);
                partial.data = Vec::new();
            } else {
                partial.data.extend_from_slice(payload);
            }
        }
        let complete = partial.broken.is_none() && partial.data.ends_with(&EOI);
        if packet.marker() || complete {
            self.finish(partial);
        } else {
            self.current = Some(partial);
        }
    }

    /// Ends `partial`: a frame if it runs whole from SOI to EOI, else a loss.
    fn finish(&mut self, partial: Partial) {
        let number = self.number(&partial);
        let whole = partial.data.len() >= 4
            && partial.data.starts_with(&SOI)
            && partial.data.ends_with(&EOI);
        let output = match partial.broken {
            None if whole => Output::Frame(Frame {
                number,
                timestamp: partial.timestamp,
                packets: partial.packets,
                data: partial.data,
            }),
            broken => {
                let reason = broken.unwrap_or(Loss::MissingLast);
                self.recycle(partial.data);
                Output::Lost { number, reason }
            }
        };
        self.outputs.push_back(output);
    }

    /// Numbers the frame that ends now (see the type's documentation).
    fn number(&mut self, partial: &Partial) -> i64 {
        let single = partial.packets == 1;
        let number = match self.last {
            None => 0,
            Some(last) => {
                let frames = if partial.timestamp == last.timestamp {
                    if single && last.single {
                        i64::try_from(partial.first_seq.saturating_sub(last.first_seq))
                            .unwrap_or(1)
                            .max(1)
                    } else {
                        1
                    }
                } else {
                    let delta = partial.timestamp.wrapping_sub(last.timestamp) as i32;
                    if delta > 0 {
                        let delta = delta as u32;
                        let step = self.step.map_or(delta, |s| s.min(delta)).max(1);
                        self.step = Some(step);
                        i64::from((delta + step / 2) / step).max(1)
                    } else {
                        // A sender that went back (restarted): the next frame.
                        1
                    }
                };
                last.number + frames
            }
        };
        self.last = Some(Done {
            timestamp: partial.timestamp,
            first_seq: partial.first_seq,
            single,
            number,
        });
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(n: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend((0..len.saturating_sub(4)).map(|i| (i as u8).wrapping_add(n) & 0x7F));
        v.extend_from_slice(&EOI);
        v
    }

    fn packet(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let header = rtp::Header {
            marker,
            payload_type: 26,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 0,
        };
        let mut buf = vec![0; payload.len() + 12];
        let n = header.write(&[payload], &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// Packets as (seq, ts, marker, payload) through a depacketizer; sequence numbers taken as
    /// extended as they are.
    fn run(packets: &[(u16, u32, bool, Vec<u8>)]) -> Vec<Output> {
        let mut d = Depacketizer::new();
        for (seq, ts, marker, payload) in packets {
            let bytes = packet(*seq, *ts, *marker, payload);
            d.push(&rtp::Packet::parse(&bytes).unwrap(), u64::from(*seq));
        }
        d.flush();
        std::iter::from_fn(|| d.pull()).collect()
    }

    fn numbers(outputs: &[Output]) -> Vec<(i64, bool)> {
        outputs
            .iter()
            .map(|o| match o {
                Output::Frame(f) => (f.number, true),
                Output::Lost { number, .. } => (*number, false),
            })
            .collect()
    }

    /// A sender's packets: frames cut into `piece`-byte pieces, timestamps from `ts`.
    fn cut(
        frames: &[Vec<u8>],
        piece: usize,
        ts: impl Fn(usize) -> u32,
        marker: bool,
    ) -> Vec<(u16, u32, bool, Vec<u8>)> {
        let mut out = Vec::new();
        let mut seq = 1u16;
        for (i, f) in frames.iter().enumerate() {
            let chunks: Vec<&[u8]> = f.chunks(piece).collect();
            for (k, c) in chunks.iter().enumerate() {
                out.push((seq, ts(i), marker && k + 1 == chunks.len(), c.to_vec()));
                seq += 1;
            }
        }
        out
    }

    #[test]
    fn our_server_sends_whole_frames_when_they_fit_and_pieces_otherwise() {
        let small = jpeg(1, WHOLE_MAX - 12);
        assert_eq!(pieces(&small).count(), 1);
        let big = jpeg(2, WHOLE_MAX - 11);
        let p: Vec<&[u8]> = pieces(&big).collect();
        assert_eq!(p.len(), big.len().div_ceil(PIECE));
        assert!(p.iter().all(|p| p.len() <= PIECE));
        assert_eq!(p.concat(), big);
    }

    #[test]
    fn the_basic_sender_whole_frames_sharing_a_second_are_numbered_by_sequence() {
        let frames: Vec<Vec<u8>> = (0..6).map(|n| jpeg(n, 300)).collect();
        // Sequence = frame number (1..), timestamp = seconds: 3 frames a second here.
        let mut packets = cut(&frames, 10_000, |i| 1_700_000_000 + (i / 3) as u32, false);
        packets.remove(1); // frame 1 lost
        let out = run(&packets);
        assert_eq!(
            numbers(&out),
            [(0, true), (2, true), (3, true), (4, true), (5, true)]
        );
        let Output::Frame(f) = &out[1] else { panic!() };
        assert_eq!(f.data, frames[2]);
    }

    #[test]
    fn the_hd_sender_pieces_without_marker_end_at_eoi_or_a_new_timestamp() {
        let frames: Vec<Vec<u8>> = (0..4).map(|n| jpeg(n, 5000)).collect();
        let mut packets = cut(&frames, 1500, |i| i as u32 + 1, false);
        // A piece in the middle of frame 2 is lost: frame 2 is lost, the others are whole.
        packets.remove(9);
        let out = run(&packets);
        assert_eq!(numbers(&out), [(0, true), (1, true), (2, false), (3, true)]);
        for (o, f) in out.iter().zip(&frames) {
            if let Output::Frame(x) = o {
                assert_eq!(&x.data, f);
                assert_eq!(x.packets, 4);
            }
        }
        // The last piece of frame 1 lost: the new timestamp ends it, lost.
        let mut packets = cut(&frames, 1500, |i| i as u32 + 1, false);
        packets.remove(7);
        let out = run(&packets);
        assert_eq!(numbers(&out), [(0, true), (1, false), (2, true), (3, true)]);
        assert!(matches!(
            out[1],
            Output::Lost {
                reason: Loss::MissingLast,
                ..
            }
        ));
    }

    #[test]
    fn the_caching_sender_is_numbered_by_its_90khz_step() {
        let frames: Vec<Vec<u8>> = (0..5).map(|n| jpeg(n, 3000)).collect();
        let mut packets = cut(&frames, 1400, |i| 3000 * i as u32, true);
        // Frame 2 vanishes whole.
        packets.retain(|p| p.1 != 6000);
        let out = run(&packets);
        assert_eq!(numbers(&out), [(0, true), (1, true), (3, true), (4, true)]);
    }

    #[test]
    fn a_frame_without_its_first_piece_is_lost_once() {
        let frames: Vec<Vec<u8>> = (0..3).map(|n| jpeg(n, 3000)).collect();
        let mut packets = cut(&frames, 1400, |i| i as u32 + 1, true);
        packets.remove(3); // the first piece of frame 1
        let out = run(&packets);
        assert_eq!(numbers(&out), [(0, true), (1, false), (2, true)]);
        assert!(matches!(
            out[1],
            Output::Lost {
                reason: Loss::MissingFirst,
                ..
            }
        ));
    }

    #[test]
    fn a_truncated_whole_frame_is_lost_never_shown() {
        let f = jpeg(0, 500);
        let out = run(&[(1, 1, true, f[..400].to_vec())]);
        assert_eq!(numbers(&out), [(0, false)]);
    }

    #[test]
    fn garbage_never_panics_and_memory_stays_bounded() {
        let mut d = Depacketizer::new();
        let junk = vec![0xFFu8; 1400];
        for seq in 0..30_000u32 {
            let bytes = packet(seq as u16, 7, false, &junk);
            d.push(&rtp::Packet::parse(&bytes).unwrap(), u64::from(seq));
            while d.pull().is_some() {}
        }
        d.flush();
        assert!(matches!(d.pull(), Some(Output::Lost { .. })));
    }
}
