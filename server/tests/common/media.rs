//! Test media: ffmpeg clips and pattern files cached under `target/test-media/`, frame
//! checksums, and noise to find samples in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hdstream_video::encoder::Settings;

use super::{Finished, run, tool};

// ---------------------------------------------------------------- test media

/// Generated files, kept between runs under `target/test-media/`, made once
/// (`hdstream_server::test_media`, the one home of it for every test of the workspace).
#[allow(unused_imports)] // each test binary uses a part, as with the rest of this module
pub use hdstream_server::test_media::{cached, cached_bytes, pattern_file, pattern_file_with};

/// `target/test-media/`.
pub fn media_cache() -> PathBuf {
    hdstream_server::test_media::cache_dir()
}

/// An ffmpeg `testsrc2` (or other lavfi source) clip encoded as plain concatenated JPEGs with the standard Huffman
/// tables (RFC 2435-ready when `pix_fmt` is 4:2:0 or 4:2:2).
#[derive(Debug, Clone, Copy)]
pub struct Clip {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second of the pattern.
    pub fps: u32,
    /// Number of frames.
    pub frames: u32,
    /// ffmpeg pixel format, e.g. `yuvj420p`.
    pub pix_fmt: &'static str,
    /// ffmpeg `-q:v` (2 best … 31 worst).
    pub quality: u32,
    /// ffmpeg lavfi source drawn: `testsrc2` (detailed, moving) unless set.
    pub source: &'static str,
    /// ffmpeg `-huffman`: `default` (the standard tables RFC 2435 implies) unless set.
    pub huffman: &'static str,
}

impl Clip {
    /// A 30 fps, 4:2:0 clip of `seconds`.
    pub const fn new(width: u32, height: u32, seconds: u32) -> Clip {
        Clip {
            width,
            height,
            fps: 30,
            frames: seconds * 30,
            pix_fmt: "yuvj420p",
            quality: 5,
            source: "testsrc2",
            huffman: "default",
        }
    }

    /// The same clip at ffmpeg `-q:v` `quality`.
    pub const fn quality(mut self, quality: u32) -> Clip {
        self.quality = quality;
        self
    }

    /// The same clip with ffmpeg's `-huffman optimal` tables (smaller frames; a JPEG that only
    /// the course dialect, which sends the file's bytes, carries unchanged).
    pub const fn optimal_huffman(mut self) -> Clip {
        self.huffman = "optimal";
        self
    }

    /// The same clip drawn by the lavfi source `source` (e.g. `gradients`, which compresses
    /// far better than `testsrc2`).
    pub const fn source(mut self, source: &'static str) -> Clip {
        self.source = source;
        self
    }

    /// The same clip in another pixel format.
    pub const fn pix_fmt(mut self, pix_fmt: &'static str) -> Clip {
        self.pix_fmt = pix_fmt;
        self
    }

    /// The same clip with `frames` frames.
    pub const fn frames(mut self, frames: u32) -> Clip {
        self.frames = frames;
        self
    }

    /// Its cache file name (every parameter in it).
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}x{}-{}fps-{}f-{}-q{}{}.mjpeg",
            self.source,
            self.width,
            self.height,
            self.fps,
            self.frames,
            self.pix_fmt,
            self.quality,
            if self.huffman == "default" {
                ""
            } else {
                "-huffman-optimal"
            }
        )
    }

    /// The file, generated on first use.
    pub fn path(&self) -> PathBuf {
        cached(&self.file_name(), |tmp| {
            let done = run(
                Command::new(tool("ffmpeg"))
                    .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
                    .arg(format!(
                        "{}=size={}x{}:rate={}",
                        self.source, self.width, self.height, self.fps
                    ))
                    .args(["-frames:v", &self.frames.to_string(), "-c:v", "mjpeg"])
                    .args(["-q:v", &self.quality.to_string(), "-pix_fmt", self.pix_fmt])
                    .args(["-huffman", self.huffman, "-f", "mjpeg"])
                    .arg(tmp),
                Duration::from_secs(120),
            );
            assert!(
                done.status.success(),
                "ffmpeg could not make {}: {}",
                self.file_name(),
                done.stderr
            );
        })
    }
}

/// A fresh directory `target/tmp/<name>-<pid>` holding `files` (name in the root → source file), hard
/// linked (copied if that fails) so the media root is self-contained.
pub fn media_root(name: &str, files: &[(&str, &Path)]) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_roots(tmp, name);
    let root = tmp.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("create media root");
    for (file, source) in files {
        let to = root.join(file);
        // Never copy onto an existing name: it may be a hard link of `source` itself (another
        // test's root of the same name), and copying would truncate the cached file.
        let _ = std::fs::remove_file(&to);
        if std::fs::hard_link(source, &to).is_err() {
            // Copied beside and renamed over: writing through `to` could write into whatever
            // cached file it is a link of.
            let tmp = root.join(format!(".{file}.copy"));
            std::fs::copy(source, &tmp).expect("copy media");
            std::fs::rename(&tmp, &to).expect("rename copied media");
        }
    }
    root
}

/// Removes `<name>-<pid>` directories left by earlier runs whose process is gone.
fn remove_stale_roots(tmp: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(name)?.strip_prefix('-'))
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The JPEG frames of an MJPEG file, as the server indexes it.
pub fn frames_of(path: &Path) -> Vec<Vec<u8>> {
    let file = hdstream_video::MjpegFile::open(path).expect("index test media");
    (0..file.len())
        .map(|i| file.frame(i).expect("indexed frame").to_vec())
        .collect()
}

/// The end of a GStreamer pipeline that decodes JPEG and prints one MD5 line per frame.
pub const DECODE_TO_CHECKSUMS: [&str; 6] = [
    "!",
    "jpegdec",
    "!",
    "checksumsink",
    "hash=md5",
    "sync=false",
];

/// The MD5 of each decoded frame in `checksumsink` output (`<time> <md5>` per line).
pub fn checksums(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .nth(1)
                .filter(|h| h.len() == 32)
                .map(str::to_owned)
        })
        .collect()
}

/// The per-frame MD5s `ffmpeg … -f framemd5 -` prints for a decode of `input_args`; its stderr
/// holds warnings and errors, each line prefixed `[warning]` or `[error]`.
pub fn framemd5(input_args: &[&str], timeout: Duration) -> (Vec<String>, Finished) {
    let done = run(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-loglevel", "level+warning"])
            .args(input_args)
            .args(["-f", "framemd5", "-"]),
        timeout,
    );
    let md5s = parse_framemd5(&done.stdout_text());
    (md5s, done)
}

/// The hash column of framemd5 output.
pub fn parse_framemd5(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

/// Which of `reference`'s frames from `first` on are missing from `got` (decoded frames matched
/// in order), and how many of `got` matched: all of them when `got` holds nothing else.
pub fn missing_in_order(reference: &[String], got: &[String], first: usize) -> (Vec<usize>, usize) {
    let mut missing = Vec::new();
    let mut k = 0;
    for (i, md5) in reference.iter().enumerate().skip(first) {
        if got.get(k) == Some(md5) {
            k += 1;
        } else {
            missing.push(i);
        }
    }
    (missing, k)
}

// ---------------------------------------------------------------- sound

/// Sample rate of the tests' noise.
pub const NOISE_RATE: usize = 48_000;
/// Channels of the tests' noise.
pub const NOISE_CHANNELS: usize = 2;

/// `seconds` of 48 kHz stereo noise from `seed`: any run of 64 samples is found in one place
/// only, so a receiver's samples can be located in the source and compared.
pub fn noise(seed: u32, seconds: usize) -> Vec<i16> {
    let mut x = seed;
    (0..NOISE_RATE * NOISE_CHANNELS * seconds)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i16) / 4
        })
        .collect()
}

/// `target/test-media/<name>`: [`noise`]`(seed, seconds)` as a 16-bit PCM WAV file.
pub fn noise_wav(name: &str, seed: u32, seconds: usize) -> PathBuf {
    cached(name, |path| {
        let data = noise(seed, seconds);
        let len = u32::try_from(data.len() * 2).expect("a WAV under 4 GiB");
        let header = hdstream_common::audio::wav::header(NOISE_RATE as u32, 2, len);
        let mut bytes = header.to_vec();
        bytes.extend(data.iter().flat_map(|s| s.to_le_bytes()));
        std::fs::write(path, bytes).expect("write the WAV");
    })
}

/// Little-endian 16-bit samples of a raw file (none when it cannot be read).
pub fn read_s16le(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

// ---------------------------------------------------------------- media

/// A test-pattern MJPEG (plain concatenated RFC 2435-ready JPEGs, 4:2:0, standard Huffman
/// tables) of `frames` frames, cached under `target/test-media/` by its parameters.
pub fn pattern_clip(width: u16, height: u16, frames: u32, quality: u8) -> PathBuf {
    pattern_file_with(width, height, u64::from(frames), Settings::quality(quality))
}
