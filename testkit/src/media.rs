//! Test media: numbered pattern frames (`hdstream_video::pattern`), written once per process
//! under the system's temporary directory.

use std::path::PathBuf;

use hdstream_video::encoder::{Restart, Settings};
use hdstream_video::pattern;

/// A directory holding `clip.mjpeg` (plain container) and `movie.Mjpeg` (the course's
/// container), both `frames` pattern frames of `width` × `height`; made on first use.
pub fn dir(width: u16, height: u16, frames: u64) -> PathBuf {
    dir_with(width, height, frames, Restart::None)
}

/// [`dir`], the frames encoded with `restart` markers.
pub fn dir_with(width: u16, height: u16, frames: u64, restart: Restart) -> PathBuf {
    let name = format!(
        "hdstream-testkit-{}-{width}x{height}-{frames}-rst{restart}",
        std::process::id()
    );
    let dir = std::env::temp_dir().join(name);
    if dir.join(".complete").exists() {
        return dir;
    }
    // Tests run on several threads: each writes its own copy and renames it into place.
    let thread = format!("{:?}", std::thread::current().id()).replace(['(', ')'], "");
    let tmp = dir.with_extension(thread);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("create the test media directory");
    let settings = Settings {
        quality: 80,
        restart,
    };
    let jpegs =
        pattern::frames_with(width, height, frames, settings).expect("encode pattern frames");
    std::fs::write(tmp.join("clip.mjpeg"), pattern::plain(&jpegs)).expect("write clip.mjpeg");
    std::fs::write(tmp.join("movie.Mjpeg"), pattern::course(&jpegs)).expect("write movie.Mjpeg");
    std::fs::write(tmp.join(".complete"), b"").expect("mark complete");
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

/// The decoded pixels (`0x00RRGGBB`) of every frame of a file, as the server indexes it.
pub fn pictures_of(path: &std::path::Path) -> Vec<Vec<u32>> {
    let file = hdstream_video::MjpegFile::open(path).expect("index test media");
    (0..file.len())
        .filter_map(|i| file.frame(i))
        .map(pixels)
        .collect()
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
