//! Shared by the integration tests: test media (cached under target/test-media/) and an
//! in-process hdstream server.

#![allow(dead_code)]

pub mod sound;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_video::encoder::{Restart, Settings};
use hdstream_video::pattern::Pattern;

/// Logs to the test output, filtered by `RUST_LOG` (e.g. `RUST_LOG=hdstream_client=debug`
/// names every late frame).
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Tests that stream in real time take this, so that under `cargo test` (threads in one process)
/// they do not share the two cores; the README's `cargo nextest run` runs each test in its own
/// process and keeps them apart with `.config/nextest.toml` instead.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `target/test-media/`.
pub fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("..")
        .join("test-media");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `path`, made by `make` (its bytes) when missing. Tests run on threads of one process, so
/// the making is serialized and the file appears under its name only once complete (rename).
pub fn cached(path: PathBuf, make: impl FnOnce() -> Vec<u8>) -> PathBuf {
    static MAKING: Mutex<()> = Mutex::new(());
    if path.exists() {
        return path;
    }
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).unwrap();
    file.write_all(&make()).unwrap();
    file.sync_all().unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// A plain MJPEG file of `frames` numbered test-pattern frames (quality 80), made once and
/// cached.
pub fn pattern_file(width: u16, height: u16, frames: u64) -> PathBuf {
    pattern_file_with(width, height, frames, Restart::None)
}

/// [`pattern_file`] with restart markers.
pub fn pattern_file_with(width: u16, height: u16, frames: u64, restart: Restart) -> PathBuf {
    let variant = match restart {
        Restart::None => String::new(),
        restart => format!("-rst{restart}"),
    };
    let path = media_dir().join(format!(
        "pattern-{width}x{height}-{frames}f-q80{variant}.mjpeg"
    ));
    let settings = Settings {
        quality: 80,
        restart,
    };
    cached(path, || {
        let threads = 2u64;
        let chunks: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut pattern = Pattern::new(width, height);
                        let mut frames_out = Vec::new();
                        let mut jpeg = Vec::new();
                        for n in (t..frames).step_by(threads as usize) {
                            pattern.encode_with(n, settings, &mut jpeg).unwrap();
                            frames_out.push((n, jpeg.clone()));
                        }
                        frames_out
                    })
                })
                .collect();
            let mut all: Vec<(u64, Vec<u8>)> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.sort_by_key(|(n, _)| *n);
            all.into_iter().map(|(_, j)| j).collect()
        });
        chunks.concat()
    })
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
