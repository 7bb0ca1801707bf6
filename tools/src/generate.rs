//! Making MJPEG test files: numbered test patterns, or any MJPEG converted to RFC 2435-ready
//! frames (baseline, 4:2:0, standard Huffman tables). Frames are encoded on all cores and
//! written in order.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hdstream_video::MjpegFile;
use hdstream_video::decoder::{Decoder, Packed};
use hdstream_video::encoder::{Restart, Settings, encode_rgb_with};
use hdstream_video::index::{COURSE_DIGITS, COURSE_MAX_FRAME, Container};
use hdstream_video::pattern::Pattern;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Named sizes, 16:9.
pub const PRESETS: [(&str, u16, u16); 6] = [
    ("288p", 512, 288),
    ("360p", 640, 360),
    ("720p", 1280, 720),
    ("1080p", 1920, 1080),
    ("1440p", 2560, 1440),
    ("2160p", 3840, 2160),
];

/// Parses `WxH` (e.g. `1280x720`) or a preset name (`288p` … `2160p`).
pub fn parse_size(s: &str) -> Result<(u16, u16), String> {
    if let Some(&(_, w, h)) = PRESETS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(s))
    {
        return Ok((w, h));
    }
    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
    let bad = || {
        format!(
            "{s:?} is neither WxH (e.g. 1280x720) nor a preset ({})",
            names.join(", ")
        )
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h) = (
        w.parse::<u16>().map_err(|_| bad())?,
        h.parse::<u16>().map_err(|_| bad())?,
    );
    if w == 0 || h == 0 {
        return Err(format!("{s:?}: width and height must be at least 1"));
    }
    Ok((w, h))
}

/// Where the frames come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Numbered, moving test-pattern frames.
    Pattern {
        /// Width in pixels.
        width: u16,
        /// Height in pixels.
        height: u16,
        /// How many frames.
        frames: usize,
    },
    /// Every frame of an MJPEG file (either container, anything zune-jpeg decodes).
    Convert {
        /// The file.
        path: PathBuf,
        /// Re-encode frames that are already RFC 2435-ready too (otherwise copied unchanged).
        reencode: bool,
    },
}

/// What to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Where the frames come from.
    pub source: Source,
    /// Frame rate, for the bitrate in the summary (MJPEG files do not store one).
    pub fps: u32,
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// Restart markers in what is encoded (with any, converted frames are all re-encoded).
    pub restart: Restart,
    /// Container to write.
    pub container: Container,
    /// Output file (written to a temporary name beside it, renamed when complete).
    pub out: PathBuf,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// What was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The output file.
    pub out: PathBuf,
    /// Container written.
    pub container: Container,
    /// Frames written.
    pub frames: usize,
    /// Of those, frames copied unchanged from the source (conversion only).
    pub copied: usize,
    /// Size of the first frame.
    pub width: u16,
    /// Size of the first frame.
    pub height: u16,
    /// File size.
    pub bytes: u64,
    /// Mean JPEG size (without container headers).
    pub mean_frame_bytes: f64,
    /// Largest JPEG.
    pub max_frame_bytes: usize,
    /// Bits per second when played at `fps`.
    pub bitrate: f64,
    /// Frame rate the bitrate assumes.
    pub fps: u32,
    /// Wall-clock time taken.
    pub wall: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "wrote {} ({} container)",
            self.out.display(),
            self.container
        )?;
        write!(
            f,
            "  frames: {} at {}x{}",
            self.frames, self.width, self.height
        )?;
        if self.copied > 0 {
            write!(
                f,
                " ({} copied unchanged, already RFC 2435-ready)",
                self.copied
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  bytes: {} ({:.1} MiB)",
            self.bytes,
            self.bytes as f64 / 1048576.0
        )?;
        writeln!(
            f,
            "  mean frame: {:.0} bytes (largest {})",
            self.mean_frame_bytes, self.max_frame_bytes
        )?;
        writeln!(
            f,
            "  bitrate at {} fps: {:.2} Mbit/s",
            self.fps,
            self.bitrate / 1e6
        )?;
        let secs = self.wall.as_secs_f64();
        write!(
            f,
            "  wall time: {:.2} s ({:.1} frames/s)",
            secs,
            if secs > 0.0 {
                self.frames as f64 / secs
            } else {
                0.0
            }
        )
    }
}

/// What a test pattern carries beyond its picture, for lip-sync tests. Apart from [`Options`]
/// so that callers that build those as literals need no change.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Marks {
    /// A bright frame at each whole second at [`Options::fps`] ([`crate::flash`]).
    pub flash: bool,
}

/// Makes the file `options` describe; see [`Summary`] for what it reports.
pub fn generate(options: &Options) -> Result<Summary> {
    generate_with(options, Marks::default())
}

/// [`generate`], the pattern marked as `marks` say.
pub fn generate_with(options: &Options, marks: Marks) -> Result<Summary> {
    let started = Instant::now();
    ensure!(
        (1..=100).contains(&options.quality),
        "--quality must be 1..=100, not {}",
        options.quality
    );
    ensure!(options.fps > 0, "--fps must be at least 1");
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    let source = match &options.source {
        Source::Pattern {
            width,
            height,
            frames,
        } => {
            ensure!(*width > 0 && *height > 0, "size {width}x{height} is empty");
            ensure!(*frames > 0, "no frames to make (--fps × --seconds is 0)");
            Input::Pattern {
                width: *width,
                height: *height,
                frames: *frames,
            }
        }
        Source::Convert { path, reencode } => {
            let file = MjpegFile::open(path)?;
            Input::File {
                file,
                reencode: *reencode,
            }
        }
    };
    let frames = source.frames();

    let tmp = temporary_path(&options.out);
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut writer = Writer {
        out: BufWriter::with_capacity(1 << 20, file),
        container: options.container,
        bytes: 0,
        frame_bytes: 0,
        max_frame: 0,
        first_size: None,
    };
    let bar = progress_bar(options.progress, frames);
    let copied = std::sync::atomic::AtomicUsize::new(0);
    let settings = Settings {
        quality: options.quality,
        restart: options.restart,
    };
    let flash = marks.flash.then_some(f64::from(options.fps));
    let result = crate::parallel::run(
        frames,
        threads,
        2 * threads + 2,
        || Worker::new(&source),
        |worker, i, out| worker.produce(&source, i, settings, flash, out, &copied),
        |i, jpeg| {
            writer.write(i, jpeg)?;
            bar.inc(1);
            Ok(())
        },
    )
    .and_then(|()| writer.out.flush().context("write"))
    .and_then(|()| {
        std::fs::rename(&tmp, &options.out).with_context(|| {
            format!(
                "cannot rename {} to {}",
                tmp.display(),
                options.out.display()
            )
        })
    });
    bar.finish_and_clear();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("making {}", options.out.display())));
    }
    let (width, height) = writer.first_size.unwrap_or((0, 0));
    let seconds = frames as f64 / f64::from(options.fps);
    Ok(Summary {
        out: options.out.clone(),
        container: options.container,
        frames,
        copied: copied.into_inner(),
        width,
        height,
        bytes: writer.bytes,
        mean_frame_bytes: writer.frame_bytes as f64 / frames as f64,
        max_frame_bytes: writer.max_frame,
        bitrate: writer.bytes as f64 * 8.0 / seconds,
        fps: options.fps,
        wall: started.elapsed(),
    })
}

fn temporary_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    out.with_file_name(name)
}

fn progress_bar(show: bool, frames: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    // `stderr()` draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(frames as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} frames, {per_sec}, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

enum Input {
    Pattern {
        width: u16,
        height: u16,
        frames: usize,
    },
    File {
        file: MjpegFile,
        reencode: bool,
    },
}

impl Input {
    fn frames(&self) -> usize {
        match self {
            Input::Pattern { frames, .. } => *frames,
            Input::File { file, .. } => file.len(),
        }
    }
}

/// One thread's reusable state.
enum Worker {
    Pattern(Pattern),
    Convert { decoder: Decoder, rgb: Vec<u8> },
}

impl Worker {
    fn new(input: &Input) -> Worker {
        match input {
            Input::Pattern { width, height, .. } => Worker::Pattern(Pattern::new(*width, *height)),
            Input::File { .. } => Worker::Convert {
                decoder: Decoder::new(),
                rgb: Vec::new(),
            },
        }
    }

    fn produce(
        &mut self,
        input: &Input,
        i: usize,
        settings: Settings,
        flash: Option<f64>,
        out: &mut Vec<u8>,
        copied: &std::sync::atomic::AtomicUsize,
    ) -> Result<()> {
        match (self, input) {
            (Worker::Pattern(pattern), _) => {
                crate::flash::encode(pattern, i as u64, None, flash, settings, out)
                    .with_context(|| format!("frame {i}"))?;
            }
            (Worker::Convert { decoder, rgb }, Input::File { file, reencode }) => {
                let info = file.info(i).with_context(|| format!("no frame {i}"))?;
                let jpeg = file.frame(i).with_context(|| format!("no frame {i}"))?;
                if info.ready.is_ok() && !reencode && settings.restart == Restart::None {
                    out.extend_from_slice(jpeg);
                    copied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                let at = || {
                    format!(
                        "{}: frame {i} at byte {}",
                        file.path().display(),
                        info.offset
                    )
                };
                let dims = decoder
                    .decode_packed_into(jpeg, Packed::Rgb, rgb)
                    .with_context(at)?;
                let (Ok(w), Ok(h)) = (u16::try_from(dims.width), u16::try_from(dims.height)) else {
                    bail!(
                        "{}: {}x{} is too large for JPEG",
                        at(),
                        dims.width,
                        dims.height
                    );
                };
                encode_rgb_with(rgb, w, h, settings, out).with_context(at)?;
            }
            (Worker::Convert { .. }, Input::Pattern { .. }) => bail!("worker does not match input"),
        }
        Ok(())
    }
}

struct Writer {
    out: BufWriter<File>,
    container: Container,
    bytes: u64,
    frame_bytes: u64,
    max_frame: usize,
    first_size: Option<(u16, u16)>,
}

impl Writer {
    fn write(&mut self, i: usize, jpeg: &[u8]) -> Result<()> {
        if self.first_size.is_none() {
            let header = hdstream_video::jpeg::Header::parse(jpeg)
                .with_context(|| format!("frame {i} as encoded does not parse"))?;
            self.first_size = Some((header.width, header.height));
        }
        if self.container == Container::Course {
            if jpeg.len() > COURSE_MAX_FRAME {
                bail!(
                    "frame {i} is {} bytes; the course container's {COURSE_DIGITS}-digit length \
                     header allows at most {COURSE_MAX_FRAME} bytes: lower --quality or --size, or \
                     use --container plain",
                    jpeg.len()
                );
            }
            write!(self.out, "{:05}", jpeg.len()).context("write")?;
            self.bytes += COURSE_DIGITS as u64;
        }
        self.out.write_all(jpeg).context("write")?;
        self.bytes += jpeg.len() as u64;
        self.frame_bytes += jpeg.len() as u64;
        self.max_frame = self.max_frame.max(jpeg.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_presets_or_wxh() {
        assert_eq!(parse_size("1440p"), Ok((2560, 1440)));
        assert_eq!(parse_size("288P"), Ok((512, 288)));
        assert_eq!(parse_size("1280x720"), Ok((1280, 720)));
        assert!(parse_size("0x720").is_err());
        assert!(parse_size("70000x720").is_err());
        assert!(parse_size("big").unwrap_err().contains("2160p"));
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hdstream-tools-{}-{name}", std::process::id()))
    }

    #[test]
    fn generates_pattern_files_readable_by_the_index() {
        for container in [Container::Plain, Container::Course] {
            let out = tmp(&format!("gen-{container}.mjpeg"));
            let options = Options {
                source: Source::Pattern {
                    width: 160,
                    height: 96,
                    frames: 9,
                },
                fps: 30,
                quality: 70,
                restart: Restart::None,
                container,
                out: out.clone(),
                threads: 3,
                progress: false,
            };
            let summary = generate(&options).unwrap();
            let file = MjpegFile::open(&out).unwrap();
            assert_eq!(
                (summary.frames, file.len(), file.container()),
                (9, 9, container)
            );
            assert_eq!(summary.bytes, std::fs::metadata(&out).unwrap().len());
            assert_eq!((summary.width, summary.height), (160, 96));
            assert!(file.index().first_not_ready().is_none());
            std::fs::remove_file(&out).unwrap();
        }
    }

    #[test]
    fn a_frame_too_big_for_the_course_container_is_refused_and_nothing_is_left() {
        let out = tmp("too-big.mjpeg");
        let options = Options {
            source: Source::Pattern {
                width: 3840,
                height: 2160,
                frames: 2,
            },
            fps: 30,
            quality: 100,
            restart: Restart::None,
            container: Container::Course,
            out: out.clone(),
            threads: 2,
            progress: false,
        };
        let err = format!("{:#}", generate(&options).unwrap_err());
        assert!(
            err.contains("frame 0 is ") && err.contains("at most 99999 bytes"),
            "{err}"
        );
        assert!(!out.exists());
        assert!(!temporary_path(&out).exists());
    }
}
