//! Publishing into the server (RFC 2326 ANNOUNCE, SETUP `mode=record`, RECORD) by real
//! publishers: ffmpeg sends an RFC 2435-ready file (`-c copy`) and GStreamer's `rtspclientsink`
//! a paced encoded stream to `live/<name>`, over TCP (interleaved) and over UDP, and the server
//! puts every frame back together. A second publisher on the same path is refused while the
//! first is there.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{Clip, Rtsp, serve, tool};
use hdstream_server::core::Config;

/// 3 s at 30 fps, 640x360, 4:2:0 with the standard Huffman tables (ffmpeg copies it as is).
const CLIP: Clip = Clip::new(640, 360, 3);

/// Runs `publisher` (given the target URL) against a fresh server; answers the path's final
/// figures once the publisher has left.
fn published(name: &str, publisher: impl FnOnce(&str)) -> hdstream_server::publish::PathStats {
    let root = common::media_root(name, &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let target = format!("rtsp://{}/live/cam", handle.rtsp);
    publisher(&target);
    // The path ends when the publisher tears down or leaves; its figures come out of the loop soon after.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(stats) = handle
            .published()
            .into_iter()
            .find(|s| s.path == "live/cam")
        {
            handle.stop().unwrap();
            return stats;
        }
        assert!(std::time::Instant::now() < deadline, "the path ended");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn publish(transport: &str) -> hdstream_server::publish::PathStats {
    published(&format!("publish-{transport}"), |target| {
        let done = common::run(
            Command::new(tool("ffmpeg"))
                .args(["-nostdin", "-v", "error", "-re", "-i"])
                .arg(CLIP.path())
                .args(["-c", "copy", "-f", "rtsp", "-rtsp_transport", transport])
                .arg(target),
            Duration::from_secs(30),
        );
        assert!(
            done.status.success(),
            "ffmpeg over {transport}: {}",
            done.stderr
        );
    })
}

/// GStreamer's `rtspclientsink`: 90 frames of 640x360 at 30 fps, encoded by `jpegenc`. It does
/// not reliably end by itself after the last frame (over UDP never here, over TCP sometimes
/// not: it stays after EOS without TEARDOWN), so after the stream's 3 s and a margin it gets
/// SIGINT (`-e`); what counts is what the server received.
fn gstreamer_publishes(protocol: &str) -> hdstream_server::publish::PathStats {
    published(&format!("publish-gst-{protocol}"), |target| {
        let mut command = Command::new(tool("gst-launch-1.0"));
        command
            .args(["-q", "-e", "videotestsrc", "num-buffers=90", "!"])
            .args([
                "video/x-raw,format=I420,width=640,height=360,framerate=30/1",
                "!",
            ])
            .args(["jpegenc", "!", "rtspclientsink"])
            .arg(format!("location={target}"))
            .arg(format!("protocols={protocol}"));
        let done =
            common::spawn(&mut command).stop_after(Duration::from_secs(8), Duration::from_secs(3));
        assert!(
            !done.stderr.contains("ERROR"),
            "rtspclientsink over {protocol}: {}",
            done.stderr
        );
    })
}

#[test]
fn gstreamer_publishes_every_frame_over_tcp() {
    let stats = gstreamer_publishes("tcp");
    assert_eq!((stats.frames, stats.frames_lost), (90, 0), "{stats:?}");
    assert_eq!(stats.size, Some((640, 360)));
}

#[test]
fn gstreamer_publishes_every_frame_over_udp() {
    let stats = gstreamer_publishes("udp");
    assert_eq!((stats.frames, stats.frames_lost), (90, 0), "{stats:?}");
}

#[test]
fn ffmpeg_publishes_every_frame_over_tcp() {
    let stats = publish("tcp");
    assert!(stats.recording);
    assert_eq!(
        (stats.frames, stats.frames_lost),
        (u64::from(CLIP.frames), 0),
        "{stats:?}"
    );
    assert_eq!(stats.size, Some((640, 360)));
}

#[test]
fn ffmpeg_publishes_every_frame_over_udp() {
    let stats = publish("udp");
    assert_eq!(
        (stats.frames, stats.frames_lost),
        (u64::from(CLIP.frames), 0),
        "{stats:?}"
    );
}

/// A second publisher on a path that has one gets 455; ANNOUNCE of a file, 405.
#[test]
fn a_second_publisher_is_refused() {
    let root = common::media_root("publish-twice", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\na=control:streamid=0\r\n";
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    // `request` sends no body: send it by hand after the headers.
    let mut first = Rtsp::connect(handle.rtsp);
    first.send(
        format!(
            "ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .as_bytes(),
    );
    assert_eq!(first.response().status.as_u16(), 200, "the first publisher");
    let mut second = Rtsp::connect(handle.rtsp);
    second.send(
        format!(
            "ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .as_bytes(),
    );
    let refused = second.response();
    assert_eq!(refused.status.as_u16(), 455, "a second publisher");
    assert!(String::from_utf8_lossy(&refused.body).contains("already has a publisher"));
    let file = format!("rtsp://{}/clip.mjpeg", handle.rtsp);
    let mut third = Rtsp::connect(handle.rtsp);
    assert_eq!(third.request("ANNOUNCE", &file, &[]).status.as_u16(), 405);
    // The first publisher gone, the path is free.
    drop(first);
    std::thread::sleep(Duration::from_millis(200));
    let mut again = Rtsp::connect(handle.rtsp);
    again.send(
        format!(
            "ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .as_bytes(),
    );
    assert_eq!(
        again.response().status.as_u16(),
        200,
        "after the first left"
    );
}
