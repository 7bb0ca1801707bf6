//! What the real-socket tests share: `hdstream-server` built and started for live paths, the
//! tools' binaries run and ended by their process ids, DESCRIBE, scratch directories.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process ended (by its id) when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The directory this test's binaries were built into (`target/debug`).
fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hdstream-publish"))
        .parent()
        .expect("the binary has a directory")
        .to_path_buf()
}

/// `hdstream-server` from the same build: cargo builds it into the same target directory and
/// profile (a no-op when it is up to date), once for all the tests.
pub fn server_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_server).clone()
}

fn build_server() -> PathBuf {
    let dir = bin_dir();
    // `cargo test --workspace` has built it beside this crate's binaries; building it again
    // alone would resolve features differently and rebuild much of the workspace.
    if dir.join("hdstream-server").is_file() {
        return dir.join("hdstream-server");
    }
    let target = dir.parent().expect("a target directory");
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "hdstream-server",
            "--bin",
            "hdstream-server",
        ])
        .arg("--target-dir")
        .arg(target)
        .args(["--profile", profile])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo could not build hdstream-server");
    dir.join("hdstream-server")
}

/// Starts the server on `media` (an empty directory: live paths only): it and its RTSP address.
pub fn start_server(media: &Path) -> (Running, String) {
    let mut child = Command::new(server_binary())
        .args(["--bind", "127.0.0.1", "--port", "0", "--media"])
        .arg(media)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hdstream-server starts");
    let (tx, rx) = mpsc::channel();
    for out in [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("rtsp="))
                {
                    let _ = tx.send(addr.to_owned());
                }
                if line.contains("WARN") || line.contains("ERROR") {
                    eprintln!("server: {line}");
                }
            }
        });
    }
    let running = Running(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the server says where it listens");
    (running, addr)
}

/// A fresh directory under the temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hdstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits for `child` up to `timeout`: whether it succeeded, its stderr and its stdout (empty
/// when not piped).
pub fn wait_output(mut child: Running, timeout: Duration) -> (bool, Vec<u8>, Vec<u8>) {
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut b);
            }
            b
        })
    };
    let out = read_all(
        child
            .0
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read_all(
        child
            .0
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let success = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status.success();
        }
        if Instant::now() >= deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(child);
    (
        success,
        err.join().unwrap_or_default(),
        out.join().unwrap_or_default(),
    )
}

/// The body of DESCRIBE of `url` (empty when it fails).
pub fn describe(addr: &str, url: &str) -> String {
    let Ok(mut c) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n");
    if c.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut reply = vec![0; 4096];
    let n = c.read(&mut reply).unwrap_or(0);
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

/// Starts `hdstream-publish` with `args` publishing to `url` (stdin piped when `stdin`).
pub fn publisher(args: &[&str], url: &str, stdin: bool) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_hdstream-publish"))
            .args(args)
            .arg(url)
            .env("RUST_LOG", "warn")
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .spawn()
            .expect("hdstream-publish starts"),
    )
}

/// Waits up to 15 s for `url` to be described with a section `wanted` (`m=audio`, say).
pub fn wait_live(addr: &str, url: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = describe(addr, url);
        if reply.starts_with("RTSP/1.0 200") && reply.contains(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never went live with {wanted}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ffmpeg` playing `url` over TCP (RTSP interleaved), logging at `level`, stdin closed: add
/// what to take from it and where to write it.
pub fn ffmpeg_viewer(url: &str, level: &str) -> Command {
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg
        .args(["-nostdin", "-hide_banner", "-v", level])
        .args(["-rtsp_transport", "tcp", "-i", url])
        .stdin(Stdio::null());
    ffmpeg
}
