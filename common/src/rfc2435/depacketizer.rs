//! Reassembling JPEG frames from RTP packets (RFC 2435 §3, §4, Appendices A and B).

use std::collections::VecDeque;

use super::conceal::{self, Chunks, Concealed, Key, Reference};
use super::header::{MAX_SCAN_LEN, MainHeader, Payload, RestartHeader};
use super::jpeg::{EOI, set_size};
use super::scan::{Measured, Sizing};
use super::tables::quantization_tables;
use super::{Error, Frame, Subsampling};
use crate::rtp;

/// Room for the rebuilt headers (SOI..SOS with two 16-bit tables: under 800 bytes) and EOI.
const HEADERS_ROOM: usize = 1024;

/// Default cap on a rebuilt JPEG: the largest scan data the 24-bit fragment offset can address
/// (16 MiB) plus the headers.
pub const DEFAULT_MAX_FRAME_LEN: usize = MAX_SCAN_LEN + HEADERS_ROOM;

/// Spare frame buffers kept for reuse.
const MAX_SPARE_BUFFERS: usize = 2;

/// Outputs kept for [`Depacketizer::pull`]; the oldest goes when a caller stops pulling.
const MAX_QUEUED_OUTPUTS: usize = 8;

/// Why a frame was lost: it is reported once, by RTP timestamp, and never returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Loss {
    /// The packet at fragment offset 0 never arrived: the frame began mid-way.
    #[error("first fragment (offset 0) missing")]
    MissingFirst,
    /// A fragment's offset is not where the previous one ended (a fragment in between is gone).
    #[error("fragment offset {got}, expected {expected}")]
    OffsetGap {
        /// Scan bytes received so far.
        expected: u32,
        /// The fragment offset of the packet that arrived.
        got: u32,
    },
    /// The sequence number skipped inside the frame (a packet lost or reordered).
    #[error("sequence number {got}, expected {expected}")]
    SequenceGap {
        /// One past the previous packet's sequence number.
        expected: u16,
        /// The packet's sequence number.
        got: u16,
    },
    /// The packet with the marker bit never arrived: the timestamp changed, or the stream ended.
    #[error("last fragment (marker bit) missing")]
    MissingLast,
    /// Type, Q, width, height or restart interval changed between packets of one frame.
    #[error("type, Q, size or restart interval changed within the frame")]
    HeaderMismatch,
    /// The payload headers are cut short.
    #[error("malformed payload: {0}")]
    Malformed(Error),
    /// A type other than 0, 1, 64 and 65 (§3.1.3, §4.1).
    #[error("unsupported type {0}")]
    UnsupportedType(u8),
    /// Q 0 or 100..=127: reserved (§3.1.4).
    #[error("reserved Q {0}")]
    ReservedQ(u8),
    /// Width or height 0 in the header and no size from `a=x-dimensions`.
    #[error("zero width or height and no x-dimensions")]
    UnknownDimensions,
    /// The quantization table header's Length does not match its Precision (§3.1.8).
    #[error("quantization table length {got}, expected {expected}")]
    QuantTableLength {
        /// Two tables of 64 or 128 bytes, per Precision.
        expected: u16,
        /// The Length field.
        got: u16,
    },
    /// Q >= 128 with no tables in band and none cached for this Q (always so for Q = 255).
    #[error("no quantization tables for Q {0}")]
    MissingQuantTables(u8),
    /// Restart intervals were lost and cannot be concealed: no earlier frame of the same
    /// size, type, tables and restart interval to take them from, or none of the frame's own
    /// arrived whole (§3.1.7).
    #[error("restart intervals lost, none to take their place")]
    IntervalsLost,
    /// The frame grows past 16 MiB of scan data or the configured maximum frame size.
    #[error("frame larger than {max} bytes")]
    TooLarge {
        /// The cap it ran into.
        max: usize,
    },
}

/// One reassembled frame: a complete baseline JPEG, headers rebuilt (§4, Appendix B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jpeg {
    /// RTP timestamp of the frame's packets.
    pub timestamp: u32,
    /// Width in pixels, as written in the SOF0.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Sequence number of the frame's first packet (offset 0).
    pub first_sequence_number: u16,
    /// Sequence number of the frame's last packet (marker bit).
    pub last_sequence_number: u16,
    /// SOI .. EOI. Hand the vector back with [`Depacketizer::recycle`] to reuse its memory.
    pub data: Vec<u8>,
    /// Set when packets were lost and the frame is shown anyway, the lost restart intervals
    /// taken from the frame before ([`Depacketizer::set_conceal`]).
    pub concealed: Option<Concealed>,
}

/// What [`Depacketizer::pull`] hands out: a frame, or the news that one was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A complete frame.
    Frame(Jpeg),
    /// A frame that cannot be rebuilt; its packets are discarded.
    Lost {
        /// RTP timestamp of the frame.
        timestamp: u32,
        /// Why.
        reason: Loss,
    },
}

/// Quantization tables received in band for one Q of 128..=254, kept for frames that send
/// Length = 0 (§3.1.8).
#[derive(Debug, Clone)]
struct CachedTables {
    q: u8,
    /// Luma table length (64 or 128).
    luma_len: usize,
    /// Both tables back to back.
    tables: Vec<u8>,
}

/// The frame being assembled.
#[derive(Debug)]
struct Assembly {
    timestamp: u32,
    /// The first packet's main header (offset aside, every packet must match it).
    main: MainHeader,
    restart_interval: Option<u16>,
    width: u16,
    height: u16,
    first_sequence_number: u16,
    last_sequence_number: u16,
    /// Where the scan data starts in `buf`.
    scan_start: usize,
    /// Rebuilt headers, then the scan data received so far.
    buf: Vec<u8>,
    /// With concealment on and fragments aligned with restart intervals: the frame gathered
    /// as runs of whole intervals, so that losing a fragment loses only its run.
    chunks: Option<Chunks>,
}

impl Assembly {
    fn key(&self) -> Key {
        Key {
            jpeg_type: self.main.jpeg_type,
            q: self.main.q,
            width: self.width,
            height: self.height,
            restart_interval: self.restart_interval.unwrap_or(0),
        }
    }
}

/// Reassembles RFC 2435 frames from RTP packets of one SSRC.
///
/// Feed packets in sequence-number order with [`push`](Self::push), then call
/// [`pull`](Self::pull) until it returns `None` (each push makes at most two outputs). Every
/// frame seen (a run of packets with one RTP timestamp, or — for a sender that stamps every frame
/// alike — up to the next packet at fragment offset 0) yields exactly one output: the rebuilt
/// JPEG, or [`Output::Lost`] with the reason, as soon as the loss is certain. A frame is never
/// returned with a fragment missing; a frame none of whose packets arrived is never heard of.
///
/// Packets must arrive in order (a reordering jitter buffer belongs before this): a packet whose
/// sequence number is not one past the previous one of the same frame loses the frame; an exact
/// duplicate of the previous packet is ignored, and so are stray packets of the frame that was
/// just finished or lost.
///
/// With [`set_conceal`](Self::set_conceal) and a sender that aligns fragments with restart
/// intervals (§3.1.7), a frame that lost fragments is still returned when the frame before it
/// can stand in for the lost intervals, marked [`Jpeg::concealed`].
///
/// Memory is bounded: one frame buffer, capped at [`DEFAULT_MAX_FRAME_LEN`] or
/// [`set_max_frame_len`](Self::set_max_frame_len); up to two spare buffers; cached tables for
/// at most 127 Q values; at most eight queued outputs; with concealment, one copy of the last
/// frame.
#[derive(Debug)]
pub struct Depacketizer {
    dimensions: Option<(u16, u16)>,
    max_frame_len: usize,
    current: Option<Assembly>,
    /// Timestamp of the frame last returned or reported lost, and the newest sequence number
    /// seen of it.
    last_done: Option<(u32, u16)>,
    outputs: VecDeque<Output>,
    spare: Vec<Vec<u8>>,
    cached_tables: Vec<CachedTables>,
    ignored: u64,
    conceal: bool,
    reference: Reference,
    /// Sizes learned from scans, for senders that wrap sizes over 2040 pixels.
    sizing: Sizing,
}

impl Default for Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Depacketizer {
    /// A depacketizer with no known dimensions and the default frame cap.
    pub fn new() -> Depacketizer {
        Depacketizer {
            dimensions: None,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            current: None,
            last_done: None,
            outputs: VecDeque::new(),
            spare: Vec::new(),
            cached_tables: Vec::new(),
            ignored: 0,
            conceal: false,
            reference: Reference::default(),
            sizing: Sizing::default(),
        }
    }

    /// Conceals lost restart intervals (§3.1.7): off by default. When on and the sender aligns
    /// fragments with restart intervals, a frame missing fragments is returned with each lost
    /// interval taken from the frame returned before it (same size, type, tables and restart
    /// interval), marked [`Jpeg::concealed`]; frames without restart markers are still lost.
    pub fn set_conceal(&mut self, on: bool) {
        self.conceal = on;
        if !on {
            self.reference = Reference::default();
        }
    }

    /// The size from SDP `a=x-dimensions:W,H`: used for frames whose header says width or
    /// height 0 (over 2040 pixels), and to keep an exact size that is not a multiple of 8 when
    /// the header's 8-pixel units agree with it. A 0 clears it.
    pub fn set_dimensions(&mut self, width: u16, height: u16) {
        self.dimensions = (width != 0 && height != 0).then_some((width, height));
    }

    /// Caps the size of a rebuilt JPEG (headers included); larger frames are lost as
    /// [`Loss::TooLarge`]. At most [`DEFAULT_MAX_FRAME_LEN`].
    pub fn set_max_frame_len(&mut self, max: usize) {
        self.max_frame_len = max.min(DEFAULT_MAX_FRAME_LEN);
    }

    /// Packets ignored so far: duplicates and stray packets of an already finished frame.
    pub fn ignored_packets(&self) -> u64 {
        self.ignored
    }

    /// Gives a frame's buffer back for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && buf.capacity() <= self.max_frame_len {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// The next output, oldest first.
    pub fn pull(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Ends the stream: a frame still waiting for its marker is reported lost.
    pub fn flush(&mut self) {
        if let Some(assembly) = self.current.take() {
            self.end_early(assembly);
        }
    }

    /// Takes one RTP packet (of the JPEG stream's SSRC, in sequence order).
    pub fn push(&mut self, packet: &rtp::Packet<'_>) {
        let timestamp = packet.timestamp();
        let sequence_number = packet.sequence_number();
        // A packet with fragment offset 0 that is newer than the frame in hand starts a new
        // frame even under the same timestamp: a sender that stamps no time (every frame one
        // timestamp) still ends each frame with its marker.
        let starts_frame = |after: u16| {
            packet.payload().get(1..4) == Some(&[0, 0, 0][..])
                && rtp::sequence_delta(sequence_number, after) > 0
        };
        if let Some((done, seen)) = self.last_done
            && done == timestamp
            && !starts_frame(seen)
            && self
                .current
                .as_ref()
                .is_none_or(|a| a.timestamp != timestamp)
        {
            if rtp::sequence_delta(sequence_number, seen) > 0 {
                self.last_done = Some((done, sequence_number));
            }
            self.ignored += 1;
            return;
        }
        if let Some(assembly) = self
            .current
            .take_if(|a| a.timestamp != timestamp || starts_frame(a.last_sequence_number))
        {
            self.end_early(assembly);
        }
        if self
            .current
            .as_ref()
            .is_some_and(|a| a.last_sequence_number == sequence_number)
        {
            // A duplicate of the packet just taken (RFC 3550 allows the network to duplicate).
            self.ignored += 1;
            return;
        }
        let payload = match Payload::parse(packet.payload()) {
            Ok(payload) => payload,
            Err(e) => {
                // Any frame in progress has this timestamp: the one of another went above.
                if let Some(assembly) = self.current.take() {
                    self.recycle(assembly.buf);
                }
                return self.lose(timestamp, sequence_number, Loss::Malformed(e));
            }
        };
        let result = match self.current.take() {
            Some(assembly) => self.continue_frame(assembly, sequence_number, &payload),
            None => self.start_frame(timestamp, sequence_number, &payload),
        };
        match result {
            Ok(assembly) if packet.marker() => self.finish(assembly),
            Ok(assembly) => self.current = Some(assembly),
            Err(reason) => self.lose(timestamp, sequence_number, reason),
        }
    }

    fn start_frame(
        &mut self,
        timestamp: u32,
        sequence_number: u16,
        payload: &Payload<'_>,
    ) -> Result<Assembly, Loss> {
        let main = payload.main;
        if main.fragment_offset != 0 && !self.aligned(payload) {
            return Err(Loss::MissingFirst);
        }
        let subsampling = Subsampling::from_rtp_type(main.jpeg_type)
            .ok_or(Loss::UnsupportedType(main.jpeg_type))?;
        let (width, height) = self.frame_size(&main)?;
        let restart_interval = payload.restart.map(|r| r.restart_interval);
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        let mut assembly = Assembly {
            timestamp,
            main,
            restart_interval,
            width,
            height,
            first_sequence_number: sequence_number,
            last_sequence_number: sequence_number,
            scan_start: 0,
            buf,
            chunks: self.aligned(payload).then(Chunks::new),
        };
        let written = if main.fragment_offset == 0 {
            self.write_headers(&mut assembly, subsampling, payload)
        } else {
            // The first fragment is lost: the frame can only be concealed, with the headers
            // of the frame it takes intervals from.
            match self.reference.headers(assembly.key()) {
                Some(headers) => {
                    assembly.buf.extend_from_slice(headers);
                    assembly.scan_start = headers.len();
                    Ok(())
                }
                None => Err(Loss::MissingFirst),
            }
        };
        match written.and_then(|()| self.add(&mut assembly, sequence_number, payload)) {
            Ok(()) => Ok(assembly),
            Err(loss) => {
                self.recycle(assembly.buf);
                Err(loss)
            }
        }
    }

    /// Whether `payload` is a fragment aligned with restart intervals and concealment is on.
    fn aligned(&self, payload: &Payload<'_>) -> bool {
        self.conceal
            && payload
                .restart
                .is_some_and(|r| r.restart_count != RestartHeader::UNALIGNED_COUNT)
    }

    /// Adds a fragment's data to the frame: appended, or with restart runs (§3.1.7) where its
    /// run says (a run that lost a fragment is dropped).
    fn add(
        &self,
        assembly: &mut Assembly,
        sequence_number: u16,
        payload: &Payload<'_>,
    ) -> Result<(), Loss> {
        let (Some(chunks), Some(restart)) = (&mut assembly.chunks, payload.restart) else {
            return self.append(assembly, payload.data);
        };
        let take = chunks.take(
            sequence_number,
            payload.main.fragment_offset,
            restart,
            payload.data.len(),
            assembly.buf.len() - assembly.scan_start,
        );
        assembly.buf.truncate(assembly.scan_start + take.truncate);
        if take.append {
            self.append(assembly, payload.data)?;
        }
        Ok(())
    }

    /// Writes the rebuilt JPEG headers (SOI..SOS) into the empty frame buffer.
    fn write_headers(
        &mut self,
        assembly: &mut Assembly,
        subsampling: Subsampling,
        payload: &Payload<'_>,
    ) -> Result<(), Loss> {
        let q = assembly.main.q;
        let generated;
        let (luma_table, chroma_table): (&[u8], &[u8]) = match q {
            1..=99 => {
                generated = quantization_tables(q).ok_or(Loss::ReservedQ(q))?;
                (&generated[0], &generated[1])
            }
            128..=255 => self.in_band_tables(q, payload)?,
            q => return Err(Loss::ReservedQ(q)),
        };
        Frame {
            subsampling,
            width: assembly.width,
            height: assembly.height,
            luma_table,
            chroma_table,
            restart_interval: assembly.restart_interval.unwrap_or(0),
            scan: &[],
        }
        .write_headers(&mut assembly.buf);
        assembly.scan_start = assembly.buf.len();
        Ok(())
    }

    /// Width and height in pixels from the header's 8-pixel units, or from `a=x-dimensions`, or
    /// as learned from an earlier scan with the same header bytes ([`scan`](super::scan)). Bytes
    /// not measured yet give the header's size (a 0 taken as 256 units) until the frame's own
    /// scan is measured as it finishes.
    fn frame_size(&self, main: &MainHeader) -> Result<(u16, u16), Loss> {
        let (w8, h8) = (u16::from(main.width), u16::from(main.height));
        match self.dimensions {
            Some((w, h)) if w8 == 0 || h8 == 0 => return Ok((w, h)),
            Some((w, h)) if w.div_ceil(8) == w8 && h.div_ceil(8) == h8 => return Ok((w, h)),
            Some(_) => return Ok((w8 * 8, h8 * 8)),
            None => {}
        }
        if !Sizing::applies(main.jpeg_type) {
            if w8 == 0 || h8 == 0 {
                return Err(Loss::UnknownDimensions);
            }
            return Ok((w8 * 8, h8 * 8));
        }
        match self.sizing.known(main.width, main.height, main.jpeg_type) {
            Some(known) => known.ok_or(Loss::UnknownDimensions),
            None => {
                let units = |b: u16| if b == 0 { 256 * 8 } else { b * 8 };
                Ok((units(w8), units(h8)))
            }
        }
    }

    /// Measures a finished frame's scan when its header bytes are new (types 0 and 1 without
    /// `a=x-dimensions`): a sender that wrapped a size over 2040 pixels gets the frame's real
    /// size written into the rebuilt SOF0. `Err` when no size fits the bytes (or a 0 among them
    /// could not be measured).
    fn measure(&mut self, assembly: &mut Assembly) -> Result<(), Loss> {
        let main = assembly.main;
        if self.dimensions.is_some()
            || !Sizing::applies(main.jpeg_type)
            || self
                .sizing
                .known(main.width, main.height, main.jpeg_type)
                .is_some()
        {
            return Ok(());
        }
        let scan = &assembly.buf[assembly.scan_start..];
        match self
            .sizing
            .measure(main.width, main.height, main.jpeg_type, scan)
        {
            Measured::Size(w, h) => {
                if (w, h) != (assembly.width, assembly.height) {
                    set_size(&mut assembly.buf[..assembly.scan_start], w, h);
                    (assembly.width, assembly.height) = (w, h);
                }
                Ok(())
            }
            Measured::NotYet if main.width != 0 && main.height != 0 => Ok(()),
            Measured::Unknown | Measured::NotYet => Err(Loss::UnknownDimensions),
        }
    }

    /// The tables of a Q of 128..=255: from the quantization table header, or cached from an
    /// earlier frame when Length is 0 and Q < 255 (§3.1.8).
    fn in_band_tables<'s>(
        &'s mut self,
        q: u8,
        payload: &Payload<'s>,
    ) -> Result<(&'s [u8], &'s [u8]), Loss> {
        // `Payload::parse` always reads the header at offset 0 with Q >= 128.
        let quant = payload.quant.ok_or(Loss::MissingQuantTables(q))?;
        if quant.is_empty() {
            if q == 255 {
                return Err(Loss::MissingQuantTables(q));
            }
            let cached = self
                .cached_tables
                .iter()
                .find(|c| c.q == q)
                .ok_or(Loss::MissingQuantTables(q))?;
            return Ok(cached.tables.split_at(cached.luma_len));
        }
        let luma_len = 64usize << (quant.precision & 1);
        let chroma_len = 64usize << (quant.precision >> 1 & 1);
        // One table for both (ffmpeg sends that for a JPEG whose components all use table 0,
        // as its own MJPEG encoder writes them; its depacketizer reads it the same way).
        let single = quant.tables.len() == luma_len;
        if quant.tables.len() != luma_len + chroma_len && !single {
            return Err(Loss::QuantTableLength {
                // At most 256; the received length came from a 16-bit field.
                expected: (luma_len + chroma_len) as u16,
                got: quant.tables.len() as u16,
            });
        }
        if q != 255 {
            self.cached_tables.retain(|c| c.q != q);
            let tables = if single {
                [quant.tables, quant.tables].concat()
            } else {
                quant.tables.to_vec()
            };
            self.cached_tables.push(CachedTables {
                q,
                luma_len,
                tables,
            });
        }
        if single {
            return Ok((quant.tables, quant.tables));
        }
        Ok(quant.tables.split_at(luma_len))
    }

    fn continue_frame(
        &mut self,
        mut assembly: Assembly,
        sequence_number: u16,
        payload: &Payload<'_>,
    ) -> Result<Assembly, Loss> {
        let checked = if assembly.chunks.is_some() {
            // Gaps are the runs' business; the frame must stay the same frame.
            self.check_same(&assembly, payload)
        } else {
            self.check_continuation(&assembly, sequence_number, payload)
        };
        let result = checked.and_then(|()| self.add(&mut assembly, sequence_number, payload));
        match result {
            Ok(()) => {
                assembly.last_sequence_number = sequence_number;
                Ok(assembly)
            }
            Err(loss) => {
                self.recycle(assembly.buf);
                Err(loss)
            }
        }
    }

    fn check_continuation(
        &self,
        assembly: &Assembly,
        sequence_number: u16,
        payload: &Payload<'_>,
    ) -> Result<(), Loss> {
        let expected = assembly.last_sequence_number.wrapping_add(1);
        if sequence_number != expected {
            return Err(Loss::SequenceGap {
                expected,
                got: sequence_number,
            });
        }
        let received = assembly.buf.len() - assembly.scan_start;
        if payload.main.fragment_offset as usize != received {
            return Err(Loss::OffsetGap {
                // `received` < 2^24: `append` caps the scan data.
                expected: received as u32,
                got: payload.main.fragment_offset,
            });
        }
        self.check_same(assembly, payload)
    }

    /// Type, Q, size and restart interval as the frame's first packet said.
    fn check_same(&self, assembly: &Assembly, payload: &Payload<'_>) -> Result<(), Loss> {
        let (main, first) = (payload.main, assembly.main);
        let same = main.jpeg_type == first.jpeg_type
            && main.q == first.q
            && main.width == first.width
            && main.height == first.height
            && payload.restart.map(|r| r.restart_interval) == assembly.restart_interval;
        if !same {
            return Err(Loss::HeaderMismatch);
        }
        Ok(())
    }

    /// Appends scan data, within the caps.
    fn append(&self, assembly: &mut Assembly, data: &[u8]) -> Result<(), Loss> {
        let scan_len = assembly.buf.len() - assembly.scan_start + data.len();
        if scan_len >= MAX_SCAN_LEN {
            return Err(Loss::TooLarge { max: MAX_SCAN_LEN });
        }
        // Keep room for the EOI this may still need.
        if assembly.buf.len() + data.len() + EOI.len() > self.max_frame_len {
            return Err(Loss::TooLarge {
                max: self.max_frame_len,
            });
        }
        assembly.buf.extend_from_slice(data);
        Ok(())
    }

    fn finish(&mut self, mut assembly: Assembly) {
        if assembly.chunks.as_ref().is_some_and(Chunks::damaged) {
            return self.conceal_or_lose(assembly, Loss::IntervalsLost);
        }
        if assembly.chunks.is_none()
            && let Err(loss) = self.measure(&mut assembly)
        {
            return self.lose_assembly(assembly, loss);
        }
        // The scan data of a JPEG cannot contain FF D9 (every FF in it is followed by 00 or a
        // restart marker), so a scan ending in FF D9 already carries its EOI.
        if !assembly.buf[assembly.scan_start..].ends_with(&EOI) {
            assembly.buf.extend_from_slice(&EOI);
        }
        let data = std::mem::take(&mut assembly.buf);
        self.put_out(&assembly, data, None);
    }

    /// Emits a finished frame (and keeps it as the reference for concealment).
    fn put_out(&mut self, assembly: &Assembly, data: Vec<u8>, concealed: Option<Concealed>) {
        if concealed.is_none()
            && assembly.chunks.is_some()
            && let Some(subsampling) = Subsampling::from_rtp_type(assembly.main.jpeg_type)
        {
            self.reference
                .keep(assembly.key(), subsampling, &data, assembly.scan_start);
        }
        self.last_done = Some((assembly.timestamp, assembly.last_sequence_number));
        self.emit(Output::Frame(Jpeg {
            timestamp: assembly.timestamp,
            width: assembly.width,
            height: assembly.height,
            first_sequence_number: assembly.first_sequence_number,
            last_sequence_number: assembly.last_sequence_number,
            data,
            concealed,
        }));
    }

    /// A frame that ends without its marker (the next began, or the stream ended).
    fn end_early(&mut self, mut assembly: Assembly) {
        match &mut assembly.chunks {
            Some(chunks) => {
                chunks.lose_end();
                self.conceal_or_lose(assembly, Loss::MissingLast);
            }
            None => self.lose_assembly(assembly, Loss::MissingLast),
        }
    }

    /// A frame that lost fragments: shown with the lost restart intervals of the frame
    /// before (§3.1.7), or lost for `reason`.
    fn conceal_or_lose(&mut self, assembly: Assembly, reason: Loss) {
        let (Some(chunks), Some(subsampling)) = (
            &assembly.chunks,
            Subsampling::from_rtp_type(assembly.main.jpeg_type),
        ) else {
            return self.lose_assembly(assembly, reason);
        };
        let mut out = self.spare.pop().unwrap_or_default();
        let spliced = conceal::conceal(
            chunks,
            &mut self.reference,
            assembly.key(),
            subsampling,
            &assembly.buf,
            assembly.scan_start,
            chunks.has_start(),
            &mut out,
            self.max_frame_len,
        );
        match spliced {
            Some(concealed) => {
                let concealed = (!concealed.intervals.is_empty()).then_some(concealed);
                let mut assembly = assembly;
                let buf = std::mem::take(&mut assembly.buf);
                self.recycle(buf);
                self.put_out(&assembly, out, concealed);
            }
            None => {
                self.recycle(out);
                self.lose_assembly(assembly, reason);
            }
        }
    }

    fn lose_assembly(&mut self, assembly: Assembly, reason: Loss) {
        self.recycle(assembly.buf);
        self.lose(assembly.timestamp, assembly.last_sequence_number, reason);
    }

    fn lose(&mut self, timestamp: u32, sequence_number: u16, reason: Loss) {
        self.last_done = Some((timestamp, sequence_number));
        self.emit(Output::Lost { timestamp, reason });
    }

    fn emit(&mut self, output: Output) {
        if self.outputs.len() >= MAX_QUEUED_OUTPUTS {
            let oldest = self.outputs.pop_front();
            if let Some(Output::Frame(old)) = oldest {
                self.recycle(old.data);
            }
        }
        self.outputs.push_back(output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc2435::header::RestartHeader;
    use crate::rfc2435::tables::LUMA_QUANTIZER;
    use crate::rfc2435::tests::{depacketize, rtp_packet};

    /// A payload: main header, optional restart header, optional quantization table header
    /// (precision, tables), data.
    fn payload(
        offset: u32,
        jpeg_type: u8,
        q: u8,
        size: (u8, u8),
        restart: Option<RestartHeader>,
        quant: Option<(u8, &[u8])>,
        data: &[u8],
    ) -> Vec<u8> {
        let main = MainHeader {
            type_specific: 0,
            fragment_offset: offset,
            jpeg_type,
            q,
            width: size.0,
            height: size.1,
        };
        let mut out = main.to_bytes().to_vec();
        if let Some(restart) = restart {
            out.extend(restart.to_bytes());
        }
        if let Some((precision, tables)) = quant {
            out.extend([0, precision]);
            out.extend((tables.len() as u16).to_be_bytes());
            out.extend(tables);
        }
        out.extend(data);
        out
    }

    /// A packet of a type 1, Q 50, 16x16 frame.
    fn simple(seq: u16, ts: u32, marker: bool, offset: u32, data: &[u8]) -> Vec<u8> {
        rtp_packet(
            seq,
            ts,
            marker,
            &[&payload(offset, 1, 50, (2, 2), None, None, data)],
        )
    }

    fn run(packets: &[Vec<u8>]) -> Vec<Output> {
        depacketize(&mut Depacketizer::new(), packets)
    }

    fn lost(timestamp: u32, reason: Loss) -> Output {
        Output::Lost { timestamp, reason }
    }

    fn frame(output: &Output) -> &Jpeg {
        match output {
            Output::Frame(jpeg) => jpeg,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Finds a marker segment's body (after its length) in a rebuilt JPEG's headers.
    fn segment(jpeg: &[u8], code: u8) -> Option<&[u8]> {
        let mut pos = 2;
        while jpeg.get(pos) == Some(&0xFF) && pos + 4 <= jpeg.len() {
            let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
            if jpeg[pos + 1] == code {
                return Some(&jpeg[pos + 4..pos + 2 + len]);
            }
            if jpeg[pos + 1] == 0xDA {
                return None;
            }
            pos += 2 + len;
        }
        None
    }

    #[test]
    fn fragments_make_a_complete_jpeg() {
        let outputs = run(&[
            simple(7, 900, false, 0, &[1, 2, 3]),
            simple(8, 900, false, 3, &[4, 5]),
            simple(9, 900, true, 5, &[6]),
        ]);
        let [output] = &outputs[..] else {
            panic!("{outputs:?}")
        };
        let jpeg = frame(output);
        assert_eq!((jpeg.timestamp, jpeg.width, jpeg.height), (900, 16, 16));
        assert_eq!(
            (jpeg.first_sequence_number, jpeg.last_sequence_number),
            (7, 9)
        );
        assert_eq!(jpeg.data[..2], [0xFF, 0xD8]);
        assert!(jpeg.data.ends_with(&[
            0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, 1, 2, 3, 4, 5, 6, 0xFF, 0xD9
        ]));
        // Q 50 is the standard table itself (Appendix A).
        let dqt = segment(&jpeg.data, 0xDB).unwrap();
        assert_eq!(dqt[1..65], LUMA_QUANTIZER);
        assert_eq!(segment(&jpeg.data, 0xDD), None);
        assert_eq!(
            segment(&jpeg.data, 0xC0).unwrap()[..8],
            [8, 0, 16, 0, 16, 3, 1, 0x22]
        );
    }

    #[test]
    fn eoi_is_added_only_when_missing() {
        let outputs = run(&[simple(1, 0, true, 0, &[9, 0xFF, 0xD9])]);
        let data = &frame(&outputs[0]).data;
        assert!(data.ends_with(&[9, 0xFF, 0xD9]));
        // An FF 00 (stuffed FF) before the end is scan data, not an EOI.
        let outputs = run(&[simple(1, 0, true, 0, &[0xFF, 0x00])]);
        assert!(frame(&outputs[0]).data.ends_with(&[0xFF, 0x00, 0xFF, 0xD9]));
    }

    #[test]
    fn offset_gap_loses_the_frame() {
        let outputs = run(&[
            simple(1, 0, false, 0, &[0; 10]),
            simple(2, 0, true, 20, &[0; 10]),
        ]);
        assert_eq!(
            outputs,
            [lost(
                0,
                Loss::OffsetGap {
                    expected: 10,
                    got: 20
                }
            )]
        );
    }

    #[test]
    fn missing_first_fragment_loses_the_frame_once() {
        let outputs = run(&[
            simple(2, 0, false, 10, &[0; 10]),
            simple(3, 0, true, 20, &[0; 10]),
            simple(4, 3000, true, 0, &[1]),
        ]);
        assert_eq!(outputs.len(), 2);
        assert_eq!(outputs[0], lost(0, Loss::MissingFirst));
        assert_eq!(frame(&outputs[1]).timestamp, 3000);
    }

    #[test]
    fn missing_last_fragment_loses_the_frame() {
        let outputs = run(&[
            simple(1, 0, false, 0, &[0; 10]),
            simple(3, 3000, true, 0, &[1]),
        ]);
        assert_eq!(outputs[0], lost(0, Loss::MissingLast));
        assert_eq!(frame(&outputs[1]).timestamp, 3000);

        let mut depacketizer = Depacketizer::new();
        assert_eq!(
            depacketize(&mut depacketizer, &[simple(1, 0, false, 0, &[0; 10])]),
            []
        );
        depacketizer.flush();
        assert_eq!(depacketizer.pull(), Some(lost(0, Loss::MissingLast)));
        assert_eq!(depacketizer.pull(), None);
    }

    #[test]
    fn frames_sharing_one_timestamp_each_end_at_their_marker() {
        // A sender that stamps no time: every frame carries timestamp 7.
        let outputs = run(&[
            simple(1, 7, false, 0, &[1; 10]),
            simple(2, 7, true, 10, &[1; 10]),
            simple(3, 7, false, 0, &[2; 10]),
            simple(4, 7, true, 10, &[2; 10]),
            // A stray copy of the first packet of the frame just finished: ignored.
            simple(3, 7, false, 0, &[2; 10]),
            // The marker of this frame is lost: the next frame's first packet ends it.
            simple(5, 7, false, 0, &[3; 10]),
            simple(7, 7, false, 0, &[4; 10]),
            simple(8, 7, true, 10, &[4; 10]),
        ]);
        assert_eq!(outputs.len(), 4, "{outputs:?}");
        assert_eq!(frame(&outputs[0]).first_sequence_number, 1);
        assert_eq!(frame(&outputs[1]).first_sequence_number, 3);
        assert_eq!(outputs[2], lost(7, Loss::MissingLast));
        assert_eq!(frame(&outputs[3]).first_sequence_number, 7);
    }

    #[test]
    fn sequence_gap_inside_a_frame_loses_it() {
        // Offsets agree (say a sender bug or a reordered duplicate), the sequence does not.
        let outputs = run(&[
            simple(1, 0, false, 0, &[0; 10]),
            simple(3, 0, true, 10, &[0; 10]),
        ]);
        assert_eq!(
            outputs,
            [lost(
                0,
                Loss::SequenceGap {
                    expected: 2,
                    got: 3
                }
            )]
        );
    }

    #[test]
    fn sequence_numbers_wrap_inside_a_frame() {
        let outputs = run(&[
            simple(65_535, 0, false, 0, &[0; 10]),
            simple(0, 0, true, 10, &[0; 10]),
        ]);
        let jpeg = frame(&outputs[0]);
        assert_eq!(
            (jpeg.first_sequence_number, jpeg.last_sequence_number),
            (65_535, 0)
        );
    }

    #[test]
    fn duplicates_and_stray_packets_are_ignored() {
        let mut depacketizer = Depacketizer::new();
        let outputs = depacketize(
            &mut depacketizer,
            &[
                simple(1, 0, false, 0, &[0; 10]),
                simple(1, 0, false, 0, &[0; 10]),
                simple(2, 0, true, 10, &[0; 10]),
                simple(2, 0, true, 10, &[0; 10]),
            ],
        );
        assert_eq!(outputs.len(), 1);
        frame(&outputs[0]);
        assert_eq!(depacketizer.ignored_packets(), 2);
    }

    #[test]
    fn header_changes_inside_a_frame_lose_it() {
        let changed_q = rtp_packet(2, 0, true, &[&payload(10, 1, 60, (2, 2), None, None, &[0])]);
        let changed_size = rtp_packet(2, 0, true, &[&payload(10, 1, 50, (4, 2), None, None, &[0])]);
        let changed_type = rtp_packet(2, 0, true, &[&payload(10, 0, 50, (2, 2), None, None, &[0])]);
        for second in [changed_q, changed_size, changed_type] {
            let outputs = run(&[simple(1, 0, false, 0, &[0; 10]), second]);
            assert_eq!(outputs, [lost(0, Loss::HeaderMismatch)]);
        }
        let restart = |interval| Some(RestartHeader::unaligned(interval));
        let outputs = run(&[
            rtp_packet(
                1,
                0,
                false,
                &[&payload(0, 65, 50, (2, 2), restart(4), None, &[0; 10])],
            ),
            rtp_packet(
                2,
                0,
                true,
                &[&payload(10, 65, 50, (2, 2), restart(5), None, &[0])],
            ),
        ]);
        assert_eq!(outputs, [lost(0, Loss::HeaderMismatch)]);
    }

    #[test]
    fn restart_marker_types_get_a_dri() {
        let restart = Some(RestartHeader::unaligned(0x0102));
        let outputs = run(&[rtp_packet(
            1,
            0,
            true,
            &[&payload(0, 64, 50, (2, 1), restart, None, &[0])],
        )]);
        let jpeg = frame(&outputs[0]);
        assert_eq!(segment(&jpeg.data, 0xDD), Some(&[1, 2][..]));
        assert_eq!(segment(&jpeg.data, 0xC0).unwrap()[7], 0x21);
        assert_eq!((jpeg.width, jpeg.height), (16, 8));
    }

    #[test]
    fn unsupported_types_are_rejected() {
        for jpeg_type in [2, 63, 66, 127, 128, 255] {
            let packet = rtp_packet(
                1,
                0,
                true,
                &[&payload(0, jpeg_type, 50, (2, 2), None, None, &[0])],
            );
            // Types 64..=127 need a restart header to parse at all.
            let packet = if (64..=127).contains(&jpeg_type) {
                let restart = Some(RestartHeader::unaligned(1));
                rtp_packet(
                    1,
                    0,
                    true,
                    &[&payload(0, jpeg_type, 50, (2, 2), restart, None, &[0])],
                )
            } else {
                packet
            };
            assert_eq!(run(&[packet]), [lost(0, Loss::UnsupportedType(jpeg_type))]);
        }
    }

    #[test]
    fn reserved_q_values_are_rejected() {
        for q in [0, 100, 127] {
            let packet = rtp_packet(1, 0, true, &[&payload(0, 1, q, (2, 2), None, None, &[0])]);
            assert_eq!(run(&[packet]), [lost(0, Loss::ReservedQ(q))]);
        }
    }

    #[test]
    fn zero_size_needs_x_dimensions() {
        let packet = rtp_packet(1, 0, true, &[&payload(0, 1, 50, (0, 0), None, None, &[0])]);
        assert_eq!(
            run(std::slice::from_ref(&packet)),
            [lost(0, Loss::UnknownDimensions)]
        );
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_dimensions(3840, 2160);
        let outputs = depacketize(&mut depacketizer, &[packet]);
        let jpeg = frame(&outputs[0]);
        assert_eq!((jpeg.width, jpeg.height), (3840, 2160));
        assert_eq!(
            segment(&jpeg.data, 0xC0).unwrap()[1..5],
            [0x08, 0x70, 0x0F, 0x00]
        );
    }

    #[test]
    fn x_dimensions_refine_a_size_that_agrees_in_8_pixel_units() {
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_dimensions(1918, 1078);
        // 240 x 135 blocks = 1920 x 1080: 1918 x 1078 rounds up to the same.
        let packet = rtp_packet(
            1,
            0,
            true,
            &[&payload(0, 1, 50, (240, 135), None, None, &[0])],
        );
        let outputs = depacketize(&mut depacketizer, &[packet]);
        assert_eq!(
            (frame(&outputs[0]).width, frame(&outputs[0]).height),
            (1918, 1078)
        );
        // A size that disagrees is ignored in favour of the header.
        let packet = rtp_packet(
            2,
            1,
            true,
            &[&payload(0, 1, 50, (80, 45), None, None, &[0])],
        );
        let outputs = depacketize(&mut depacketizer, &[packet]);
        assert_eq!(
            (frame(&outputs[0]).width, frame(&outputs[0]).height),
            (640, 360)
        );
    }

    #[test]
    fn in_band_tables_are_used_and_checked() {
        let tables: Vec<u8> = (1..=128).collect();
        let ok = rtp_packet(
            1,
            0,
            true,
            &[&payload(0, 1, 255, (2, 2), None, Some((0, &tables)), &[0])],
        );
        let outputs = run(&[ok]);
        let dqt = segment(&frame(&outputs[0]).data, 0xDB).unwrap();
        assert_eq!(
            dqt,
            [&[0x00][..], &tables[..64], &[0x01], &tables[64..]].concat()
        );

        let wide: Vec<u8> = (0..192).map(|i| i as u8).collect();
        let ok = rtp_packet(
            1,
            0,
            true,
            &[&payload(0, 1, 255, (2, 2), None, Some((0b01, &wide)), &[0])],
        );
        let outputs = run(&[ok]);
        let dqt = segment(&frame(&outputs[0]).data, 0xDB).unwrap();
        assert_eq!((dqt[0], dqt[129]), (0x10, 0x01));

        let short = rtp_packet(
            1,
            0,
            true,
            &[&payload(
                0,
                1,
                255,
                (2, 2),
                None,
                Some((0, &tables[..100])),
                &[0],
            )],
        );
        assert_eq!(
            run(&[short]),
            [lost(
                0,
                Loss::QuantTableLength {
                    expected: 128,
                    got: 100
                }
            )]
        );
        let mismatch = rtp_packet(
            1,
            0,
            true,
            &[&payload(
                0,
                1,
                255,
                (2, 2),
                None,
                Some((0b11, &[&tables[..], &tables[..64]].concat())),
                &[0],
            )],
        );
        assert_eq!(
            run(&[mismatch]),
            [lost(
                0,
                Loss::QuantTableLength {
                    expected: 256,
                    got: 192
                }
            )]
        );
        // One table alone (ffmpeg's form when every component uses table 0): both use it.
        let single = rtp_packet(
            1,
            0,
            true,
            &[&payload(
                0,
                1,
                255,
                (2, 2),
                None,
                Some((0, &tables[..64])),
                &[0],
            )],
        );
        let [Output::Frame(jpeg)] = &run(&[single])[..] else {
            panic!("a frame from one table");
        };
        let table = |id: u8| {
            let at = jpeg
                .data
                .windows(2)
                .position(|w| w == [0xFF, 0xDB])
                .unwrap();
            let body = &jpeg.data[at + 4..];
            let mut i = 0;
            loop {
                let (pq_tq, rest) = (body[i], &body[i + 1..]);
                let len = if pq_tq >> 4 == 0 { 64 } else { 128 };
                if pq_tq & 0x0F == id {
                    return rest[..len].to_vec();
                }
                i += 1 + len;
            }
        };
        assert_eq!(table(0), table(1), "chroma uses the one table");
        assert_eq!(table(0), tables[..64].to_vec());
    }

    #[test]
    fn tables_are_cached_for_q_128_to_254_only() {
        let empty = |q, seq, ts| {
            rtp_packet(
                seq,
                ts,
                true,
                &[&payload(0, 1, q, (2, 2), None, Some((0, &[])), &[0])],
            )
        };
        assert_eq!(
            run(&[empty(255, 1, 0)]),
            [lost(0, Loss::MissingQuantTables(255))]
        );
        assert_eq!(
            run(&[empty(200, 1, 0)]),
            [lost(0, Loss::MissingQuantTables(200))]
        );

        let tables: Vec<u8> = (1..=128).collect();
        let with = |q, seq, ts| {
            rtp_packet(
                seq,
                ts,
                true,
                &[&payload(0, 1, q, (2, 2), None, Some((0, &tables)), &[0])],
            )
        };
        let outputs = run(&[
            with(200, 1, 0),
            empty(200, 2, 3000),
            with(255, 3, 6000),
            empty(255, 4, 9000),
            empty(201, 5, 12_000),
        ]);
        let first = segment(&frame(&outputs[0]).data, 0xDB).unwrap().to_vec();
        assert_eq!(segment(&frame(&outputs[1]).data, 0xDB).unwrap(), first);
        frame(&outputs[2]);
        assert_eq!(outputs[3], lost(9000, Loss::MissingQuantTables(255)));
        assert_eq!(outputs[4], lost(12_000, Loss::MissingQuantTables(201)));
    }

    #[test]
    fn truncated_payloads_lose_their_frame() {
        let outputs = run(&[rtp_packet(1, 0, true, &[&[0, 0, 0, 0, 1]])]);
        assert_eq!(
            outputs,
            [lost(
                0,
                Loss::Malformed(Error::Truncated {
                    needed: 8,
                    available: 5
                })
            )]
        );
        // Quantization table header announcing more than the packet holds.
        let outputs = run(&[rtp_packet(
            1,
            0,
            true,
            &[&[0, 0, 0, 0, 1, 255, 2, 2, 0, 0, 0, 128, 1]],
        )]);
        assert_eq!(
            outputs,
            [lost(
                0,
                Loss::Malformed(Error::Truncated {
                    needed: 132,
                    available: 5
                })
            )]
        );
    }

    #[test]
    fn a_malformed_packet_mid_frame_loses_it_once() {
        let outputs = run(&[
            simple(1, 0, false, 0, &[0; 10]),
            rtp_packet(2, 0, false, &[&[0, 0, 0]]),
            simple(3, 0, true, 13, &[0; 10]),
            simple(4, 3000, true, 0, &[0; 10]),
        ]);
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        assert!(matches!(
            outputs[0],
            Output::Lost {
                timestamp: 0,
                reason: Loss::Malformed(_)
            }
        ));
        assert_eq!(frame(&outputs[1]).timestamp, 3000);
    }

    #[test]
    fn frames_over_the_cap_are_lost() {
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_max_frame_len(1000);
        let outputs = depacketize(
            &mut depacketizer,
            &[
                simple(1, 0, false, 0, &[0; 500]),
                simple(2, 0, true, 500, &[0; 500]),
            ],
        );
        assert_eq!(outputs, [lost(0, Loss::TooLarge { max: 1000 })]);
    }

    #[test]
    fn scan_data_past_16_mib_is_lost() {
        let chunk = vec![0u8; 60_000];
        let mut packets = Vec::new();
        let mut offset = 0u32;
        let mut seq = 0u16;
        while offset < (1 << 24) {
            packets.push(simple(seq, 0, false, offset, &chunk));
            offset += chunk.len() as u32;
            seq = seq.wrapping_add(1);
        }
        let outputs = run(&packets);
        assert_eq!(outputs, [lost(0, Loss::TooLarge { max: 1 << 24 })]);
    }

    #[test]
    fn unpulled_outputs_stay_bounded() {
        let mut depacketizer = Depacketizer::new();
        for ts in 0..100 {
            let packet = simple(ts as u16, ts, true, 0, &[0]);
            depacketizer.push(&rtp::Packet::parse(&packet).unwrap());
        }
        let outputs: Vec<Output> = std::iter::from_fn(|| depacketizer.pull()).collect();
        assert_eq!(outputs.len(), MAX_QUEUED_OUTPUTS);
        assert_eq!(
            frame(&outputs[0]).timestamp,
            100 - MAX_QUEUED_OUTPUTS as u32
        );
    }

    #[test]
    fn recycled_buffers_are_reused() {
        let mut depacketizer = Depacketizer::new();
        let outputs = depacketize(&mut depacketizer, &[simple(1, 0, true, 0, &[0; 100])]);
        let Some(Output::Frame(jpeg)) = outputs.into_iter().next() else {
            panic!()
        };
        let pointer = jpeg.data.as_ptr();
        depacketizer.recycle(jpeg.data);
        let outputs = depacketize(&mut depacketizer, &[simple(2, 1, true, 0, &[0; 100])]);
        assert_eq!(frame(&outputs[0]).data.as_ptr(), pointer);
    }

    /// A restart packet of type 65, Q 50, `size` in 8-pixel units, aligned (F/L/count).
    fn aligned(
        seq: u16,
        ts: u32,
        marker: bool,
        offset: u32,
        size: (u8, u8),
        restart: (u16, bool, bool, u16),
        data: &[u8],
    ) -> Vec<u8> {
        let (restart_interval, first, last, restart_count) = restart;
        let header = RestartHeader {
            restart_interval,
            first,
            last,
            restart_count,
        };
        rtp_packet(
            seq,
            ts,
            marker,
            &[&payload(offset, 65, 50, size, Some(header), None, data)],
        )
    }

    #[test]
    fn concealment_believes_no_header_claiming_more_intervals_than_it_can_count() {
        // 65535 x 65535 from x-dimensions with a marker every MCU: 16 million intervals.
        let mut d = Depacketizer::new();
        d.set_conceal(true);
        d.set_dimensions(65535, 65535);
        let interval = |i: u8| [i, i, 0xFF, 0xD0 + i % 8];
        let mut packets = Vec::new();
        for ts in [0u32, 3000] {
            let base = (ts / 3000) as u16 * 10;
            packets.push(aligned(
                base,
                ts,
                false,
                0,
                (0, 0),
                (1, true, true, 0),
                &interval(0),
            ));
            // The packet with interval 1 is lost in the second frame.
            if ts == 0 {
                packets.push(aligned(
                    base + 1,
                    ts,
                    false,
                    4,
                    (0, 0),
                    (1, true, true, 1),
                    &interval(1),
                ));
            }
            packets.push(aligned(
                base + 2,
                ts,
                true,
                8,
                (0, 0),
                (1, true, true, 2),
                &[7, 7],
            ));
        }
        let outputs = depacketize(&mut d, &packets);
        assert!(matches!(
            outputs[0],
            Output::Frame(Jpeg {
                concealed: None,
                ..
            })
        ));
        assert!(
            matches!(
                outputs[1],
                Output::Lost {
                    reason: Loss::IntervalsLost,
                    ..
                }
            ),
            "{:?}",
            outputs.get(1).map(|o| matches!(o, Output::Lost { .. }))
        );
    }

    #[test]
    fn a_run_of_fragments_is_concealed_only_when_whole() {
        // 32 x 16 4:2:0: two MCUs, one interval each; frame 2 loses the first fragment of
        // interval 0's two, and the frame before stands in for it.
        let mut d = Depacketizer::new();
        d.set_conceal(true);
        let size = (4, 2);
        let frame = |seq: u16, ts: u32, a: u8, lose: bool| {
            let mut p = vec![
                aligned(seq, ts, false, 0, size, (1, true, false, 0), &[a, a]),
                aligned(
                    seq + 1,
                    ts,
                    false,
                    2,
                    size,
                    (1, false, true, 0),
                    &[a, 0xFF, 0xD0],
                ),
                aligned(
                    seq + 2,
                    ts,
                    true,
                    5,
                    size,
                    (1, true, true, 1),
                    &[a + 1, a + 1],
                ),
            ];
            if lose {
                p.remove(0);
            }
            p
        };
        let mut packets = frame(0, 0, 0x10, false);
        packets.extend(frame(3, 3000, 0x20, true));
        let outputs = depacketize(&mut d, &packets);
        let [Output::Frame(first), Output::Frame(second)] = &outputs[..] else {
            panic!("{} outputs", outputs.len());
        };
        assert_eq!(first.concealed, None);
        let c = second.concealed.as_ref().expect("concealed");
        assert_eq!(c.intervals, vec![std::ops::Range { start: 0, end: 1 }]);
        // Interval 0 from the first frame, interval 1 its own; the first frame's headers.
        let scan_of = |jpeg: &[u8]| jpeg[jpeg.len() - 9..].to_vec();
        assert_eq!(
            scan_of(&first.data),
            [0x10, 0x10, 0x10, 0xFF, 0xD0, 0x11, 0x11, 0xFF, 0xD9]
        );
        assert_eq!(
            scan_of(&second.data),
            [0x10, 0x10, 0x10, 0xFF, 0xD0, 0x21, 0x21, 0xFF, 0xD9]
        );
        assert_eq!(first.data.len(), second.data.len());
    }
}
