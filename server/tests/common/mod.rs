//! Shared helpers for the server's integration tests, one module by subject:
//!
//! - [`process`]: tools on `PATH`, child processes that are always bounded in time, the
//!   `hdstream-server` binary as a child, `/proc` readings;
//! - [`media`]: test media made with ffmpeg and cached under `target/test-media/` (through
//!   `hdstream_server::test_media`), frame checksums, noise;
//! - [`av`]: ffmpeg and GStreamer as players and publishers;
//! - [`client`]: the raw RTSP client, a UDP session's setup, the hostile-input probe;
//! - [`udp`]: UDP receivers and a healthy session counting what it receives;
//! - here: an in-process server on loopback.
//!
//! Everything is re-exported here (`common::Rtsp`, `common::spawn`…).
//!
//! ffmpeg and GStreamer are required, not optional: a missing tool fails the test that needs it.

#![allow(dead_code)] // each test binary uses a part of this module
#![allow(unused_imports)] // likewise the re-exports

pub mod av;
pub mod client;
pub mod http;
pub mod media;
pub mod process;
pub mod udp;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};

pub use av::*;
pub use client::*;
pub use http::*;
pub use media::*;
pub use process::*;
pub use udp::*;

/// Loopback.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long any single RTSP reply may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- server

/// Sends the server's log to the test's captured output (shown when a test fails).
pub fn log() {
    hdstream_common::logs::init_for_test("hdstream_server=info");
}

/// A server of `media` (a directory or one file) on loopback, in this process.
pub fn serve(media: &Path, config: Config) -> Handle {
    log();
    let (catalogue, _skipped) = Catalogue::open(media, &FpsPolicy::default()).expect("open media");
    assert!(!catalogue.is_empty(), "no media in {}", media.display());
    driver::spawn(
        config,
        Arc::new(catalogue),
        Listen {
            bind: LOCALHOST,
            port: 0,
            rtp_port: None,
        },
    )
    .expect("start server")
}

/// `rtsp://127.0.0.1:port/name`.
pub fn url(handle: &Handle, name: &str) -> String {
    format!("rtsp://{}/{name}", handle.rtsp)
}
