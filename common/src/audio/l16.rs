//! L16 samples (RFC 3551 §4.5.11): signed 16-bit, big-endian (network byte order), channels
//! interleaved within each sample frame (RFC 3551 §4.3: left before right).

/// Appends `samples` to `out` as L16: two big-endian bytes each, in order.
pub fn write(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    out.extend(samples.iter().flat_map(|s| s.to_be_bytes()));
}

/// Appends the samples of the L16 bytes `payload` to `out`, in order; returns how many it
/// appended. A trailing odd byte is not a sample and is left out (the
/// [`Depacketizer`](super::Depacketizer) refuses such a payload before it gets here).
pub fn read(payload: &[u8], out: &mut Vec<i16>) -> usize {
    let pairs = payload.chunks_exact(2);
    let n = pairs.len();
    out.reserve(n);
    out.extend(pairs.map(|p| i16::from_be_bytes([p[0], p[1]])));
    n
}

/// Appends the samples of little-endian 16-bit bytes (a WAV `data` chunk) to `out`; returns
/// how many it appended. A trailing odd byte is left out.
pub fn read_le(bytes: &[u8], out: &mut Vec<i16>) -> usize {
    let pairs = bytes.chunks_exact(2);
    let n = pairs.len();
    out.reserve(n);
    out.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
    n
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn big_endian_on_the_wire() {
        let mut out = vec![0xAA];
        write(&[0x0102, -2, i16::MIN, i16::MAX], &mut out);
        assert_eq!(out, [0xAA, 0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00, 0x7F, 0xFF]);
        let mut samples = vec![7];
        assert_eq!(read(&out[1..], &mut samples), 4);
        assert_eq!(samples, [7, 0x0102, -2, i16::MIN, i16::MAX]);
    }

    #[test]
    fn odd_byte_left_out() {
        let mut samples = Vec::new();
        assert_eq!(read(&[0x01, 0x02, 0x03], &mut samples), 1);
        assert_eq!(samples, [0x0102]);
        assert_eq!(read(&[], &mut samples), 0);
        assert_eq!(read(&[9], &mut samples), 0);
        assert_eq!(samples, [0x0102]);
        assert_eq!(read_le(&[0x01, 0x02, 0x03], &mut samples), 1);
        assert_eq!(samples, [0x0102, 0x0201]);
    }

    proptest! {
        /// write → read gives the samples back, after what `out` held.
        #[test]
        fn round_trip(samples in prop::collection::vec(any::<i16>(), 0..2000), prefix in any::<i16>()) {
            let mut bytes = Vec::new();
            write(&samples, &mut bytes);
            prop_assert_eq!(bytes.len(), samples.len() * 2);
            let mut back = vec![prefix];
            prop_assert_eq!(read(&bytes, &mut back), samples.len());
            prop_assert_eq!(&back[1..], &samples[..]);
        }
    }
}
