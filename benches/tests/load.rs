//! The load generator counts what a real server sends: 4 receivers on a looping 360p stream
//! for 2 s each get every packet (loopback, in-process server), and the plain-UDP reference
//! rate is measurable; the live benchmark's receive-only viewers count every frame a publisher
//! sends through the server, over UDP and over TCP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hdstream_benches::load;
use hdstream_benches::peers::Transport;
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_video::pattern::Pattern;

/// A 30-frame 640x360 pattern file `name` in a fresh directory (the directory, the file).
fn pattern_file(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("hdstream-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.mjpeg"));
    let mut data = Vec::new();
    let mut pattern = Pattern::new(640, 360);
    for n in 0..30 {
        let mut jpeg = Vec::new();
        pattern.encode(n, 80, &mut jpeg).unwrap();
        data.extend_from_slice(&jpeg);
    }
    std::fs::write(&file, &data).unwrap();
    (dir, file)
}

/// An in-process server of `file` on loopback.
fn serve(file: &Path, config: Config) -> driver::Handle {
    let (catalogue, skipped) = Catalogue::open(file, &FpsPolicy::default()).unwrap();
    assert!(skipped.is_empty());
    let listen = Listen {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        rtp_port: None,
    };
    driver::spawn(config, Arc::new(catalogue), listen).unwrap()
}

#[test]
fn receivers_count_every_packet_of_a_real_stream() {
    let (dir, file) = pattern_file("load");
    let config = Config {
        looping: true,
        ..Config::default()
    };
    let server = serve(&file, config);
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

#[test]
fn receive_only_viewers_count_every_frame_of_a_live_stream() {
    let (dir, file) = pattern_file("live-load");
    let server = serve(&file, Config::default());
    let url = format!("rtsp://{}/live/bench", server.rtsp);
    let mut settings = hdstream_tools::publish::Settings::new(
        hdstream_tools::publish::Input::File(file.clone()),
        url.clone(),
    );
    settings.duration = Some(Duration::from_secs(6));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let publishing =
        std::thread::spawn(move || hdstream_tools::publish::run(&settings, &flag).unwrap());
    load::wait_live(&url, Duration::from_secs(5)).unwrap();
    let mut counts = load::watchers(&url, 3, Transport::Udp, 2.0, 30.0);
    counts.extend(load::watchers(&url, 2, Transport::Tcp, 2.0, 30.0));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    publishing.join().unwrap();
    server.stop().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    for c in &counts {
        assert!(!c.packets.failed, "{c:?}");
        // 2 s at 30 fps: 58 due at least, every one whole.
        assert!(c.due >= 58, "{c:?}");
        assert_eq!(c.complete, c.due, "{c:?}");
        assert_eq!((c.damaged, c.packets.lost()), (0, 0), "{c:?}");
    }
}
