//! What every container target checks of a demuxer's answer to arbitrary bytes.

use hdstream_video::container::{Demuxed, Error};
use hdstream_video::{Container, Index};

/// Checks `demuxed`, the answer to `data`: an error names an offset inside the file; a
/// success has frames, a finite positive frame rate, and every frame and sound packet inside
/// the file. The frames then go through the JPEG index as the server's open does (as a file
/// of `container`).
pub fn check(data: &[u8], demuxed: Result<Demuxed, Error>, container: Container) {
    let demuxed = match demuxed {
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
    let _ = Index::from_frames(data, container, &demuxed.frames);
}
