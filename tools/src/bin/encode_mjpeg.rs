//! Make MJPEG test files, or convert any MJPEG into an RFC 2435-ready one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, ensure};
use clap::{Parser, ValueEnum};
use hdstream_tools::generate::{Marks, Options, Source, generate_with, parse_size};
use hdstream_tools::tone::{self, Tone};
use hdstream_video::encoder::Restart;
use hdstream_video::index::Container;

/// Make MJPEG test files: numbered, moving test patterns encoded as RFC 2435-ready JPEG
/// (baseline, 4:2:0, standard Huffman tables), on all cores.
///
/// With --from, convert an existing MJPEG file (either container; 4:4:4, progressive,
/// optimised Huffman tables... anything that decodes) into an RFC 2435-ready one.
///
/// Examples:
///   encode_mjpeg --size 1080p --seconds 10 --out movie-1080p.mjpeg
///   encode_mjpeg --size 512x288 --fps 20 --container course --out movie.Mjpeg
///   encode_mjpeg --from camera.mjpeg --quality 85 --out camera-ready.mjpeg
///   encode_mjpeg --size 1440p --restart 1 --out movie-1440p-rst.mjpeg
///   encode_mjpeg --size 360p --seconds 10 --flash --tone-wav --out media/sync.mjpeg
///     (a lip-sync test: a bright frame each second and media/sync.wav clicking at each;
///      hdstream-server serves sync.wav beside sync.mjpeg as its sound)
#[derive(Parser, Debug)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Args {
    /// Picture size: WxH (e.g. 1280x720) or a 16:9 preset: 288p 360p 720p 1080p 1440p 2160p.
    #[arg(long, default_value = "720p", value_parser = parse_size, conflicts_with = "from")]
    size: (u16, u16),

    /// Frame rate: sets the frame count (fps × seconds) and the bitrate in the summary.
    #[arg(long, default_value_t = 30)]
    fps: u32,

    /// Length in seconds (test patterns only).
    #[arg(long, default_value_t = 10.0, conflicts_with = "from")]
    seconds: f64,

    /// JPEG quality, 1 (smallest) to 100 (best).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,

    /// Restart markers (RFC 2435 types 64-127): N = every N MCU rows (an MCU row is 16 pixels
    /// high), Nmcu = every N MCUs, none = no markers. A client that loses part of a frame
    /// can then show the rest, the lost rows taken from the frame before (concealment).
    #[arg(long, default_value = "none", value_name = "N|Nmcu")]
    restart: Restart,

    /// plain: concatenated JPEGs (like ffmpeg -f mjpeg); course: each frame after its length as
    /// 5 ASCII digits (frames must stay under 100000 bytes).
    #[arg(long, value_enum, default_value_t = ContainerArg::Plain)]
    container: ContainerArg,

    /// Convert this MJPEG file instead of drawing test patterns.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,

    /// With --from: re-encode frames that are already RFC 2435-ready too (by default they are
    /// copied unchanged).
    #[arg(long, requires = "from")]
    reencode: bool,

    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,

    /// Draw each whole second's first frame bright (near white: frames 0, 30, 60... at 30 fps),
    /// for lip-sync tests: find them by mean luminance (test patterns only).
    #[arg(long, conflicts_with = "from")]
    flash: bool,

    /// Also write the sound that goes with --flash: the output's name with .wav (clip.wav for
    /// clip.mjpeg, which hdstream-server serves as clip.mjpeg's sound), 48 kHz stereo 16-bit,
    /// as long as the video: a quiet 440 Hz tone with a loud 5 ms click starting at each flash
    /// frame's time.
    #[arg(long, requires = "flash")]
    tone_wav: bool,

    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,

    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ContainerArg {
    Plain,
    Course,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("encode_mjpeg: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let source = match args.from {
        Some(path) => Source::Convert {
            path,
            reencode: args.reencode,
        },
        None => {
            ensure!(
                args.seconds.is_finite() && args.seconds > 0.0,
                "--seconds must be positive, not {}",
                args.seconds
            );
            let frames = (f64::from(args.fps) * args.seconds).round();
            ensure!(
                (1.0..1e9).contains(&frames),
                "--fps × --seconds gives {frames} frames"
            );
            Source::Pattern {
                width: args.size.0,
                height: args.size.1,
                frames: frames as usize,
            }
        }
    };
    let options = Options {
        source,
        fps: args.fps,
        quality: args.quality,
        restart: args.restart,
        container: match args.container {
            ContainerArg::Plain => Container::Plain,
            ContainerArg::Course => Container::Course,
        },
        out: args.out,
        threads: args.threads,
        progress: !args.quiet,
    };
    let wav = options.out.with_extension("wav");
    ensure!(
        !args.tone_wav || wav != options.out,
        "--tone-wav: {} would be the video itself",
        wav.display()
    );
    let summary = generate_with(&options, Marks { flash: args.flash })?;
    println!("{summary}");
    if args.tone_wav {
        let tone = Tone {
            rate: 48_000,
            channels: 2,
            fps: f64::from(args.fps),
        };
        tone::write_wav(&wav, &tone, summary.frames as u64)?;
        println!("wrote {} (tone, a click at each flash)", wav.display());
    }
    Ok(())
}
