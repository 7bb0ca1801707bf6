//! Test media, made once and kept on disk: the one home of "make the test media once" for every
//! test of the workspace — the server core's unit tests (`testing`), the server's and the
//! client's integration tests, and `hdstream_testkit::media`, which re-exports this module —
//! and of the user those tests log in as ([`alice`]).
//!
//! It lives in the server, not in the test kit, because the server's own unit tests need it and
//! the test kit depends on the server: here nothing depends on anything twice. It is compiled
//! into the library (the linker drops it from the binary) but used by tests only.
//!
//! Files are kept in `target/test-media/` (found from the running test's path; `$TMPDIR`
//! when there is no Cargo target directory), named by everything that makes them, so a clip
//! is encoded once per target directory, not once per test process — tests under
//! cargo-nextest each run in a process of their own. Within a process one thread makes a file
//! while the others wait; between processes, each writes under a temporary name and renames
//! it into place, so nobody ever sees half a file (two processes may both make it, once).

pub mod av;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use hdstream_video::encoder::{Restart, Settings};
use hdstream_video::pattern::{self, Pattern};

/// The quality of the pattern files when a test does not choose one.
pub const QUALITY: u8 = 80;

/// `target/test-media/` (created), where every cached file lives.
pub fn cache_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir()
            .map(|t| t.join("test-media"))
            .unwrap_or_else(|| std::env::temp_dir().join("hdstream-test-media"));
        std::fs::create_dir_all(&dir).expect("create the test media directory");
        dir
    })
    .clone()
}

/// The Cargo target directory of the running test: the nearest directory above the
/// executable (`target/debug/deps/name-hash`) holding Cargo's `CACHEDIR.TAG`.
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

/// `target/test-media/<name>` (`name` may name a subdirectory: `talk/talk.wav`), made by
/// `make(temporary path)` when it is not there yet: a file or a directory, written whole at
/// the temporary path and then renamed into place. `make` must not call `cached` (one making
/// at a time: it would wait for itself).
pub fn cached(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    /// One making at a time in a process: two threads wanting one file make it once (and
    /// two encodings would only share the machine's two cores).
    static MAKING: Mutex<()> = Mutex::new(());
    let path = cache_dir().join(name);
    if path.exists() {
        return path;
    }
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    let (Some(parent), Some(file_name)) = (path.parent(), path.file_name()) else {
        panic!("no file name in the test media name {name:?}");
    };
    std::fs::create_dir_all(parent).expect("create the test media directory");
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    remove(&tmp);
    make(&tmp);
    if let Err(e) = std::fs::rename(&tmp, &path) {
        // A directory cannot replace another process's: that one is as good as ours.
        remove(&tmp);
        assert!(
            path.exists(),
            "cannot move {} into place: {e}",
            tmp.display()
        );
    }
    path
}

/// [`cached`] for a file whose bytes `make` returns.
pub fn cached_bytes(name: &str, make: impl FnOnce() -> Vec<u8>) -> PathBuf {
    cached(name, |tmp| {
        std::fs::write(tmp, make()).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    })
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_dir_all(path);
}

/// The JPEGs of `frames` numbered pattern frames (`hdstream_video::pattern`), encoded on two
/// threads.
pub fn pattern_jpegs(width: u16, height: u16, frames: u64, settings: Settings) -> Vec<Vec<u8>> {
    const THREADS: u64 = 2;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut pattern = Pattern::new(width, height);
                    (t..frames)
                        .step_by(THREADS as usize)
                        .map(|n| {
                            let mut jpeg = Vec::new();
                            pattern
                                .encode_with(n, settings, &mut jpeg)
                                .expect("encode a pattern frame");
                            (n, jpeg)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(u64, Vec<u8>)> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("a pattern encoder thread"))
            .collect();
        all.sort_by_key(|(n, _)| *n);
        all.into_iter().map(|(_, jpeg)| jpeg).collect()
    })
}

/// The cache name of a pattern clip.
fn pattern_name(width: u16, height: u16, frames: u64, settings: Settings) -> String {
    let restart = match settings.restart {
        Restart::None => String::new(),
        restart => format!("-rst{restart}"),
    };
    format!(
        "pattern-{width}x{height}-{frames}f-q{}{restart}",
        settings.quality
    )
}

/// A plain MJPEG file (concatenated RFC 2435-ready JPEGs, 4:2:0, standard tables) of `frames`
/// numbered pattern frames of `width` × `height` at [`QUALITY`].
pub fn pattern_file(width: u16, height: u16, frames: u64) -> PathBuf {
    pattern_file_with(width, height, frames, Settings::quality(QUALITY))
}

/// [`pattern_file`] encoded with `settings` (quality, restart markers).
pub fn pattern_file_with(width: u16, height: u16, frames: u64, settings: Settings) -> PathBuf {
    let name = format!("{}.mjpeg", pattern_name(width, height, frames, settings));
    cached(&name, |tmp| {
        let jpegs = pattern_jpegs(width, height, frames, settings);
        std::fs::write(tmp, pattern::plain(&jpegs)).expect("write a pattern file");
    })
}

/// A directory holding `clip.mjpeg` (plain) and `movie.Mjpeg` (the course's container), both
/// `frames` pattern frames of `width` × `height` at [`QUALITY`] with `restart` markers.
pub fn pattern_dir(width: u16, height: u16, frames: u64, restart: Restart) -> PathBuf {
    let settings = Settings {
        quality: QUALITY,
        restart,
    };
    let name = format!("{}-dir", pattern_name(width, height, frames, settings));
    cached(&name, |tmp| {
        std::fs::create_dir_all(tmp).expect("create a pattern directory");
        let jpegs = pattern_jpegs(width, height, frames, settings);
        std::fs::write(tmp.join("clip.mjpeg"), pattern::plain(&jpegs)).expect("write clip.mjpeg");
        std::fs::write(tmp.join("movie.Mjpeg"), pattern::course(&jpegs))
            .expect("write movie.Mjpeg");
    })
}

/// Frames in each file of [`core_dir`].
pub const CORE_FRAMES: u64 = 30;
/// Frame size of the files of [`core_dir`].
pub const CORE_SIZE: (u16, u16) = (320, 240);

/// The server core's unit-test media root (a directory; bump its version in the name when
/// what it holds changes):
/// - `clip.mjpeg`: [`CORE_FRAMES`] pattern frames, plain container (30 fps: 1 s);
/// - `movie.Mjpeg`: the same frames in the course's container (20 fps: 1.5 s);
/// - `full.mjpeg`: one 4:4:4 frame, which RFC 2435 cannot carry;
/// - `talk.mjpeg` + `talk.wav` + `talk.vtt`: the clip with 1 s of 48 kHz stereo sound
///   ([`talk_sample`]s) and two captions ([`TALK_VTT`]) beside it;
/// - `escape.mjpeg`: a symbolic link to a file outside the directory (the cached
///   [`pattern_file`] of the same frames).
pub fn core_dir() -> PathBuf {
    let (width, height) = CORE_SIZE;
    // The target of the link out of the root, made first: `cached` does not nest.
    let clip = pattern_file(width, height, CORE_FRAMES);
    cached("core-v1", |tmp| {
        std::fs::create_dir_all(tmp).expect("create the core's media directory");
        let frames = pattern_jpegs(width, height, CORE_FRAMES, Settings::quality(QUALITY));
        std::fs::write(tmp.join("clip.mjpeg"), pattern::plain(&frames)).expect("write clip.mjpeg");
        std::fs::write(tmp.join("movie.Mjpeg"), pattern::course(&frames))
            .expect("write movie.Mjpeg");
        std::fs::write(tmp.join("full.mjpeg"), full_chroma_jpeg()).expect("write full.mjpeg");
        std::fs::write(tmp.join("talk.mjpeg"), pattern::plain(&frames)).expect("write talk.mjpeg");
        std::fs::write(tmp.join("talk.wav"), talk_wav()).expect("write talk.wav");
        std::fs::write(tmp.join("talk.vtt"), TALK_VTT).expect("write talk.vtt");
        // A link out of the media root, to a file that must not be served.
        std::os::unix::fs::symlink(&clip, tmp.join("escape.mjpeg")).expect("link escape.mjpeg");
    })
}

/// The tests' user (realm `hdstream`): `alice`, password `s3cret`, who may read every path —
/// one for the authentication tests of the server core, the server and the client.
pub fn alice() -> crate::access::Users {
    crate::access::Users {
        realm: "hdstream".into(),
        users: Vec::new(),
    }
    .with_user("alice", "s3cret", vec!["*".into()], vec![])
}

/// `talk.vtt`: two captions within the clip's second.
pub const TALK_VTT: &str = "WEBVTT\n\n00:00.200 --> 00:00.500\nhello\n\n\
                            00:00.600 --> 00:00.900 line:0\n<b>two</b>\nlines\n";

/// Sample `i` of channel `c` of `talk.wav`: a ramp, so every sample says where it is.
pub fn talk_sample(i: usize, c: usize) -> i16 {
    ((i * 7 + c * 1000) % 30_000) as i16
}

/// `talk.wav`: 1 s (as long as the clip) of 48 kHz stereo [`talk_sample`]s.
fn talk_wav() -> Vec<u8> {
    let samples: Vec<i16> = (0..48_000)
        .flat_map(|i| [talk_sample(i, 0), talk_sample(i, 1)])
        .collect();
    crate::sound::wav_bytes(48_000, 2, &samples)
}

/// A 64x64 JPEG with 4:4:4 sampling (RFC 2435 carries 4:2:0 and 4:2:2 only).
fn full_chroma_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    let rgb = vec![128u8; 64 * 64 * 3];
    encoder
        .encode(&rgb, 64, 64, jpeg_encoder::ColorType::Rgb)
        .expect("encode a 4:4:4 frame");
    out
}
