//! The load generator counts what a real server sends: 4 receivers on a looping 360p stream
//! for 2 s each get every packet (loopback, in-process server), and the plain-UDP reference
//! rate is measurable.

use std::sync::Arc;

use hdstream_benches::load;
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_video::pattern::Pattern;

#[test]
fn receivers_count_every_packet_of_a_real_stream() {
    let dir = std::env::temp_dir().join(format!("hdstream-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("load.mjpeg");
    let mut data = Vec::new();
    let mut pattern = Pattern::new(640, 360);
    for n in 0..30 {
        let mut jpeg = Vec::new();
        pattern.encode(n, 80, &mut jpeg).unwrap();
        data.extend_from_slice(&jpeg);
    }
    std::fs::write(&file, &data).unwrap();
    let (catalogue, skipped) = Catalogue::open(&file, &FpsPolicy::default()).unwrap();
    assert!(skipped.is_empty());
    let config = Config {
        looping: true,
        ..Config::default()
    };
    let listen = Listen {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        rtp_port: None,
    };
    let server = driver::spawn(config, Arc::new(catalogue), listen).unwrap();
    let url = format!("rtsp://{}/load.mjpeg", server.rtsp);
    let counts = load::receivers(&url, 4, 2.0);
    server.stop().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(counts.len(), 4);
    for c in &counts {
        // 2 s of 30 fps: about 60 frames of several packets each.
        assert!(c.expected > 100, "expected {} packets", c.expected);
        assert_eq!(c.lost(), 0, "{c:?}");
        assert!(!c.failed);
    }
    let plain = load::plain_udp_rate(1372, 0.3).unwrap();
    assert!(plain > 1000.0, "plain UDP rate {plain}");
}
