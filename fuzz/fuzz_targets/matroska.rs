//! Arbitrary bytes as a Matroska file (`hdstream_video::container::matroska`): demuxing must not
//! panic; every frame and sound packet it finds must lie inside the file, and an error must name
//! an offset inside it. The frames then go through the JPEG index as the server's open does.

#![no_main]

use hdstream_video::container::matroska;
use hdstream_video::{Container, Index};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let demuxed = match matroska::demux(data) {
        Ok(d) => d,
        Err(e) => {
            let _ = e.to_string();
            assert!(e.offset <= data.len() as u64, "{e} past the end ({} bytes)", data.len());
            return;
        }
    };
    assert!(!demuxed.frames.is_empty());
    assert!(demuxed.fps > 0.0 && demuxed.fps.is_finite());
    for f in &demuxed.frames {
        assert!(f.start <= f.end && f.end <= data.len());
    }
    if let Some(sound) = &demuxed.sound {
        for p in &sound.packets {
            assert!(p.range.start <= p.range.end && p.range.end <= data.len());
        }
    }
    let _ = Index::from_frames(data, Container::Matroska, &demuxed.frames);
});
