//! Outgoing UDP datagrams, batched: the core writes every RTP and RTCP message
//! ([`crate::transmit::Transmit`]) straight into one preallocated buffer
//! ([`Batch::buffer`], [`Batch::commit`]), and the buffer leaves in one `sendmmsg(2)` when it
//! is full and at the end of each transmit pass, instead of one `sendto(2)` per packet.
//!
//! A message of several datagrams for one destination, all of one size but the last (which
//! may be shorter) — the core builds them so: a session's burst of RFC 2435 fragments
//! (RFC 2435 §3.1: each fills the MTU but a frame's last) — travels as one `sendmmsg` entry
//! carrying a `UDP_SEGMENT` control message: UDP generic segmentation offload (Linux ≥ 4.18,
//! `udp(7)`). The kernel cuts such a message back into exactly those datagrams, so a receiver
//! sees what one send per packet would have sent.
//!
//! ```text
//!            message 0              message 1                   message 2
//! buffer: [ 1400 ×8 → A:5000 RTP ][ 1400 ×5 + 612 → B:6000 RTP ][ 96 → A:5001 RTCP ]
//!           ╰ one mmsghdr, UDP_SEGMENT=1400 ╯                     ╰ no cmsg ╯
//! ```
//!
//! - Order: one queue, sent front to back, so no session's packets are reordered, and RTCP
//!   (a BYE) never overtakes the RTP before it.
//! - Nothing is lost to batching. When a socket cannot take more (`EAGAIN`), what is left
//!   stays queued for the next flush, and [`Batch::room`] shrinks: the core then holds its
//!   packets (its streams wait) and the driver waits for writable readiness. A share of the
//!   buffer is kept for RTCP, so session reports and BYEs still find room while RTP waits.
//! - Another error drops that message only, as a failed `sendto` loses its datagram; the rest
//!   go on. `sendmmsg` reports an error on message *k* only as "*k* sent", so the next call
//!   starts at *k* and gets the error itself (`EAGAIN`: keep it queued; anything else: drop
//!   it). A transient error (a random netfilter drop, `ENOBUFS`) can therefore let message *k*
//!   through on that second attempt; a lasting one (no route, a reject rule) drops it. If the
//!   kernel refuses GSO itself (`EIO`: no checksum offload; `EINVAL`), GSO is turned off for
//!   good and the same datagrams are sent one by one; `EMSGSIZE` (segment over the route's
//!   MTU) splits just that message.
//! - Netfilter and tc see a GSO message as one packet: it is cut apart after them (by the
//!   device, or on loopback at the receiving socket), so rules that count packets or drop
//!   them at random act on whole runs. `HDSTREAM_NO_GSO=1` (see the driver) gives one packet
//!   per datagram again.
//!
//! [`Batch`] is the pure part (queueing, what each `sendmmsg` carries, what its result means),
//! tested with a fake system call; [`Sendmmsg`] makes the call.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;

use socket2::SockAddr;

use crate::transmit::{Room, Socket, Transmit};

/// The kernel's limit on datagrams in one GSO message (`UDP_MAX_SEGMENTS`, linux/udp.h).
pub const MAX_SEGMENTS: usize = 64;
/// Bytes in one coalesced message: under the 64 KiB of one IP packet with its headers.
pub const MAX_MESSAGE_BYTES: usize = 63 * 1024;
/// The largest UDP payload (IPv6's; the kernel refuses an IPv4 one over 65,507 bytes itself).
pub const MAX_DATAGRAM: usize = u16::MAX as usize - 8;
/// Entries one `sendmmsg(2)` call may carry (`UIO_MAXIOV`).
const MAX_CALL: usize = 1024;

/// How much a [`Batch`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of datagrams.
    pub bytes: usize,
    /// Messages (each one `sendmmsg` entry); at most 1024 (`UIO_MAXIOV`).
    pub messages: usize,
    /// Of `bytes`, what only RTCP may use.
    pub rtcp_bytes: usize,
    /// Of `messages`, what only RTCP may use.
    pub rtcp_messages: usize,
    /// Datagrams coalesced into one message at most (GSO's limit is [`MAX_SEGMENTS`]).
    pub segments: usize,
    /// Bytes of one coalesced message at most.
    pub message_bytes: usize,
}

impl Default for Limits {
    /// 512 KiB (about 370 full 1400-byte RTP packets, or 46 sessions' bursts of 8, per
    /// `sendmmsg`) in up to 512 messages, of which 16 KiB and 64 messages are kept for RTCP.
    fn default() -> Limits {
        Limits {
            bytes: 512 * 1024,
            messages: 512,
            rtcp_bytes: 16 * 1024,
            rtcp_messages: 64,
            segments: MAX_SEGMENTS,
            message_bytes: MAX_MESSAGE_BYTES,
        }
    }
}

impl Limits {
    /// Bytes and messages `socket`'s datagrams may fill.
    fn room(&self, socket: Socket) -> (usize, usize) {
        match socket {
            Socket::Rtcp => (self.bytes, self.messages),
            Socket::Rtp => (
                self.bytes.saturating_sub(self.rtcp_bytes),
                self.messages.saturating_sub(self.rtcp_messages),
            ),
        }
    }
}

/// Consecutive datagrams for one destination from one socket, end to end in the buffer, each
/// `segment` bytes but the last, which may be shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Message {
    socket: Socket,
    to: SocketAddr,
    /// Where its bytes start in the buffer.
    start: usize,
    /// All its bytes.
    len: usize,
    /// The size of each datagram but the last.
    segment: usize,
    /// Its datagrams.
    count: usize,
    /// Of those, how many have left (a message sent one datagram at a time).
    sent: usize,
    /// Sent one datagram at a time even with GSO on (the kernel refused it whole).
    split: bool,
}

impl Message {
    /// Datagrams still to send.
    fn remaining(&self) -> usize {
        self.count - self.sent
    }

    /// The bytes of datagram `i`.
    fn datagram(&self, i: usize) -> Range<usize> {
        let end = self.start + self.len;
        let start = (self.start + i * self.segment).min(end);
        start..(start + self.segment).min(end)
    }
}

/// One `sendmmsg(2)` entry: one datagram, or with `segment`, several of that size (the last
/// may be shorter) for the kernel to cut apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The destination.
    pub to: SocketAddr,
    /// Its bytes in the buffer handed to the send function alongside.
    pub bytes: Range<usize>,
    /// The `UDP_SEGMENT` size, when it carries more than one datagram.
    pub segment: Option<u16>,
    /// Datagrams it carries.
    datagrams: usize,
}

/// The system call: sends `entries` (over the buffer's bytes) from `socket`, answers how many
/// entries left, as `sendmmsg(2)` does.
pub type SendFn<'a> = dyn FnMut(Socket, &[Entry], &[u8]) -> io::Result<usize> + 'a;

/// Outgoing datagrams, queued in order and coalesced; see the module documentation.
#[derive(Debug)]
pub struct Batch {
    limits: Limits,
    /// Whether runs go out as GSO messages (else one datagram per entry).
    gso: bool,
    buf: Vec<u8>,
    messages: VecDeque<Message>,
    /// Scratch: the entries of one call.
    entries: Vec<Entry>,
    /// The socket whose `EAGAIN` stopped the last flush, while anything is queued.
    blocked: Option<Socket>,
    /// Datagrams dropped on errors other than `EAGAIN`.
    dropped: u64,
}

impl Batch {
    /// An empty batch; `gso`: coalesce runs into `UDP_SEGMENT` messages.
    pub fn new(limits: Limits, gso: bool) -> Batch {
        let limits = Limits {
            messages: limits.messages.clamp(1, MAX_CALL),
            segments: limits.segments.clamp(1, MAX_SEGMENTS),
            ..limits
        };
        Batch {
            limits,
            gso,
            buf: Vec::with_capacity(limits.bytes),
            messages: VecDeque::with_capacity(limits.messages),
            entries: Vec::with_capacity(limits.messages),
            blocked: None,
            dropped: 0,
        }
    }

    /// Whether runs still go out as GSO messages.
    pub fn gso(&self) -> bool {
        self.gso
    }

    /// Whether nothing waits to be sent.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The socket that could not take more at the last flush, while datagrams wait for it:
    /// the driver then asks for its writable readiness.
    pub fn blocked_on(&self) -> Option<Socket> {
        self.blocked
    }

    /// Datagrams dropped because the kernel refused them (as a failed `sendto` loses one).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// What the buffer takes now (after moving what is queued to its start): the core writes
    /// a message within it at the end of [`Batch::buffer`], then [`Batch::commit`]s it.
    pub fn room(&mut self) -> Room {
        self.compact();
        let left = |socket| {
            let (bytes, messages) = self.limits.room(socket);
            if self.messages.len() >= messages {
                0
            } else {
                bytes.saturating_sub(self.buf.len())
            }
        };
        Room {
            rtp_bytes: left(Socket::Rtp),
            rtcp_bytes: left(Socket::Rtcp),
            segments: self.limits.segments,
            message_bytes: self.limits.message_bytes,
        }
    }

    /// The buffer the core appends a message to.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Queues the message the core just wrote: the last `transmit.size` bytes of the buffer.
    /// A datagram over [`MAX_DATAGRAM`] could never leave: it is dropped, as the kernel would.
    pub fn commit(&mut self, transmit: Transmit) {
        let size = transmit.size.min(self.buf.len());
        let start = self.buf.len() - size;
        let segment = transmit.segment_size.unwrap_or(size);
        if segment > MAX_DATAGRAM {
            tracing::debug!(to = %transmit.destination, len = segment, "datagram too long for UDP: dropped");
            self.dropped += transmit.count() as u64;
            self.buf.truncate(start);
            return;
        }
        self.messages.push_back(Message {
            socket: transmit.socket,
            to: transmit.destination,
            start,
            len: size,
            segment,
            count: transmit.count(),
            sent: 0,
            split: false,
        });
    }

    /// Sends what is queued through `send`, front to back, until all is gone or a socket
    /// cannot take more (`EAGAIN`); answers that socket.
    pub fn flush(&mut self, send: &mut SendFn<'_>) -> Option<Socket> {
        loop {
            let Some(socket) = self.plan() else {
                self.blocked = None;
                return None;
            };
            let result = send(socket, &self.entries, &self.buf);
            match result {
                Ok(0) => {
                    // Nothing taken and no error: as good as EAGAIN.
                    self.blocked = Some(socket);
                    return self.blocked;
                }
                Ok(n) => {
                    let datagrams = self.entries.iter().take(n).map(|e| e.datagrams).sum();
                    self.consume(datagrams);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.blocked = Some(socket);
                    return self.blocked;
                }
                Err(e) => self.failed(&e),
            }
        }
    }

    /// The first entry of the last call failed with `e` (not `EAGAIN`).
    fn failed(&mut self, e: &io::Error) {
        let Some(first) = self.entries.first().cloned() else {
            return;
        };
        let gso_entry = first.segment.is_some();
        match e.raw_os_error() {
            Some(libc::EIO | libc::EINVAL) if gso_entry => {
                tracing::info!(error = %e, "UDP segmentation offload refused by the kernel: sending datagrams one by one from now on");
                self.gso = false;
            }
            Some(libc::EMSGSIZE) if gso_entry => {
                tracing::debug!(to = %first.to, error = %e, "GSO message refused: sending its datagrams one by one");
                if let Some(m) = self.messages.front_mut() {
                    m.split = true;
                }
            }
            _ => {
                // As a failed sendto loses its datagram: the peer's port closed, no route…
                tracing::debug!(to = %first.to, datagrams = first.datagrams, error = %e, "send failed: dropped");
                self.dropped += first.datagrams as u64;
                self.consume(first.datagrams);
            }
        }
    }

    /// Fills `entries` with the next call's: messages from the front that leave from the same
    /// socket. Answers that socket, or `None` when nothing is queued.
    fn plan(&mut self) -> Option<Socket> {
        self.entries.clear();
        let socket = self.messages.front()?.socket;
        let cap = self.limits.messages;
        'messages: for m in self.messages.iter().take_while(|m| m.socket == socket) {
            let remaining = m.remaining();
            let segment = u16::try_from(m.segment).ok().filter(|_| remaining > 1);
            if remaining == 1 || (self.gso && !m.split && segment.is_some()) {
                if self.entries.len() >= cap {
                    break;
                }
                let first = m.datagram(m.sent);
                self.entries.push(Entry {
                    to: m.to,
                    bytes: first.start..m.start + m.len,
                    segment,
                    datagrams: remaining,
                });
            } else {
                for i in m.sent..m.count {
                    if self.entries.len() >= cap {
                        break 'messages;
                    }
                    self.entries.push(Entry {
                        to: m.to,
                        bytes: m.datagram(i),
                        segment: None,
                        datagrams: 1,
                    });
                }
            }
        }
        Some(socket)
    }

    /// `n` datagrams from the front have left (or are dropped).
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(m) = self.messages.front_mut() else {
                break;
            };
            let remaining = m.remaining();
            if n >= remaining {
                n -= remaining;
                self.messages.pop_front();
            } else {
                m.sent += n;
                n = 0;
            }
        }
        if self.messages.is_empty() {
            self.buf.clear();
        }
    }

    /// Moves the queued bytes to the buffer's start (after a flush that left some behind).
    fn compact(&mut self) {
        let Some(offset) = self.messages.front().map(|m| m.start) else {
            self.buf.clear();
            return;
        };
        if offset == 0 {
            return;
        }
        self.buf.copy_within(offset.., 0);
        self.buf.truncate(self.buf.len() - offset);
        for m in &mut self.messages {
            m.start -= offset;
        }
    }
}

/// Whether the kernel takes `UDP_SEGMENT` on `socket` (Linux ≥ 4.18). The option is set and
/// cleared again, so only messages that carry the control message are segmented (quinn-udp
/// probes the same way).
pub fn gso_supported(socket: &impl AsRawFd) -> bool {
    let fd = socket.as_raw_fd();
    let set = |size: libc::c_int| {
        // SAFETY: `fd` is an open socket borrowed for this call; the value is a c_int that
        // lives across the call, and its size is the one passed.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_UDP,
                libc::UDP_SEGMENT,
                ptr::from_ref(&size).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    };
    let supported = set(1400);
    if supported {
        set(0);
    }
    supported
}

// SAFETY: CMSG_SPACE only computes a size from its argument.
const CONTROL_LEN: usize = unsafe { libc::CMSG_SPACE(mem::size_of::<u16>() as u32) } as usize;

/// One control message buffer, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Control([u8; CONTROL_LEN]);

/// Scratch for `sendmmsg(2)` (headers, iovecs, addresses, control messages), allocated once
/// and refilled for every call.
pub struct Sendmmsg {
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
    names: Vec<SockAddr>,
    controls: Vec<Control>,
}

impl fmt::Debug for Sendmmsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sendmmsg")
            .field("entries", &self.headers.len())
            .finish()
    }
}

impl Sendmmsg {
    /// Room for `entries` per call (at most 1024, `UIO_MAXIOV`).
    pub fn new(entries: usize) -> Sendmmsg {
        let n = entries.clamp(1, MAX_CALL);
        Sendmmsg {
            // SAFETY: an all-zero mmsghdr is valid: null pointers and zero lengths.
            headers: (0..n).map(|_| unsafe { mem::zeroed() }).collect(),
            iovecs: vec![
                libc::iovec {
                    iov_base: ptr::null_mut(),
                    iov_len: 0,
                };
                n
            ],
            names: Vec::with_capacity(n),
            controls: vec![Control([0; CONTROL_LEN]); n],
        }
    }

    /// One `sendmmsg(2)` on `socket` of the first entries (as many as there is room for), over
    /// `buf`; answers how many entries the kernel took, or the error of the first.
    pub fn send(
        &mut self,
        socket: &impl AsRawFd,
        entries: &[Entry],
        buf: &[u8],
    ) -> io::Result<usize> {
        let fd: RawFd = socket.as_raw_fd();
        let entries = &entries[..entries.len().min(self.headers.len())];
        if entries.is_empty() {
            return Ok(0);
        }
        self.names.clear();
        self.names
            .extend(entries.iter().map(|e| SockAddr::from(e.to)));
        for (iovec, entry) in self.iovecs.iter_mut().zip(entries) {
            let data = buf
                .get(entry.bytes.clone())
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            *iovec = libc::iovec {
                iov_base: data.as_ptr().cast_mut().cast(),
                iov_len: data.len(),
            };
        }
        // Element pointers come from one base pointer each, taken after the vectors were
        // filled, so none is invalidated by a later borrow of its vector.
        let iovecs = self.iovecs.as_mut_ptr();
        let controls = self.controls.as_mut_ptr();
        for (i, ((header, name), entry)) in self
            .headers
            .iter_mut()
            .zip(&self.names)
            .zip(entries)
            .enumerate()
        {
            header.msg_len = 0;
            let h = &mut header.msg_hdr;
            // sendmsg does not write through msg_name; the type is *mut for recvmsg.
            h.msg_name = name.as_ptr().cast_mut().cast();
            h.msg_namelen = name.len();
            h.msg_iov = iovecs.wrapping_add(i);
            h.msg_iovlen = 1;
            h.msg_flags = 0;
            match entry.segment {
                Some(size) => {
                    h.msg_control = controls.wrapping_add(i).cast();
                    h.msg_controllen = CONTROL_LEN as _;
                    // SAFETY: msg_control points at this entry's CONTROL_LEN =
                    // CMSG_SPACE(2) bytes, aligned for cmsghdr, so CMSG_FIRSTHDR gives a
                    // cmsghdr inside them and CMSG_DATA the two bytes after its header.
                    unsafe {
                        let c = libc::CMSG_FIRSTHDR(h);
                        (*c).cmsg_level = libc::SOL_UDP;
                        (*c).cmsg_type = libc::UDP_SEGMENT;
                        (*c).cmsg_len = libc::CMSG_LEN(mem::size_of::<u16>() as u32) as _;
                        ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), size);
                    }
                }
                None => {
                    h.msg_control = ptr::null_mut();
                    h.msg_controllen = 0;
                }
            }
        }
        // SAFETY: the first `entries.len()` headers point at addresses, iovecs and control
        // buffers owned by `self`, and iovecs over `buf`, all alive and unmoved during the
        // call; sendmmsg reads them and writes only each header's msg_len.
        let sent = unsafe {
            libc::sendmmsg(
                fd,
                self.headers.as_mut_ptr(),
                entries.len() as libc::c_uint,
                0,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transmit::Run;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A datagram of `len` bytes whose content names it.
    fn datagram(id: u8, len: usize) -> Vec<u8> {
        vec![id; len]
    }

    /// What left, datagram by datagram, as a receiver would see it.
    type Wire = Vec<(Socket, SocketAddr, Vec<u8>)>;

    /// A kernel that takes every entry and cuts GSO entries apart as Linux does.
    fn deliver(wire: &mut Wire, socket: Socket, entry: &Entry, buf: &[u8]) {
        let bytes = &buf[entry.bytes.clone()];
        match entry.segment {
            Some(size) => {
                for chunk in bytes.chunks(usize::from(size)) {
                    wire.push((socket, entry.to, chunk.to_vec()));
                }
            }
            None => wire.push((socket, entry.to, bytes.to_vec())),
        }
    }

    /// Queues `items` as the core and the driver do: consecutive RTP datagrams for one
    /// destination built into runs ([`Run`]) within [`Batch::room`], RTCP one datagram a
    /// message, each written into [`Batch::buffer`] and committed; when there is no room, a
    /// flush through `send`. Answers how many were queued before the socket refused more (the
    /// driver would then wait for writable readiness).
    fn queue(
        b: &mut Batch,
        items: &[(Socket, SocketAddr, Vec<u8>)],
        send: &mut SendFn<'_>,
    ) -> usize {
        let mut i = 0;
        while i < items.len() {
            let (socket, to, _) = items[i];
            let room = b.room();
            let room = match socket {
                Socket::Rtp => room,
                Socket::Rtcp => Room {
                    rtp_bytes: room.rtcp_bytes,
                    segments: 1,
                    ..room
                },
            };
            let mut run = Run::new(room);
            while let Some((s, t, p)) = items.get(i) {
                if (*s, *t) != (socket, to) || !run.offer(p.len()) {
                    break;
                }
                b.buffer().extend_from_slice(p);
                i += 1;
            }
            match run.transmit(socket, to) {
                Some(transmit) => b.commit(transmit),
                None => {
                    assert!(!b.is_empty(), "an empty batch has room for a datagram");
                    if b.flush(send).is_some() {
                        return i;
                    }
                }
            }
        }
        i
    }

    /// The same, with a kernel that takes everything.
    fn queue_all(b: &mut Batch, items: &[(Socket, SocketAddr, Vec<u8>)]) {
        let queued = queue(b, items, &mut |_, entries: &[Entry], _: &[u8]| {
            Ok(entries.len())
        });
        assert_eq!(queued, items.len());
    }

    /// Queued messages as (socket, destination, segment, count, len).
    fn shape(batch: &Batch) -> Vec<(Socket, u16, usize, usize, usize)> {
        batch
            .messages
            .iter()
            .map(|m| (m.socket, m.to.port(), m.segment, m.count, m.len))
            .collect()
    }

    /// A kernel that takes every entry, recording what left.
    fn kernel(wire: &mut Wire) -> impl FnMut(Socket, &[Entry], &[u8]) -> io::Result<usize> + '_ {
        move |s, entries: &[Entry], buf: &[u8]| {
            entries.iter().for_each(|e| deliver(wire, s, e, buf));
            Ok(entries.len())
        }
    }

    /// Flushes `b` through a kernel that takes everything: what left, and each entry's
    /// `UDP_SEGMENT` size.
    fn flush_segments(b: &mut Batch) -> (Wire, Vec<Option<u16>>) {
        let mut wire = Wire::new();
        let mut segments = Vec::new();
        b.flush(&mut |s, entries: &[Entry], buf: &[u8]| {
            segments.extend(entries.iter().map(|e| e.segment));
            entries.iter().for_each(|e| deliver(&mut wire, s, e, buf));
            Ok(entries.len())
        });
        (wire, segments)
    }

    #[test]
    fn a_committed_run_is_one_message_of_its_segments() {
        let mut b = Batch::new(Limits::default(), true);
        let a = addr(5000);
        let mut packets: Vec<_> = (0..5)
            .map(|i| (Socket::Rtp, a, datagram(i, 1400)))
            .collect();
        packets.push((Socket::Rtp, a, datagram(5, 600)));
        packets.push((Socket::Rtp, a, datagram(6, 1400)));
        packets.push((Socket::Rtcp, addr(5001), datagram(7, 80)));
        packets.push((Socket::Rtcp, addr(5001), datagram(8, 80)));
        queue_all(&mut b, &packets);
        assert_eq!(
            shape(&b),
            [
                (Socket::Rtp, 5000, 1400, 6, 5 * 1400 + 600),
                (Socket::Rtp, 5000, 1400, 1, 1400),
                (Socket::Rtcp, 5001, 80, 1, 80),
                (Socket::Rtcp, 5001, 80, 1, 80),
            ]
        );
        let (wire, entries_seen) = flush_segments(&mut b);
        assert_eq!(entries_seen, [Some(1400), None, None, None]);
        assert_eq!(wire, packets);
    }

    #[test]
    fn without_gso_a_run_leaves_one_datagram_per_entry() {
        let mut b = Batch::new(Limits::default(), false);
        let packets: Wire = (0..5)
            .map(|i| (Socket::Rtp, addr(5000), datagram(i, 1400)))
            .collect();
        queue_all(&mut b, &packets);
        assert_eq!(shape(&b).len(), 1, "one message");
        let (wire, entries_seen) = flush_segments(&mut b);
        assert_eq!(entries_seen, [None; 5]);
        assert_eq!(wire, packets);
    }

    #[test]
    fn empty_datagrams_travel_alone() {
        let mut b = Batch::new(Limits::default(), true);
        let a = addr(5000);
        queue_all(
            &mut b,
            &[
                (Socket::Rtp, a, datagram(0, 100)),
                (Socket::Rtp, a, Vec::new()),
                (Socket::Rtp, a, Vec::new()),
            ],
        );
        assert_eq!(shape(&b).len(), 3);
        let mut wire = Wire::new();
        b.flush(&mut kernel(&mut wire));
        assert_eq!(
            wire.iter().map(|w| w.2.len()).collect::<Vec<_>>(),
            [100, 0, 0]
        );
    }

    /// Sessions interleaved as the core sends them: bursts of equal packets, a short last
    /// fragment, RTCP between.
    fn traffic() -> Wire {
        let mut out = Wire::new();
        let mut id = 0u8;
        for round in 0..6 {
            for session in 0..5u16 {
                let to = addr(5000 + 2 * session);
                for k in 0..8 {
                    id = id.wrapping_add(1);
                    let len = if k == 7 && round % 2 == 1 { 300 } else { 1400 };
                    out.push((Socket::Rtp, to, datagram(id, len)));
                }
                if round == 3 {
                    id = id.wrapping_add(1);
                    out.push((Socket::Rtcp, addr(5001 + 2 * session), datagram(id, 80)));
                }
            }
        }
        out
    }

    #[test]
    fn a_flush_delivers_every_datagram_in_order_with_its_size() {
        for gso in [true, false] {
            let mut b = Batch::new(Limits::default(), gso);
            let sent = traffic();
            let mut wire = Wire::new();
            let mut calls = 0;
            let mut send = |s, entries: &[Entry], buf: &[u8]| {
                calls += 1;
                entries.iter().for_each(|e| deliver(&mut wire, s, e, buf));
                Ok(entries.len())
            };
            assert_eq!(queue(&mut b, &sent, &mut send), sent.len());
            b.flush(&mut send);
            assert_eq!(wire, sent, "gso {gso}");
            assert!(b.is_empty());
            // One call per run of datagrams from one socket, not one per datagram.
            let runs = 1 + sent.windows(2).filter(|w| w[0].0 != w[1].0).count();
            assert_eq!(calls, runs, "gso {gso}");
        }
    }

    #[test]
    fn a_full_buffer_is_sent_and_refilled_in_order() {
        let limits = Limits {
            bytes: 20_000,
            messages: 8,
            rtcp_bytes: 1000,
            rtcp_messages: 2,
            ..Limits::default()
        };
        for gso in [true, false] {
            let mut b = Batch::new(limits, gso);
            let sent = traffic();
            let mut wire = Wire::new();
            let mut send = kernel(&mut wire);
            assert_eq!(queue(&mut b, &sent, &mut send), sent.len());
            b.flush(&mut send);
            drop(send);
            assert_eq!(wire, sent, "gso {gso}");
        }
    }

    #[test]
    fn partial_sends_and_eagain_keep_the_rest_queued_in_order() {
        let limits = Limits {
            bytes: 30_000,
            messages: 16,
            rtcp_bytes: 2000,
            rtcp_messages: 4,
            ..Limits::default()
        };
        for gso in [true, false] {
            let mut b = Batch::new(limits, gso);
            let sent = traffic();
            let mut wire = Wire::new();
            // The kernel takes at most 3 entries per call, and every other call finds the
            // socket full.
            let mut call = 0;
            let mut refused = 0;
            let mut i = 0;
            while i < sent.len() {
                i += queue(
                    &mut b,
                    &sent[i..],
                    &mut |s, entries: &[Entry], buf: &[u8]| {
                        call += 1;
                        if call % 2 == 0 {
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        let n = entries.len().min(3);
                        entries[..n]
                            .iter()
                            .for_each(|e| deliver(&mut wire, s, e, buf));
                        Ok(n)
                    },
                );
                if i < sent.len() {
                    // Blocked: the driver waits for writable readiness, then flushes first.
                    refused += 1;
                    assert!(b.blocked_on().is_some());
                    b.flush(&mut |s, entries: &[Entry], buf: &[u8]| {
                        let n = entries.len().min(3);
                        entries[..n]
                            .iter()
                            .for_each(|e| deliver(&mut wire, s, e, buf));
                        Ok(n)
                    });
                }
            }
            while b
                .flush(&mut |s, entries: &[Entry], buf: &[u8]| {
                    call += 1;
                    if call % 2 == 0 {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    entries.iter().for_each(|e| deliver(&mut wire, s, e, buf));
                    Ok(entries.len())
                })
                .is_some()
            {}
            assert!(refused > 0, "the batch did fill up (gso {gso})");
            assert_eq!(wire, sent, "gso {gso}");
            assert_eq!(b.dropped(), 0);
            assert!(b.is_empty() && b.blocked_on().is_none());
        }
    }

    #[test]
    fn a_blocked_full_batch_has_no_room_for_rtp_and_keeps_room_for_rtcp() {
        let limits = Limits {
            bytes: 10_000,
            messages: 8,
            rtcp_bytes: 1000,
            rtcp_messages: 2,
            ..Limits::default()
        };
        let mut b = Batch::new(limits, false);
        let calls = std::cell::Cell::new(0);
        let mut eagain = |_: Socket, _: &[Entry], _: &[u8]| {
            calls.set(calls.get() + 1);
            Err(io::ErrorKind::WouldBlock.into())
        };
        let rtp: Wire = (0..10)
            .map(|i| (Socket::Rtp, addr(5000 + 2 * i), datagram(1, 1400)))
            .collect();
        assert_eq!(
            queue(&mut b, &rtp, &mut eagain),
            6,
            "9000 bytes of RTP room"
        );
        assert_eq!(calls.get(), 1, "one flush, refused");
        assert_eq!(b.blocked_on(), Some(Socket::Rtp));
        assert!(b.room().rtp_bytes < 1400);
        // RTCP still finds its share.
        let rtcp: Wire = (0..2)
            .map(|i| (Socket::Rtcp, addr(5001 + 2 * i), datagram(2, 100)))
            .collect();
        assert_eq!(queue(&mut b, &rtcp, &mut eagain), 2);
        assert_eq!(calls.get(), 1, "no send needed for them");
        assert_eq!(b.room().rtcp_bytes, 0, "out of RTCP messages too");
        assert_eq!(b.dropped(), 0);
    }

    #[test]
    fn an_error_on_one_message_drops_it_alone() {
        let a = addr(5000);
        let unreachable = addr(6000);
        let sent: Wire = vec![
            (Socket::Rtp, a, datagram(1, 1400)),
            (Socket::Rtp, a, datagram(2, 1400)),
            (Socket::Rtp, unreachable, datagram(3, 1400)),
            (Socket::Rtp, unreachable, datagram(4, 1400)),
            (Socket::Rtp, a, datagram(5, 1400)),
        ];
        for gso in [true, false] {
            let mut b = Batch::new(Limits::default(), gso);
            queue_all(&mut b, &sent);
            let mut wire = Wire::new();
            // As sendmmsg: the entries before the failing one are reported sent; the next
            // call starting at it gets the error.
            b.flush(&mut |s, entries: &[Entry], buf: &[u8]| {
                let ok = entries.iter().take_while(|e| e.to != unreachable).count();
                if ok == 0 {
                    return Err(io::Error::from_raw_os_error(libc::EHOSTUNREACH));
                }
                entries[..ok]
                    .iter()
                    .for_each(|e| deliver(&mut wire, s, e, buf));
                Ok(ok)
            });
            let expected: Wire = [&sent[..2], &sent[4..]].concat();
            assert_eq!(wire, expected, "gso {gso}");
            assert_eq!(b.dropped(), 2);
            assert!(b.is_empty());
        }
    }

    #[test]
    fn gso_refused_by_the_kernel_turns_it_off_and_loses_nothing() {
        let mut b = Batch::new(Limits::default(), true);
        let sent = traffic();
        queue_all(&mut b, &sent[..20]);
        let mut wire = Wire::new();
        let mut send = |s, entries: &[Entry], buf: &[u8]| {
            if entries[0].segment.is_some() {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            entries.iter().for_each(|e| deliver(&mut wire, s, e, buf));
            Ok(entries.len())
        };
        assert_eq!(b.flush(&mut send), None);
        assert!(!b.gso());
        assert_eq!(queue(&mut b, &sent[20..], &mut send), sent.len() - 20);
        b.flush(&mut send);
        assert_eq!(wire, sent);
        assert_eq!(b.dropped(), 0);
    }

    #[test]
    fn a_message_over_the_route_mtu_is_split_and_gso_stays_on() {
        let mut b = Batch::new(Limits::default(), true);
        let (a, c) = (addr(5000), addr(6000));
        let sent: Wire = vec![
            (Socket::Rtp, a, datagram(1, 1400)),
            (Socket::Rtp, a, datagram(2, 1400)),
            (Socket::Rtp, c, datagram(3, 1400)),
            (Socket::Rtp, c, datagram(4, 1400)),
        ];
        queue_all(&mut b, &sent);
        let mut wire = Wire::new();
        b.flush(&mut |s, entries: &[Entry], buf: &[u8]| {
            if entries[0].segment.is_some() && entries[0].to == a {
                return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
            }
            entries.iter().for_each(|e| deliver(&mut wire, s, e, buf));
            Ok(entries.len())
        });
        assert_eq!(wire, sent);
        assert!(b.gso());
    }

    #[test]
    fn compaction_after_a_partial_send_keeps_every_byte() {
        let limits = Limits {
            bytes: 8000,
            messages: 8,
            rtcp_bytes: 0,
            rtcp_messages: 0,
            ..Limits::default()
        };
        let mut b = Batch::new(limits, false);
        let sent: Wire = (0..12)
            .map(|i| {
                (
                    Socket::Rtp,
                    addr(5000 + i),
                    datagram(i as u8, 1000 + usize::from(i)),
                )
            })
            .collect();
        let mut wire = Wire::new();
        let mut one = |s, entries: &[Entry], buf: &[u8]| {
            deliver(&mut wire, s, &entries[0], buf);
            Ok(1)
        };
        assert_eq!(queue(&mut b, &sent, &mut one), sent.len());
        b.flush(&mut one);
        assert_eq!(wire, sent);
    }

    #[test]
    fn too_long_datagrams_are_dropped_not_blocking() {
        let mut b = Batch::new(Limits::default(), true);
        b.buffer().extend_from_slice(&[0; 100]);
        b.buffer().resize(100 + MAX_DATAGRAM + 1, 0);
        b.commit(Transmit {
            socket: Socket::Rtp,
            destination: addr(5000),
            size: MAX_DATAGRAM + 1,
            segment_size: None,
        });
        assert_eq!(b.dropped(), 1);
        assert_eq!(b.buffer().len(), 100, "its bytes are taken back");
        assert!(b.is_empty());
    }

    /// The real system call on loopback: GSO messages arrive as the separate datagrams.
    #[test]
    fn sendmmsg_on_loopback_delivers_separate_datagrams() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let to = receiver.local_addr().expect("addr");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        for gso in [gso_supported(&sender), false] {
            let mut b = Batch::new(Limits::default(), gso);
            let mut call = Sendmmsg::new(Limits::default().messages);
            let mut segmented = 0;
            let mut send = |_: Socket, entries: &[Entry], buf: &[u8]| {
                segmented += entries.iter().filter(|e| e.segment.is_some()).count();
                call.send(&sender, entries, buf)
            };
            let sent: Vec<Vec<u8>> = (0..20u8)
                .map(|i| datagram(i, if i % 8 == 7 { 333 } else { 1372 }))
                .collect();
            let items: Wire = sent.iter().map(|p| (Socket::Rtp, to, p.clone())).collect();
            assert_eq!(queue(&mut b, &items, &mut send), items.len());
            assert_eq!(b.flush(&mut send), None);
            assert_eq!(segmented > 0, gso, "GSO messages sent when GSO is on");
            assert_eq!(b.gso(), gso, "the kernel took them");
            let mut buf = vec![0; 65536];
            for p in &sent {
                let n = receiver.recv(&mut buf).expect("datagram");
                assert_eq!(&buf[..n], &p[..], "gso {gso}");
            }
        }
    }
}
