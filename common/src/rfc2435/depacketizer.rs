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
mod tests;
