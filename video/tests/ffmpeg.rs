//! Files made by ffmpeg, indexed and classified by `MjpegFile`, frame counts checked against
//! ffprobe. ffmpeg and ffprobe must be installed (`apt-get install ffmpeg`): without them these
//! tests fail rather than skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use hdstream_video::decoder::Decoder;
use hdstream_video::ffmpeg;
use hdstream_video::index::Container;
use hdstream_video::jpeg::Sampling;
use hdstream_video::{Index, MjpegFile};

/// A file under the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        TempFile(std::env::temp_dir().join(format!("hdstream-video-{pid}-{n}-{name}")))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): these tests need ffmpeg (apt-get install ffmpeg)")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One second of testsrc2 at 640x360, 30 fps, as plain MJPEG.
fn make(name: &str, pix_fmt: &str, huffman: Option<&str>) -> TempFile {
    let file = TempFile::new(name);
    let more = huffman.map_or(Vec::new(), |h| vec!["-huffman", h]);
    let args = ffmpeg::testsrc_mjpeg("640x360", pix_fmt, &more, file.0.to_str().unwrap());
    run(
        "ffmpeg",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    file
}

fn ffprobe_frames(path: &Path) -> usize {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    );
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe said {out:?}"))
}

#[test]
fn yuv420_with_standard_huffman_tables_is_ready() {
    let file = make("420-default.mjpeg", "yuvj420p", Some("default"));
    let mjpeg = MjpegFile::open(&file.0).unwrap();
    assert_eq!(mjpeg.container(), Container::Plain);
    assert_eq!(mjpeg.len(), ffprobe_frames(&file.0));
    assert_eq!(mjpeg.len(), 30);
    assert!(mjpeg.index().damages().is_empty());
    for info in mjpeg.index().frames() {
        assert_eq!(
            (info.width, info.height, info.sampling),
            (640, 360, Sampling::Yuv420)
        );
        assert!(info.ready.is_ok(), "{:?}", info.ready);
    }
    let stats = mjpeg.stats();
    assert_eq!(
        stats.bytes,
        std::fs::metadata(&file.0).unwrap().len() as usize
    );
    assert_eq!(stats.frame_bytes, stats.bytes);
    // The packetizer's view borrows the scan out of the map.
    let frame = mjpeg.rfc2435_frame(29).unwrap();
    assert_eq!((frame.width, frame.height), (640, 360));
    assert!(!frame.scan.is_empty());
    let mut out = Vec::new();
    let dims = Decoder::new()
        .decode_0rgb(mjpeg.frame(0).unwrap(), &mut out)
        .unwrap();
    assert_eq!((dims.width, dims.height), (640, 360));
}

#[test]
fn ffmpeg_yuv422_has_factors_rfc2435_cannot_rebuild() {
    // ffmpeg writes 4:2:2 as Y 2x2 with Cb/Cr 1x2; RFC 2435 type 0 rebuilds Y 2x1, Cb/Cr 1x1,
    // so the receiver would read the MCUs wrongly: not ready, even with standard tables.
    let file = make("422-default.mjpeg", "yuvj422p", Some("default"));
    let mjpeg = MjpegFile::open(&file.0).unwrap();
    assert_eq!(mjpeg.len(), ffprobe_frames(&file.0));
    for info in mjpeg.index().frames() {
        assert_eq!(info.sampling, Sampling::Yuv422);
        let reason = info
            .ready
            .clone()
            .expect_err("ffmpeg's 4:2:2 factors must not be ready")
            .to_string();
        assert!(
            reason.contains("sampling factors Y 2x2, Cb/Cr 1x2"),
            "{reason}"
        );
    }
}

#[test]
fn optimal_huffman_tables_are_not_ready() {
    // ffmpeg's default for mjpeg is `-huffman optimal`.
    let file = make("420-optimal.mjpeg", "yuvj420p", None);
    let mjpeg = MjpegFile::open(&file.0).unwrap();
    assert_eq!(mjpeg.len(), ffprobe_frames(&file.0));
    for info in mjpeg.index().frames() {
        let reason = info
            .ready
            .clone()
            .expect_err("optimal tables must not be ready")
            .to_string();
        assert!(reason.contains("Huffman"), "{reason}");
    }
}

#[test]
fn yuv444_is_not_ready() {
    let file = make("444.mjpeg", "yuvj444p", Some("default"));
    let mjpeg = MjpegFile::open(&file.0).unwrap();
    assert_eq!(mjpeg.len(), ffprobe_frames(&file.0));
    for info in mjpeg.index().frames() {
        assert_eq!(info.sampling, Sampling::Yuv444);
        let reason = info
            .ready
            .clone()
            .expect_err("4:4:4 must not be ready")
            .to_string();
        assert!(reason.contains("4:4:4"), "{reason}");
    }
}

#[test]
fn ffmpeg_frames_rewrapped_in_the_course_container_index_the_same() {
    let file = make("420-course-src.mjpeg", "yuvj420p", Some("default"));
    let plain = MjpegFile::open(&file.0).unwrap();
    let mut course = Vec::new();
    for i in 0..plain.len() {
        let frame = plain.frame(i).unwrap();
        course.extend_from_slice(format!("{:05}", frame.len()).as_bytes());
        course.extend_from_slice(frame);
    }
    let index = Index::build(&course).unwrap();
    assert_eq!(index.container(), Container::Course);
    assert_eq!(index.len(), plain.len());
    for i in 0..plain.len() {
        assert_eq!(index.frame(&course, i), plain.frame(i));
    }
}

#[test]
fn a_truncated_file_names_the_path_and_the_frame() {
    let file = make("420-cut.mjpeg", "yuvj420p", Some("default"));
    let full = MjpegFile::open(&file.0).unwrap();
    let last = full.index().frames().last().unwrap().clone();
    drop(full);
    let bytes = std::fs::read(&file.0).unwrap();
    std::fs::write(&file.0, &bytes[..bytes.len() - 100]).unwrap();
    let err = MjpegFile::open(&file.0).unwrap_err().to_string();
    let want = format!(
        "{}: truncated frame at byte {}",
        file.0.display(),
        last.offset
    );
    assert!(err.starts_with(&want), "{err}");
    std::fs::write(&file.0, b"").unwrap();
    let err = MjpegFile::open(&file.0).unwrap_err().to_string();
    assert_eq!(err, format!("{}: empty file", file.0.display()));
}
