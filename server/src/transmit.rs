//! What the core hands the driver to send over UDP, as quinn's `poll_transmit` does: the core
//! writes one message — one datagram, or a run of datagrams for one destination all of one size
//! but the last (which may be shorter) — at the end of the driver's buffer and describes it in a
//! [`Transmit`]; the driver sends it as is, a run as one UDP GSO message (`UDP_SEGMENT`,
//! `udp(7)`), or one datagram at a time where the kernel offers no GSO.
//!
//! [`Room`] is what the driver's buffer can take now, and the limits of one message.

use std::net::SocketAddr;

/// Which server UDP socket a datagram leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socket {
    /// The RTP socket.
    Rtp,
    /// The RTCP socket.
    Rtcp,
}

/// One message the core wrote at the end of the driver's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The socket it leaves from.
    pub socket: Socket,
    /// Where it goes.
    pub destination: SocketAddr,
    /// Bytes written: the last `size` bytes of the buffer.
    pub size: usize,
    /// With several datagrams, the size of each but the last (which may be shorter); `None`
    /// for one datagram.
    pub segment_size: Option<usize>,
}

impl Transmit {
    /// Its datagrams, given its bytes.
    pub fn datagrams<'a>(&self, bytes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let size = self.segment_size.unwrap_or(bytes.len()).max(1);
        let empty = bytes.is_empty().then_some(bytes);
        bytes.chunks(size).chain(empty)
    }

    /// How many datagrams it carries.
    pub fn count(&self) -> usize {
        match self.segment_size {
            Some(s) if s > 0 => self.size.div_ceil(s),
            _ => 1,
        }
    }
}

/// What the driver's buffer takes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Bytes an RTP message may add.
    pub rtp_bytes: usize,
    /// Bytes an RTCP message may add (RTCP has room kept for it, so reports and BYEs leave
    /// while RTP waits for the socket).
    pub rtcp_bytes: usize,
    /// Datagrams in one message at most (`UDP_MAX_SEGMENTS` = 64 with GSO).
    pub segments: usize,
    /// Bytes in one message at most (under 64 KiB, one IP packet, with GSO).
    pub message_bytes: usize,
}

/// Builds one run as a stream's packets are offered: the first sets the segment size; a packet
/// longer than it, or any after a shorter one, or one beyond the room, ends the run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    room: Room,
    /// Bytes taken.
    pub size: usize,
    /// Datagrams taken.
    pub count: usize,
    segment: usize,
    closed: bool,
}

impl Run {
    /// An empty run within `room`.
    pub fn new(room: Room) -> Run {
        Run {
            room,
            size: 0,
            count: 0,
            segment: 0,
            closed: false,
        }
    }

    /// Takes a `len`-byte datagram if it belongs to the run.
    pub fn offer(&mut self, len: usize) -> bool {
        let fits = self.size + len <= self.room.rtp_bytes.min(self.room.message_bytes)
            && self.count < self.room.segments;
        let joins = self.count == 0 || (!self.closed && len > 0 && len <= self.segment);
        if !(fits && joins) {
            return false;
        }
        if self.count == 0 {
            self.segment = len;
            self.closed = len == 0;
        } else if len < self.segment {
            self.closed = true;
        }
        self.size += len;
        self.count += 1;
        true
    }

    /// The message taken, for `destination` from `socket`; `None` if empty.
    pub fn transmit(&self, socket: Socket, destination: SocketAddr) -> Option<Transmit> {
        (self.count > 0).then(|| Transmit {
            socket,
            destination,
            size: self.size,
            segment_size: (self.count > 1).then_some(self.segment),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        Room {
            rtp_bytes: 512 * 1024,
            rtcp_bytes: 512 * 1024,
            segments: 64,
            message_bytes: 63 * 1024,
        }
    }

    fn runs(room: Room, lens: &[usize]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut run = Run::new(room);
        for &len in lens {
            if !run.offer(len) {
                out.push((run.count, run.size));
                run = Run::new(room);
                assert!(run.offer(len), "a fresh run takes {len}");
            }
        }
        out.push((run.count, run.size));
        out
    }

    #[test]
    fn equal_datagrams_run_together_and_a_shorter_one_ends_the_run() {
        assert_eq!(
            runs(room(), &[1400, 1400, 1400, 600, 1400, 1400]),
            [(4, 4800), (2, 2800)]
        );
        assert_eq!(runs(room(), &[1000, 1400]), [(1, 1000), (1, 1400)]);
        assert_eq!(runs(room(), &[100, 0, 0]), [(1, 100), (1, 0), (1, 0)]);
    }

    #[test]
    fn segment_byte_and_room_caps_end_a_run() {
        let capped = Room {
            segments: 4,
            message_bytes: 10_000,
            ..room()
        };
        assert_eq!(runs(capped, &[1000; 10]), [(4, 4000), (4, 4000), (2, 2000)]);
        assert_eq!(
            runs(capped, &[3000; 10]),
            [(3, 9000), (3, 9000), (3, 9000), (1, 3000)]
        );
        assert_eq!(runs(room(), &[500; 100])[0].0, 64);
        assert!(runs(room(), &[1400; 100]).iter().all(|r| r.1 < 64 * 1024));
        let full = Room {
            rtp_bytes: 100,
            ..room()
        };
        assert!(!Run::new(full).offer(101));
    }

    #[test]
    fn a_transmit_splits_back_into_its_datagrams() {
        let to = SocketAddr::from(([127, 0, 0, 1], 5000));
        let mut run = Run::new(room());
        for len in [3, 3, 2] {
            assert!(run.offer(len));
        }
        let t = run.transmit(Socket::Rtp, to).unwrap();
        assert_eq!((t.size, t.segment_size, t.count()), (8, Some(3), 3));
        let bytes = [1, 1, 1, 2, 2, 2, 3, 3];
        let datagrams: Vec<&[u8]> = t.datagrams(&bytes).collect();
        assert_eq!(datagrams, [&[1, 1, 1][..], &[2, 2, 2], &[3, 3]]);
        let one = Transmit {
            segment_size: None,
            size: 0,
            ..t
        };
        assert_eq!(one.datagrams(&[]).count(), 1, "an empty datagram is one");
        assert_eq!(Run::new(room()).transmit(Socket::Rtp, to), None);
    }
}
