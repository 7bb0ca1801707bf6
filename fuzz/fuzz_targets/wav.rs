//! Arbitrary bytes as a WAV file: parsing must not panic; what parses must lie inside the file,
//! be whole sample frames, and survive a rewrite through the canonical header (same format,
//! same samples). Errors must name an offset inside the file.

#![no_main]

use hdstream_common::audio::wav;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = match wav::parse(data) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.to_string();
            assert!(
                e.offset() <= data.len(),
                "{e} past the end ({} bytes)",
                data.len()
            );
            return;
        }
    };
    assert!(parsed.data.start <= parsed.data.end && parsed.data.end <= data.len());
    assert_eq!(parsed.data.len() % parsed.frame_len(), 0);
    let samples = parsed.data(data);
    let mut pcm = Vec::new();
    assert_eq!(parsed.read_samples(data, &mut pcm), samples.len() / 2);

    let Ok(len) = u32::try_from(samples.len()) else {
        return;
    };
    if parsed.channels > 32_767 {
        // The canonical header's block align is 16 bits.
        return;
    }
    let mut file = wav::header(parsed.sample_rate, parsed.channels, len).to_vec();
    file.extend_from_slice(samples);
    let again = wav::parse(&file).unwrap_or_else(|e| panic!("own output does not parse: {e}"));
    assert_eq!(
        (again.sample_rate, again.channels, again.bits),
        (parsed.sample_rate, parsed.channels, parsed.bits)
    );
    assert_eq!(again.data(&file), samples);
});
