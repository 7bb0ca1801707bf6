//! Shared by the integration tests: test media (made once and cached under target/test-media/
//! by `hdstream_testkit::media`) and an in-process hdstream server.

#![allow(dead_code)]

pub mod sound;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_testkit::media;
use hdstream_video::encoder::{Restart, Settings};

/// Logs to the test output, filtered by `RUST_LOG` (e.g. `RUST_LOG=hdstream_client=debug`
/// names every late frame).
pub fn logs() {
    hdstream_common::logs::init_for_test("error");
}

/// Tests that stream in real time take this, so that under `cargo test` (threads in one process)
/// they do not share the two cores; the README's `cargo nextest run` runs each test in its own
/// process and keeps them apart with `.config/nextest.toml` instead.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `target/test-media/`, where the test media is kept (`hdstream_testkit::media`).
pub fn media_dir() -> PathBuf {
    media::cache_dir()
}

/// `path` (under [`media_dir`]), made by `make` (its bytes) when missing, once
/// ([`media::cached_bytes`]).
pub fn cached(path: PathBuf, make: impl FnOnce() -> Vec<u8>) -> PathBuf {
    let name = path
        .strip_prefix(media_dir())
        .unwrap_or_else(|_| panic!("{} is not under the test media", path.display()));
    media::cached_bytes(&name.to_string_lossy(), make)
}

/// A plain MJPEG file of `frames` numbered test-pattern frames (quality 80), made once and
/// cached.
pub fn pattern_file(width: u16, height: u16, frames: u64) -> PathBuf {
    media::pattern_file(width, height, frames)
}

/// [`pattern_file`] with restart markers.
pub fn pattern_file_with(width: u16, height: u16, frames: u64, restart: Restart) -> PathBuf {
    let settings = Settings {
        quality: media::QUALITY,
        restart,
    };
    media::pattern_file_with(width, height, frames, settings)
}

/// A server of one file at `fps`, on loopback.
pub struct Server {
    /// The running server.
    pub handle: Handle,
    /// `rtsp://127.0.0.1:port/name`.
    pub url: String,
}

impl Server {
    /// Serves `file` at `fps` with `config`.
    pub fn start_with(file: &Path, fps: f64, config: Config) -> Server {
        let policy = FpsPolicy {
            fps: Some(fps),
            overrides: Vec::new(),
        };
        let (catalogue, skipped) = Catalogue::open(file, &policy).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let listen = Listen {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            rtp_port: None,
        };
        let handle = driver::spawn(config, Arc::new(catalogue), listen).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let url = format!("rtsp://{}/{name}", handle.rtsp);
        Server { handle, url }
    }

    /// Serves `file` at `fps` with the default configuration.
    pub fn start(file: &Path, fps: f64) -> Server {
        Server::start_with(file, fps, Config::default())
    }

    /// The RTSP address.
    pub fn addr(&self) -> SocketAddr {
        self.handle.rtsp
    }
}

/// Checksums of every frame of `file` as the client's decoder shows them
/// ([`hdstream_client::present::pixel_checksum`] of zune-jpeg's `0x00RRGGBB` decoding).
pub fn file_checksums(file: &Path) -> Vec<u64> {
    let media = hdstream_video::MjpegFile::open(file).unwrap();
    let mut decoder = hdstream_video::decoder::Decoder::new();
    let mut pixels = Vec::new();
    (0..media.len())
        .map(|i| {
            decoder
                .decode_0rgb(media.frame(i).unwrap(), &mut pixels)
                .unwrap();
            hdstream_client::present::pixel_checksum(&pixels)
        })
        .collect()
}

/// Asserts that every picture `report` shows is a frame of `file`, in the file's order, each
/// at most once (`what` names the case in the failure).
pub fn assert_shown_in_order(file: &Path, report: &hdstream_client::Report, what: &str) {
    let expected = file_checksums(file);
    let mut at = 0;
    for (i, sum) in report.displayed_checksums.iter().enumerate() {
        let found = expected[at..].iter().position(|e| e == sum);
        let k = found.unwrap_or_else(|| {
            panic!("{what}: shown picture {i} is not a frame of the file, in order")
        });
        at += k + 1;
    }
}

/// Options for a headless play of `target` that records every shown frame (position and pixel
/// checksum): what the tests observe.
pub fn recording(target: hdstream_client::Target) -> hdstream_client::Options {
    let mut options = hdstream_client::Options::new(target);
    options.headless = true;
    options.record_frames = true;
    options
}

/// Plays `options` once the stream is live: a 404 (or any refusal) is retried every 100 ms
/// until the publisher has announced, for 10 s; then the error fails the test, naming `url`.
pub fn play_when_live(options: &hdstream_client::Options, url: &str) -> hdstream_client::Report {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match hdstream_client::play(options) {
            Ok(report) => return report,
            // 404 until the publisher has announced.
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "not live yet");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("{url}: {e}"),
        }
    }
}

/// A GStreamer RTSP server (`tools/scripts/gst-rtsp-server.py` through Debian's python3-gi),
/// stopped when dropped.
pub struct GstServer(std::process::Child);

impl GstServer {
    /// Runs `tools/scripts/gst-rtsp-server.py` with `--port 0 --fps FPS` and `args` (the file
    /// to serve and any other options); returns it and the URL it prints (`URL rtsp://…`) once
    /// it serves.
    pub fn start(fps: &str, args: &[&std::ffi::OsStr]) -> (GstServer, String) {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tools/scripts/gst-rtsp-server.py"
        );
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--port", "0", "--fps", fps])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 (Debian's, with python3-gi) runs gst-rtsp-server");
        let stdout = child.stdout.take().unwrap();
        let server = GstServer(child);
        let url = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("URL ").map(str::to_owned))
            .expect("gst-rtsp-server started (needs gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-good, ffmpeg)");
        (server, url)
    }
}

impl Drop for GstServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ffmpeg` reading the MJPEG `file` as its first input at 30 frames a second in real time
/// (`-re`), quiet: add the rest (a sound input, the codecs, the RTSP output) and spawn.
pub fn ffmpeg_reading(file: &Path) -> std::process::Command {
    let mut ffmpeg = std::process::Command::new("ffmpeg");
    ffmpeg
        .args(["-nostdin", "-v", "error", "-re", "-framerate", "30"])
        .args(["-f", "mjpeg", "-i"])
        .arg(file);
    ffmpeg
}

/// Runs `ffmpeg` (a command made by the caller) and answers what it wrote to stdout; its
/// stderr fails the test when it fails.
pub fn ffmpeg_output(ffmpeg: &mut std::process::Command) -> Vec<u8> {
    let out = ffmpeg.output().expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Asserts that all `frames` of `report` reached the screen, none lost (`why` says why in a
/// failure, with the report). A frame the presenter got after its time counts (`late`): with
/// four tests on two cores a frame can miss its moment; showing in real time is `playback`'s
/// to measure, not a test's to assert.
#[track_caller]
pub fn assert_every_frame_delivered(report: &hdstream_client::Report, frames: u64, why: &str) {
    assert_eq!(
        (
            report.frames_displayed + report.frames_late,
            report.frames_lost
        ),
        (frames, 0),
        "{why}: {report}"
    );
}

/// The `hdstream-server` binary beside the client's (built by the workspace's test build; built
/// here if not), for tests that run it in a network namespace.
pub fn server_binary() -> PathBuf {
    let client = PathBuf::from(env!("CARGO_BIN_EXE_hdstream-client"));
    let server = client.with_file_name("hdstream-server");
    if !server.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "hdstream-server", "--bin", "hdstream-server"])
            .status()
            .expect("cargo builds the server");
        assert!(status.success());
    }
    server
}
