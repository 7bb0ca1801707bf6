//! The HTTP port's test clients: an in-process server with `--http`, the binary's HTTP address
//! from its listening line, plain requests read to the close, and curl with Digest credentials.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen, Listeners};
use hdstream_server::media::{Catalogue, FpsPolicy};

use super::{LOCALHOST, ServerProcess, run, tool};

/// A server of `media` in this process, with its HTTP port on loopback (any free port:
/// [`Handle::http`] says which, as [`Handle::rtsp`] does for RTSP).
pub fn serve_http(media: &Path, config: Config) -> Handle {
    super::log();
    let (catalogue, _) = Catalogue::open(media, &FpsPolicy::default()).expect("open media");
    let listen = Listen {
        bind: LOCALHOST,
        port: 0,
        rtp_port: None,
    };
    let listeners = Listeners {
        tls: None,
        http: Some(SocketAddr::new(LOCALHOST, 0)),
    };
    driver::spawn_with(config, Arc::new(catalogue), listen, listeners).expect("start server")
}

/// The `hdstream-server` binary with `args` and `--http 127.0.0.1:0`, and the HTTP address its
/// listening line gives (`http=…` beside `rtsp=…`).
pub fn binary_with_http(args: &[&str]) -> (ServerProcess, SocketAddr) {
    let mut all = args.to_vec();
    all.extend(["--http", "127.0.0.1:0"]);
    let server = ServerProcess::start(&all);
    let line = server
        .wait_log(Instant::now() + Duration::from_secs(5), |l| {
            l.contains("listening: rtsp")
        })
        .expect("the server's listening line");
    let http: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no http= address in {line:?}"));
    (server, http)
}

/// A response read to the server's close: status, head, body.
#[derive(Debug)]
pub struct Reply {
    /// The status code (0 when the status line is not one).
    pub status: u16,
    /// The status line and header fields.
    pub head: String,
    /// What followed the head.
    pub body: Vec<u8>,
}

/// Sends `request` and reads until the server closes (at most `timeout`).
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to the HTTP port");
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request).expect("send request");
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the reply: {e} after {} bytes", out.len()),
        }
        assert!(
            Instant::now() < deadline,
            "no end of the reply within {timeout:?}"
        );
    }
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Reply {
        status,
        head,
        body: out[end + 4..].to_vec(),
    }
}

/// `method target` with no credentials, read to the close.
pub fn request(addr: SocketAddr, method: &str, target: &str) -> Reply {
    let text = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    exchange(addr, text.as_bytes(), Duration::from_secs(10))
}

/// `GET target`.
pub fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target)
}

/// curl with Digest credentials `user` (`name:password`): the status and body.
pub fn curl_digest(url: &str, user: &str) -> (u16, Vec<u8>) {
    let done = run(
        Command::new(tool("curl"))
            .args([
                "-sS",
                "--digest",
                "-u",
                user,
                "-w",
                "\n%{http_code}",
                "-o",
                "-",
            ])
            .arg(url),
        Duration::from_secs(10),
    );
    let text = done.stdout;
    let (body, code) = text.split_at(text.len().saturating_sub(4));
    let code = std::str::from_utf8(code.get(1..).unwrap_or_default())
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("curl printed no status: {}", done.stderr));
    (code, body.to_vec())
}
