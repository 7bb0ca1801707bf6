//! Fuzzes the audio depacketizer: the first byte picks the format (L16, PCMU or PCMA, 1 to 8
//! channels), the rest is a sequence of payloads, each a length byte and that many bytes (the
//! last one whatever is left). Reading must not panic; a payload is read whole or refused with
//! nothing appended, in agreement with `samples_in`; L16 written back gives the same bytes, and
//! so does G.711 coded again (µ-law's negative zero, 0x7F, comes back as 0xFF).

#![no_main]

use hdstream_common::audio::{Depacketizer, Encoding, Format, g711, l16};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let encoding = [Encoding::L16, Encoding::Pcmu, Encoding::Pcma][usize::from(selector % 3)];
    let channels = u16::from(selector / 3 % 8) + 1;
    let format = Format {
        encoding,
        payload_type: 96,
        clock_rate: 8000,
        channels,
    };
    let depacketizer = Depacketizer::new(format).expect("L16, PCMU and PCMA are read");
    let mut out = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;

        let before = out.len();
        match depacketizer.read(payload, &mut out) {
            Ok(frames) => {
                assert_eq!(depacketizer.samples_in(payload.len()), Ok(frames));
                assert_eq!(out.len() - before, frames * usize::from(channels));
                let samples = &out[before..];
                let written: Vec<u8> = match encoding {
                    Encoding::L16 => {
                        let mut bytes = Vec::new();
                        l16::write(samples, &mut bytes);
                        bytes
                    }
                    Encoding::Pcmu => samples.iter().map(|&s| g711::encode_ulaw(s)).collect(),
                    _ => samples.iter().map(|&s| g711::encode_alaw(s)).collect(),
                };
                let expected: Vec<u8> = match encoding {
                    Encoding::Pcmu => payload
                        .iter()
                        .map(|&b| if b == 0x7F { 0xFF } else { b })
                        .collect(),
                    _ => payload.to_vec(),
                };
                assert_eq!(written, expected);
            }
            Err(e) => {
                let _ = e.to_string();
                assert_eq!(out.len(), before, "a refused payload appended samples");
                assert!(depacketizer.samples_in(payload.len()).is_err());
            }
        }
    }
});
