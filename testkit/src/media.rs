//! Test media: numbered pattern frames (`hdstream_video::pattern`), made once and kept under
//! `target/test-media/` — [`hdstream_server::test_media`], the one home of the making,
//! re-exported here (it lives in the server because the server's own unit tests need it and
//! this kit depends on the server) — and the decoded pixels tests compare with, once per
//! process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hdstream_video::encoder::Restart;

pub use hdstream_server::test_media::*;

/// A directory holding `clip.mjpeg` (plain container) and `movie.Mjpeg` (the course's
/// container), both `frames` pattern frames of `width` × `height`; made on first use.
pub fn dir(width: u16, height: u16, frames: u64) -> PathBuf {
    pattern_dir(width, height, frames, Restart::None)
}

/// [`dir`], the frames encoded with `restart` markers.
pub fn dir_with(width: u16, height: u16, frames: u64, restart: Restart) -> PathBuf {
    pattern_dir(width, height, frames, restart)
}

/// The decoded pixels (`0x00RRGGBB`) of every frame of a file, in order.
pub type Pictures = Arc<Vec<Vec<u32>>>;

/// The decoded pixels of every frame of a file, as the server indexes it; decoded once per
/// process.
pub fn pictures_of(path: &Path) -> Pictures {
    static DECODED: Mutex<Option<HashMap<PathBuf, Pictures>>> = Mutex::new(None);
    let mut decoded = DECODED.lock().unwrap_or_else(|e| e.into_inner());
    let decoded = decoded.get_or_insert_with(HashMap::new);
    if let Some(pictures) = decoded.get(path) {
        return Arc::clone(pictures);
    }
    let file = hdstream_video::MjpegFile::open(path).expect("index test media");
    let pictures: Pictures = Arc::new(
        (0..file.len())
            .filter_map(|i| file.frame(i))
            .map(pixels)
            .collect(),
    );
    decoded.insert(path.to_path_buf(), Arc::clone(&pictures));
    pictures
}

/// The decoded pixels of one JPEG (a frame the client rebuilt carries the same picture in
/// other headers: RFC 2435 rebuilds them, without the file's APP segments).
pub fn pixels(jpeg: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    hdstream_video::decoder::Decoder::new()
        .decode_0rgb(jpeg, &mut out)
        .expect("a decodable frame");
    out
}
