//! Finding where entropy-coded data ends (ITU-T T.81 §B.1.1.5, §F.1.2.3).
//!
//! Inside a scan, a data byte `0xFF` is always followed by a stuffed `0x00`, and restart markers
//! RST0..RST7 may appear between MCUs; any other marker ends the scan. Scanning with `memchr`
//! looks only at the `0xFF` bytes, which is what makes indexing a multi-GB file fast.

use super::marker;

/// The offset (in `data`) of the `0xFF` that starts the first marker at or after `start` that
/// is neither a stuffed `FF 00` nor RSTn; `None` if the data ends first.
///
/// Fill bytes (`FF FF … marker`) end the scan at the first `0xFF`: a data `0xFF` is never
/// followed by another `0xFF`.
pub(crate) fn scan_end(data: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let found = pos + memchr::memchr(0xFF, data.get(pos..)?)?;
        match *data.get(found + 1)? {
            0x00 => pos = found + 2,
            code if marker::is_rst(code) => pos = found + 2,
            _ => return Some(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_stuffed_bytes_and_restart_markers() {
        let data = [1, 0xFF, 0x00, 2, 0xFF, 0xD3, 3, 0xFF, 0xD9];
        assert_eq!(scan_end(&data, 0), Some(7));
    }

    #[test]
    fn fill_bytes_end_the_scan_at_the_first_ff() {
        let data = [1, 2, 0xFF, 0xFF, 0xFF, 0xD9];
        assert_eq!(scan_end(&data, 0), Some(2));
    }

    #[test]
    fn no_marker_before_the_end_is_none() {
        assert_eq!(scan_end(&[1, 2, 3], 0), None);
        assert_eq!(scan_end(&[1, 0xFF, 0x00], 0), None);
        // A lone 0xFF as the last byte: cannot tell what it starts.
        assert_eq!(scan_end(&[1, 0xFF], 0), None);
        assert_eq!(scan_end(&[], 0), None);
        assert_eq!(scan_end(&[1], 5), None);
    }
}
