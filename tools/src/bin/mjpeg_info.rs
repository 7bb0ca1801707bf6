//! Describe MJPEG files (plain or course container) as JSON, like ffprobe for our files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hdstream_tools::info::{FileInfo, describe};
use hdstream_video::MjpegFile;

/// Describe MJPEG files as JSON: container, frames, size, sampling, bytes, RFC 2435 readiness.
///
/// One file prints one JSON object; several print an array. A file that cannot be read or
/// indexed is reported on stderr (with the path and the byte offset) and left out; the exit
/// status is then 1.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// MJPEG files: concatenated JPEGs (ffmpeg -f mjpeg) or the course's movie.Mjpeg format.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut infos: Vec<FileInfo> = Vec::new();
    let mut failed = false;
    for path in &args.files {
        match MjpegFile::open(path) {
            Ok(file) => infos.push(describe(&file)),
            Err(e) => {
                eprintln!("mjpeg_info: {e}");
                failed = true;
            }
        }
    }
    let json = match (args.files.len(), infos.as_slice()) {
        (1, [one]) => serde_json::to_string_pretty(one),
        (1, []) => return ExitCode::FAILURE,
        _ => serde_json::to_string_pretty(&infos),
    };
    match json {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("mjpeg_info: cannot format JSON: {e}");
            return ExitCode::FAILURE;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
