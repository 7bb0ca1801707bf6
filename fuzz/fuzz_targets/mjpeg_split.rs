//! Split arbitrary bytes, fed in arbitrary chunks, into JPEG frames as `hdstream-publish -`
//! reads stdin. Nothing may panic; every frame starts with SOI and ends with EOI, is within
//! the limit, and the same bytes in one piece give the same frames.
#![no_main]

use hdstream_video::split::Splitter;
use libfuzzer_sys::fuzz_target;

const MAX: usize = 4096;

fn split(data: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut splitter = Splitter::new(MAX);
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        splitter.push(piece);
        while let Some(frame) = splitter.next_frame() {
            out.push(frame.map_err(|e| e.to_string()));
        }
    }
    out
}

fuzz_target!(|input: (u8, &[u8])| {
    let (chunk, data) = input;
    let chunked = split(data, usize::from(chunk));
    for frame in chunked.iter().flatten() {
        assert!(frame.starts_with(&[0xFF, 0xD8]) && frame.ends_with(&[0xFF, 0xD9]));
        assert!(frame.len() <= MAX);
    }
    let whole: Vec<Vec<u8>> = split(data, data.len()).into_iter().flatten().collect();
    let pieces: Vec<Vec<u8>> = chunked.into_iter().flatten().collect();
    assert_eq!(whole, pieces, "chunking changed the frames");
});
