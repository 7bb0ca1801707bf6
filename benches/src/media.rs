//! Test media for the benchmark: numbered test-pattern MJPEG files made on first use and cached
//! under `target/media/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hdstream_tools::generate::{self, Options, Source};
use hdstream_tools::tone::{self, Tone};
use hdstream_video::MjpegFile;
use hdstream_video::encoder::Restart;
use hdstream_video::index::Container;

/// One benchmark row: a frame size and a frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels (the "p" number).
    pub height: u16,
    /// Frames per second.
    pub fps: u32,
}

impl Resolution {
    /// Parses `1440p60` (16:9 width) or `1440p` (30 fps).
    pub fn parse(s: &str) -> Result<Resolution, String> {
        let (h, fps) = s
            .split_once('p')
            .ok_or_else(|| format!("{s:?}: expected e.g. 1080p30"))?;
        let height: u16 = h.parse().map_err(|_| format!("{s:?}: bad height"))?;
        let fps: u32 = if fps.is_empty() {
            30
        } else {
            fps.parse().map_err(|_| format!("{s:?}: bad fps"))?
        };
        if !(144..=4320).contains(&height) || !(1..=240).contains(&fps) {
            return Err(format!("{s:?}: height 144..4320 and fps 1..240 please"));
        }
        // 16:9, width rounded to a multiple of 16 as encoders like.
        let width = ((u32::from(height) * 16 / 9).div_ceil(16) * 16) as u16;
        Ok(Resolution { width, height, fps })
    }

    /// `1440p60`.
    pub fn name(&self) -> String {
        format!("{}p{}", self.height, self.fps)
    }
}

/// The rows the benchmark runs by default.
pub const DEFAULT: [&str; 6] = [
    "360p30", "720p30", "1080p30", "1440p30", "1440p60", "2160p30",
];
/// The rows `--quick` runs.
pub const QUICK: [&str; 3] = ["720p30", "1080p30", "1440p30"];

/// JPEG quality of the test media.
pub const QUALITY: u8 = 80;

/// Restart markers of the restart variant ([`ensure_with`]): one every MCU row, so a lost
/// packet costs the client one 16-pixel band of the picture, not the frame.
pub const RESTART_VARIANT: Restart = Restart::Rows(1);

/// The cached file for `res` lasting `seconds`, made now if missing.
pub fn ensure(dir: &Path, res: Resolution, seconds: u32) -> Result<PathBuf> {
    ensure_with(dir, res, seconds, Restart::None)
}

/// [`ensure`] with restart markers (`-rst<N>` in the name when there are any).
pub fn ensure_with(dir: &Path, res: Resolution, seconds: u32, restart: Restart) -> Result<PathBuf> {
    let mut paths = ensure_all(dir, &[res], seconds, restart)?;
    Ok(paths.remove(0))
}

/// The cached files for each of `rows` lasting `seconds` (with `restart` markers), made now where
/// missing; in the order of `rows`.
///
/// A pattern frame depends only on its number and size, not on the frame rate, so the file of
/// a row is the start of any file of the same size with more frames: 1440p30's 300 frames are
/// 1440p60's first 300. Each size is encoded once, for its row with the most frames (or taken
/// from a cached file with as many), and the others are copied from its first frames.
pub fn ensure_all(
    dir: &Path,
    rows: &[Resolution],
    seconds: u32,
    restart: Restart,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let frames = |res: &Resolution| (res.fps * seconds) as usize;
    let paths: Vec<PathBuf> = rows
        .iter()
        .map(|res| file_name(dir, res, seconds, restart))
        .collect();
    // The longest row of each size first, so that the others can be cut from it.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(frames(&rows[i])));
    for &i in &order {
        let (res, path) = (rows[i], &paths[i]);
        if path.exists() {
            continue;
        }
        let longer = order
            .iter()
            .map(|&j| (rows[j], &paths[j]))
            .find(|(other, p)| {
                (other.width, other.height) == (res.width, res.height)
                    && frames(other) > frames(&res)
                    && p.exists()
            });
        match longer {
            Some((_, from)) => cut(from, path, frames(&res))?,
            None => make(dir, res, seconds, restart, path)?,
        }
    }
    Ok(paths)
}

/// Where the file of `res` lasting `seconds` is cached.
fn file_name(dir: &Path, res: &Resolution, seconds: u32, restart: Restart) -> PathBuf {
    dir.join(format!(
        "{}-{}s-q{}{}.mjpeg",
        res.name(),
        seconds,
        QUALITY,
        variant(restart)
    ))
}

/// `-rst<N>` with restart markers, nothing without.
fn variant(restart: Restart) -> String {
    match restart {
        Restart::None => String::new(),
        restart => format!("-rst{restart}"),
    }
}

/// Encodes the test pattern's first `res.fps × seconds` frames into `path`.
fn make(dir: &Path, res: Resolution, seconds: u32, restart: Restart, path: &Path) -> Result<()> {
    let tmp = dir.join(format!(
        ".{}{}.{}.tmp",
        res.name(),
        variant(restart),
        std::process::id()
    ));
    eprintln!(
        "making test media {} ({}x{}, {} s)…",
        path.display(),
        res.width,
        res.height,
        seconds
    );
    let summary = generate::generate(&pattern(res, seconds, restart, tmp.clone()))
        .with_context(|| format!("cannot make {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename to {}", path.display()))?;
    eprintln!("{summary}");
    Ok(())
}

/// What `encode_mjpeg` is asked for to make `res`'s test media: the test pattern's first
/// `res.fps × seconds` frames at [`QUALITY`] with `restart`, a plain MJPEG file at `out`.
fn pattern(res: Resolution, seconds: u32, restart: Restart, out: PathBuf) -> Options {
    Options {
        source: Source::Pattern {
            width: res.width,
            height: res.height,
            frames: (res.fps * seconds) as usize,
        },
        fps: res.fps,
        quality: QUALITY,
        restart,
        container: Container::Plain,
        out,
        threads: 0,
        progress: true,
    }
}

/// Writes the first `frames` frames of the plain MJPEG file `from` into `to`.
fn cut(from: &Path, to: &Path, frames: usize) -> Result<()> {
    let file = MjpegFile::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let last = frames
        .checked_sub(1)
        .and_then(|i| file.info(i))
        .with_context(|| format!("{} has fewer than {frames} frames", from.display()))?;
    let end = last.offset + last.len;
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let tmp = to.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, &bytes[..end])
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("cannot rename to {}", to.display()))?;
    eprintln!(
        "test media {}: the first {frames} frames of {} (the same pictures)",
        to.display(),
        from.display()
    );
    Ok(())
}

/// The lip-sync file for `res` lasting `seconds`, made now if missing: the test pattern with a
/// bright frame at each whole second (`encode_mjpeg --flash`) and, beside it with the same name
/// and `.wav`, the test tone with a click starting at each flash (`--tone-wav`: 48 kHz stereo),
/// which hdstream-server serves as the file's sound. Returns the `.mjpeg`.
pub fn ensure_av(dir: &Path, res: Resolution, seconds: u32) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stem = format!("{}-{}s-q{}-flash", res.name(), seconds, QUALITY);
    let path = dir.join(format!("{stem}.mjpeg"));
    let wav = path.with_extension("wav");
    if path.exists() && wav.exists() {
        return Ok(path);
    }
    let tmp = dir.join(format!(".{stem}.{}.tmp", std::process::id()));
    let tmp_wav = dir.join(format!(".{stem}.{}.wav.tmp", std::process::id()));
    eprintln!(
        "making lip-sync media {} ({}x{}, {} s, a flash and a click each second)…",
        path.display(),
        res.width,
        res.height,
        seconds
    );
    let summary = generate::generate_with(
        &pattern(res, seconds, Restart::None, tmp.clone()),
        generate::Marks { flash: true },
    )
    .with_context(|| format!("cannot make {}", path.display()))?;
    let tone = Tone {
        rate: 48_000,
        channels: 2,
        fps: f64::from(res.fps),
    };
    tone::write_wav(&tmp_wav, &tone, summary.frames as u64)?;
    std::fs::rename(&tmp_wav, &wav)
        .with_context(|| format!("cannot rename to {}", wav.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot rename to {}", path.display()))?;
    eprintln!("{summary}");
    Ok(path)
}

/// `target/media` of the workspace the benchmark was built in.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/media")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        let r = Resolution::parse("1440p60").unwrap();
        assert_eq!((r.width, r.height, r.fps), (2560, 1440, 60));
        assert_eq!(Resolution::parse("1080p").unwrap().width, 1920);
        assert_eq!(Resolution::parse("360p30").unwrap().width, 640);
        assert_eq!(Resolution::parse("2160p30").unwrap().width, 3840);
        assert_eq!(Resolution::parse("720p30").unwrap().width, 1280);
        assert!(Resolution::parse("abc").is_err());
        assert!(Resolution::parse("99999p30").is_err());
    }

    #[test]
    fn a_shorter_row_of_the_same_size_is_the_start_of_the_longer_one() {
        let dir = std::env::temp_dir().join(format!("hdstream-media-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rows = [
            Resolution::parse("144p2").unwrap(),
            Resolution::parse("144p4").unwrap(),
            Resolution::parse("288p2").unwrap(),
        ];
        let paths = ensure_all(&dir, &rows, 1, Restart::None).unwrap();
        assert!(paths[0].ends_with("144p2-1s-q80.mjpeg"));
        // Cut from the 4-frame file, and the same bytes as encoding the 2 frames would give.
        let cut = std::fs::read(&paths[0]).unwrap();
        let longer = std::fs::read(&paths[1]).unwrap();
        assert!(longer.starts_with(&cut) && longer.len() > cut.len());
        let alone = dir.join("alone");
        let made = ensure(&alone, rows[0], 1).unwrap();
        assert_eq!(std::fs::read(made).unwrap(), cut);
        assert_eq!(MjpegFile::open(&paths[0]).unwrap().len(), 2);
        assert_eq!(MjpegFile::open(&paths[2]).unwrap().len(), 2);
        // Cached: asked again, nothing is made.
        let before = std::fs::metadata(&paths[1]).unwrap().modified().unwrap();
        ensure_all(&dir, &rows, 1, Restart::None).unwrap();
        assert_eq!(
            std::fs::metadata(&paths[1]).unwrap().modified().unwrap(),
            before
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
