//! Our client through RTSP tunnelled in HTTP (issue 20): `rtsph://` to the server's HTTP port,
//! and `--tunnel http` with an `rtsp://` URL, each show every frame of the file, in order,
//! each picture identical to the client's decode of the file's frame; and a tunnel to a port
//! that is not an HTTP port fails with an error that says so.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use common::{logs, pattern_file, recording, serial};
use hdstream_client::{Target, play};
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen, Listeners};
use hdstream_server::media::{Catalogue, FpsPolicy};

const FRAMES: u64 = 90;

/// A server of `file` at 30 fps with its HTTP port on loopback.
fn serve_http(file: &std::path::Path) -> Handle {
    let policy = FpsPolicy {
        fps: Some(30.0),
        overrides: Vec::new(),
    };
    let (catalogue, _) = Catalogue::open(file, &policy).unwrap();
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let listen = Listen {
        bind: localhost,
        port: 0,
        rtp_port: None,
    };
    let listeners = Listeners {
        tls: None,
        http: Some(SocketAddr::new(localhost, 0)),
    };
    driver::spawn_with(Config::default(), Arc::new(catalogue), listen, listeners).unwrap()
}

fn play_every_frame(url: String, tunnel_flag: bool) {
    logs();
    let _one_at_a_time = serial();
    let file = pattern_file(640, 360, FRAMES);
    let server = serve_http(&file);
    let http = server.http.expect("HTTP port");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let url = url
        .replace("HTTP", &http.to_string())
        .replace("NAME", &name);
    let mut options = recording(Target::Url(url.clone()));
    options.tunnel = tunnel_flag;
    let report = play(&options).unwrap_or_else(|e| panic!("{url}: {e}"));
    eprintln!("{report}");
    assert_eq!(
        (
            report.frames_received,
            report.frames_lost,
            report.frames_undecodable
        ),
        (FRAMES, 0, 0),
        "{url}: every frame received: {report}"
    );
    common::assert_every_frame_delivered(&report, FRAMES, &url);
    common::assert_shown_in_order(&file, &report, &url);
    server.stop().unwrap();
}

#[test]
fn rtsph_url_shows_every_frame_of_the_file() {
    play_every_frame("rtsph://HTTP/NAME".into(), false);
}

#[test]
fn tunnel_http_with_an_rtsp_url_shows_every_frame_of_the_file() {
    play_every_frame("rtsp://HTTP/NAME".into(), true);
}

#[test]
fn a_tunnel_to_the_rtsp_port_says_it_is_not_the_http_port() {
    logs();
    let file = pattern_file(640, 360, FRAMES);
    let server = serve_http(&file);
    let mut options = recording(Target::Url(format!("rtsph://{}/x.mjpeg", server.rtsp)));
    options.tunnel = true;
    let error = play(&options)
        .expect_err("the RTSP port is not a tunnel")
        .to_string();
    assert!(error.contains("--http port"), "{error}");
    server.stop().unwrap();
}
