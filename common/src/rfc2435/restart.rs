//! Restart intervals in JPEG scan data (ITU-T T.81 §B.2.4.4, §F.1.2.3) as RFC 2435 §3.1.7
//! carries them: where they start and end, how many a frame has, and which pixels each covers.
//!
//! Scan data restarts every `restart_interval` MCUs: the entropy coder is reset (DC
//! predictions to zero, bit buffer padded to a byte) and a marker RSTm (`FF D0` .. `FF D7`,
//! m counting 0..7 round) is written between two intervals, none after the last. Each interval
//! therefore decodes on its own, given the frame's tables, which is what lets a sender align
//! packets with intervals and a receiver use the intervals that arrived.

use super::Subsampling;

/// The first byte of every marker.
const MARKER: u8 = 0xFF;

/// Whether `code` is the second byte of a restart marker RST0..RST7.
fn is_restart_code(code: u8) -> bool {
    (0xD0..=0xD7).contains(&code)
}

/// Whether an interval starts at byte `at` of `scan`: at its start, its end, or just after a
/// restart marker.
pub fn is_boundary(scan: &[u8], at: usize) -> bool {
    at == 0 || at == scan.len() || (at >= 2 && at <= scan.len() && marker_at(&scan[..at], at - 2))
}

/// The m of the restart marker RSTm that `data` ends with, if it does.
pub fn trailing_marker(data: &[u8]) -> Option<u8> {
    match data {
        [.., MARKER, code] if is_restart_code(*code) => Some(code - 0xD0),
        _ => None,
    }
}

/// Whether a restart marker starts at byte `i` of `data`. Inside entropy-coded data every
/// `FF` is followed by `00` (stuffing) or a marker, so `FF Dm` is never anything else.
fn marker_at(data: &[u8], i: usize) -> bool {
    data.get(i) == Some(&MARKER) && data.get(i + 1).is_some_and(|&c| is_restart_code(c))
}

/// The restart markers in `data`.
pub fn count_markers(data: &[u8]) -> usize {
    memchr::memchr_iter(MARKER, data)
        .filter(|&i| marker_at(data, i))
        .count()
}

/// The end of the last restart marker wholly inside `data[..limit]` that ends after byte 0:
/// where a packet of whole intervals starting at `data[0]` can end. `None` when no interval
/// ends within `limit` bytes.
pub fn last_boundary_within(data: &[u8], limit: usize) -> Option<usize> {
    let window = &data[..limit.min(data.len())];
    memchr::memrchr_iter(MARKER, window)
        .find(|&i| marker_at(window, i))
        .map(|i| i + 2)
}

/// Splits whole intervals at their markers: each piece is one interval's data followed by its
/// restart marker, except a last piece that does not end in one (the frame's last interval).
pub fn intervals(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr_iter(MARKER, rest)
            .find(|&i| marker_at(rest, i))
            .map_or(rest.len(), |i| i + 2);
        let (piece, after) = rest.split_at(end);
        rest = after;
        Some(piece)
    })
}

/// The pixel size of one MCU: 16 × 16 for 4:2:0, 16 × 8 for 4:2:2.
pub fn mcu_size(subsampling: Subsampling) -> (u16, u16) {
    let (h, v) = subsampling.luma_sampling();
    (u16::from(h) * 8, u16::from(v) * 8)
}

/// MCUs across and down a `width` × `height` frame.
pub fn mcu_grid(subsampling: Subsampling, width: u16, height: u16) -> (u32, u32) {
    let (w, h) = mcu_size(subsampling);
    (u32::from(width.div_ceil(w)), u32::from(height.div_ceil(h)))
}

/// How many restart intervals a frame has (0 without restart markers).
pub fn interval_count(
    subsampling: Subsampling,
    width: u16,
    height: u16,
    restart_interval: u16,
) -> u32 {
    if restart_interval == 0 {
        return 0;
    }
    let (across, down) = mcu_grid(subsampling, width, height);
    (across * down).div_ceil(u32::from(restart_interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three intervals: `11 FF 00`, `22`, `33 33`.
    const SCAN: [u8; 10] = [0x11, 0xFF, 0x00, 0xFF, 0xD0, 0x22, 0xFF, 0xD1, 0x33, 0x33];

    #[test]
    fn markers_are_found_and_stuffed_bytes_are_not() {
        assert_eq!(count_markers(&SCAN), 2);
        assert_eq!(count_markers(&SCAN[..4]), 0);
        assert_eq!(count_markers(&[0xFF]), 0);
        let pieces: Vec<&[u8]> = intervals(&SCAN).collect();
        assert_eq!(pieces, [&SCAN[..5], &SCAN[5..8], &SCAN[8..]]);
        assert_eq!(intervals(&SCAN[..5]).count(), 1);
        assert_eq!(intervals(&[]).count(), 0);
    }

    #[test]
    fn boundaries_follow_markers() {
        let at: Vec<usize> = (0..=SCAN.len())
            .filter(|&i| is_boundary(&SCAN, i))
            .collect();
        assert_eq!(at, [0, 5, 8, 10]);
        assert_eq!(last_boundary_within(&SCAN, 10), Some(8));
        assert_eq!(last_boundary_within(&SCAN, 7), Some(5));
        assert_eq!(last_boundary_within(&SCAN, 4), None);
        // A marker cut by the limit does not count.
        assert_eq!(last_boundary_within(&SCAN, 4), None);
        assert_eq!(last_boundary_within(&SCAN[5..], 100), Some(3));
    }

    #[test]
    fn interval_counts_round_up() {
        // 1440p 4:2:0: 160 x 90 MCUs; a row per interval.
        assert_eq!(mcu_grid(Subsampling::Yuv420, 2560, 1440), (160, 90));
        assert_eq!(interval_count(Subsampling::Yuv420, 2560, 1440, 160), 90);
        assert_eq!(interval_count(Subsampling::Yuv422, 100, 48, 7), 6);
        assert_eq!(interval_count(Subsampling::Yuv420, 100, 48, 0), 0);
        assert_eq!(interval_count(Subsampling::Yuv420, 100, 50, 3), 10);
    }
}
