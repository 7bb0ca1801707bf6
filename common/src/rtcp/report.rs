//! Sender and receiver reports, RFC 3550 §6.4, and the reception statistics of Appendix A.3.
//!
//! ```text
//! SR:  header | SSRC of sender | NTP timestamp (64) | RTP timestamp | packet count
//!      | octet count | report block × RC | profile-specific extension
//! RR:  header | SSRC of packet sender | report block × RC | profile-specific extension
//!
//! report block:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 SSRC_n (source identifier)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | fraction lost |       cumulative number of packets lost       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           extended highest sequence number received           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      interarrival jitter                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         last SR (LSR)                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   delay since last SR (DLSR)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::time::Instant;

use super::parts::Parts;
use super::{Error, LastSr, NtpTimestamp, RECEIVER_REPORT, SENDER_REPORT};
use crate::rtp::{Interval, Jitter, SequenceTracker, be32};

/// Bytes in one report block.
pub(super) const BLOCK_LEN: usize = 24;
/// Bytes of sender information in an SR, its SSRC included.
pub(super) const SENDER_INFO_LEN: usize = 24;

/// The largest cumulative loss a report block can carry (24-bit signed).
const MAX_LOST: i32 = 0x7f_ffff;
/// The most negative cumulative loss a report block can carry.
const MIN_LOST: i32 = -0x80_0000;

/// The sender information of an SR (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// Wall-clock time when the report was sent.
    pub ntp_timestamp: NtpTimestamp,
    /// The same instant in the stream's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP data packets sent since the start of transmission.
    pub packet_count: u32,
    /// RTP payload octets sent (headers and padding excluded).
    pub octet_count: u32,
}

impl SenderInfo {
    /// Reads the 24 bytes of sender information; `bytes` holds at least that many.
    fn read(bytes: &[u8]) -> SenderInfo {
        SenderInfo {
            ssrc: be32(bytes, 0),
            ntp_timestamp: NtpTimestamp(
                u64::from(be32(bytes, 4)) << 32 | u64::from(be32(bytes, 8)),
            ),
            rtp_timestamp: be32(bytes, 12),
            packet_count: be32(bytes, 16),
            octet_count: be32(bytes, 20),
        }
    }

    /// Writes the 24 bytes of sender information into `out`, which holds exactly that many.
    pub(super) fn write(&self, out: &mut [u8]) {
        let ntp = self.ntp_timestamp.0;
        for (chunk, value) in out.chunks_exact_mut(4).zip([
            self.ssrc,
            (ntp >> 32) as u32,
            ntp as u32,
            self.rtp_timestamp,
            self.packet_count,
            self.octet_count,
        ]) {
            chunk.copy_from_slice(&value.to_be_bytes());
        }
    }
}

/// One reception report block (§6.4.1), about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// SSRC of the source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256 ([`fraction_lost`]).
    pub fraction_lost: u8,
    /// Packets lost since the start, 24-bit signed: written clamped to
    /// `-0x800000..=0x7fffff` (A.3); negative when duplicates outnumber losses.
    pub cumulative_lost: i32,
    /// Low 32 bits of the extended highest sequence number received.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units ([`Jitter::get`]).
    pub jitter: u32,
    /// LSR: middle 32 bits of the NTP timestamp of the last SR from this source, 0 if none.
    pub last_sr: u32,
    /// DLSR: delay since that SR arrived, in 1/65536 s; 0 if none.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Reads one 24-byte block; `bytes` holds at least that many.
    fn read(bytes: &[u8]) -> ReportBlock {
        let lost = be32(bytes, 4);
        ReportBlock {
            ssrc: be32(bytes, 0),
            fraction_lost: (lost >> 24) as u8,
            // Shifting the 24-bit field to the top and back sign-extends it.
            cumulative_lost: (lost << 8) as i32 >> 8,
            extended_highest_sequence: be32(bytes, 8),
            jitter: be32(bytes, 12),
            last_sr: be32(bytes, 16),
            delay_since_last_sr: be32(bytes, 20),
        }
    }

    /// Writes the 24-byte block into `out`, which holds exactly that many.
    pub(super) fn write(&self, out: &mut [u8]) {
        let lost = self.cumulative_lost.clamp(MIN_LOST, MAX_LOST) as u32 & 0xff_ffff;
        for (chunk, value) in out.chunks_exact_mut(4).zip([
            self.ssrc,
            u32::from(self.fraction_lost) << 24 | lost,
            self.extended_highest_sequence,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        ]) {
            chunk.copy_from_slice(&value.to_be_bytes());
        }
    }

    /// The report block a receiver sends about source `ssrc` now (A.3): the interval since the
    /// previous report is closed on `tracker`, so call this once per report. `None` while the
    /// source is on probation (no report block is due for it yet).
    pub fn from_reception(
        ssrc: u32,
        tracker: &mut SequenceTracker,
        jitter: &Jitter,
        last_sr: Option<&LastSr>,
        now: Instant,
    ) -> Option<ReportBlock> {
        let highest = tracker.extended_highest()?;
        let interval = tracker.take_interval();
        Some(ReportBlock {
            ssrc,
            fraction_lost: fraction_lost(interval),
            cumulative_lost: i32::try_from(tracker.lost().clamp(MIN_LOST.into(), MAX_LOST.into()))
                .unwrap_or(MAX_LOST),
            // The report carries the low 32 bits (cycles count modulo 2^16).
            extended_highest_sequence: highest as u32,
            jitter: jitter.get(),
            last_sr: last_sr.map_or(0, |sr| sr.lsr),
            delay_since_last_sr: last_sr.map_or(0, |sr| sr.dlsr(now)),
        })
    }
}

/// The fraction of packets lost over an interval, in 1/256 (A.3): 0 when nothing was expected
/// or duplicates made up for the loss, and 255 (not A.3's 256, which wraps to 0 in 8 bits)
/// when everything was lost.
pub fn fraction_lost(interval: Interval) -> u8 {
    let lost = i128::from(interval.expected) - i128::from(interval.received);
    if interval.expected == 0 || lost <= 0 {
        return 0;
    }
    u8::try_from((lost << 8) / i128::from(interval.expected)).unwrap_or(u8::MAX)
}

/// The report blocks in `bytes` (a whole number of blocks).
fn blocks(bytes: &[u8]) -> impl Iterator<Item = ReportBlock> + '_ {
    bytes.chunks_exact(BLOCK_LEN).map(ReportBlock::read)
}

/// Checks that `parts` holds `fixed` bytes and then `count` report blocks; returns where the
/// blocks end.
fn check_blocks(parts: &Parts<'_>, fixed: usize) -> Result<usize, Error> {
    let len = parts.body.len();
    if len < fixed {
        return Err(Error::TooShort {
            offset: parts.offset,
            packet_type: parts.packet_type,
            len,
            needed: fixed,
        });
    }
    let end = fixed + BLOCK_LEN * usize::from(parts.count);
    if end > len {
        return Err(Error::Count {
            offset: parts.offset,
            packet_type: parts.packet_type,
            count: parts.count,
        });
    }
    Ok(end)
}

/// A sender or receiver report (§6.4) as a borrowed view: `FIXED` bytes (an RR's SSRC of
/// the packet's sender; an SR's sender information, which starts with it), then the report
/// blocks, then the profile-specific extension. An RR is an SR without the sender information
/// (§6.4.2), so one view reads both: [`SenderReport`] and [`ReceiverReport`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Report<'a, const FIXED: usize> {
    /// RC.
    count: u8,
    /// Body after the common header, without padding.
    body: &'a [u8],
}

/// A sender report, SR (§6.4.1), as a borrowed view.
pub type SenderReport<'a> = Report<'a, SENDER_INFO_LEN>;

/// A receiver report, RR (§6.4.2), as a borrowed view.
pub type ReceiverReport<'a> = Report<'a, 4>;

impl<'a, const FIXED: usize> Report<'a, FIXED> {
    /// The packet type this view reads.
    const PACKET_TYPE: u8 = if FIXED == SENDER_INFO_LEN {
        SENDER_REPORT
    } else {
        RECEIVER_REPORT
    };

    /// Checks the fixed part (the sender information of an SR, the SSRC of an RR) and the
    /// report count against the length.
    pub(super) fn parse(parts: Parts<'a>) -> Result<Report<'a, FIXED>, Error> {
        debug_assert_eq!(parts.packet_type, Self::PACKET_TYPE);
        check_blocks(&parts, FIXED)?;
        Ok(Report {
            count: parts.count,
            body: parts.body,
        })
    }

    /// The number of report blocks (RC).
    pub fn count(&self) -> u8 {
        self.count
    }

    /// SSRC of the packet's sender.
    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// The report blocks, about the streams the packet's sender receives.
    pub fn report_blocks(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        blocks(split_blocks(self.body, FIXED, self.count).0)
    }

    /// Profile-specific extension after the report blocks (usually empty).
    pub fn extension(&self) -> &'a [u8] {
        split_blocks(self.body, FIXED, self.count).1
    }

    /// Bytes after the common header, without padding.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

impl SenderReport<'_> {
    /// The sender information: SSRC, NTP and RTP timestamps, packet and octet counts.
    pub fn sender_info(&self) -> SenderInfo {
        SenderInfo::read(self.body)
    }
}

impl std::fmt::Debug for SenderReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderReport")
            .field("sender_info", &self.sender_info())
            .field("report_blocks", &DebugIter(|| self.report_blocks()))
            .field("extension", &self.extension())
            .finish()
    }
}

impl std::fmt::Debug for ReceiverReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverReport")
            .field("ssrc", &format_args!("{:08x}", self.ssrc()))
            .field("report_blocks", &DebugIter(|| self.report_blocks()))
            .field("extension", &self.extension())
            .finish()
    }
}

/// A report's body split at the end of its `count` report blocks, which start at `start`:
/// the blocks, and the profile-specific extension after them (each empty where the body is
/// shorter).
fn split_blocks(body: &[u8], start: usize, count: u8) -> (&[u8], &[u8]) {
    let end = start + BLOCK_LEN * usize::from(count);
    (
        body.get(start..end).unwrap_or_default(),
        body.get(end..).unwrap_or_default(),
    )
}

/// Prints what an iterator yields as a list.
pub(super) struct DebugIter<F>(pub F);

impl<F, I> std::fmt::Debug for DebugIter<F>
where
    F: Fn() -> I,
    I: Iterator<Item: std::fmt::Debug>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries((self.0)()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fraction_lost_per_a3() {
        let f = |expected, received| fraction_lost(Interval { expected, received });
        assert_eq!(f(100, 100), 0);
        assert_eq!(f(100, 75), 64, "25 % lost is 64/256");
        assert_eq!(f(4, 3), 64);
        assert_eq!(f(3, 2), 85, "1/3 truncates to 85/256");
        assert_eq!(f(0, 0), 0, "nothing expected");
        assert_eq!(f(10, 12), 0, "duplicates outnumber losses");
        assert_eq!(f(10, 0), 255, "all lost saturates, not 256 wrapping to 0");
    }

    #[test]
    fn report_block_from_reception() {
        let origin = Instant::now();
        let mut tracker = SequenceTracker::new();
        let mut jitter = Jitter::new();
        assert_eq!(
            ReportBlock::from_reception(5, &mut tracker, &jitter, None, origin),
            None,
            "no report block while on probation"
        );
        // 65530..=65535 then 0..=3 with 65533 and 1 lost: 10 expected, 8 received.
        for seq in (65_530u16..=65_535).chain(0..=3) {
            if seq != 65_533 && seq != 1 {
                tracker.update(seq);
            }
        }
        for (i, delay) in [0u32, 90, 0, 90].into_iter().enumerate() {
            let ts = i as u32 * 3000;
            jitter.update(ts, ts + delay);
        }
        let sr = LastSr::new(NtpTimestamp(0x0000_1234_5678_0000), origin);
        let now = origin + Duration::from_secs(2);
        let block = ReportBlock::from_reception(5, &mut tracker, &jitter, Some(&sr), now).unwrap();
        assert_eq!(
            block,
            ReportBlock {
                ssrc: 5,
                fraction_lost: 51, // 2/10 of 256
                cumulative_lost: 2,
                extended_highest_sequence: 65_536 + 3,
                jitter: jitter.get(),
                last_sr: 0x1234_5678,
                delay_since_last_sr: 2 * 65_536,
            }
        );
        assert!(block.jitter > 0);
        // The next interval starts empty.
        tracker.update(4);
        let block = ReportBlock::from_reception(5, &mut tracker, &jitter, None, now).unwrap();
        assert_eq!((block.fraction_lost, block.cumulative_lost), (0, 2));
        assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
    }
}
