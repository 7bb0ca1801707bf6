//! Live paths watched by real viewers: a publisher (ffmpeg or GStreamer's `rtspclientsink`)
//! records into `live/cam` while ffmpeg and GStreamer play it, and every frame a viewer shows
//! decodes to the same pixels as the published frame (compared through the same decoder: ffmpeg's
//! framemd5 against ffmpeg's decode of the published file, GStreamer's checksums against
//! GStreamer's decode of what it published).

use crate::common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, serve, tool};
use hdstream_server::core::Config;

/// 6 s at 30 fps, 640x360, RFC 2435-ready (ffmpeg copies it as is).
const CLIP: Clip = Clip::new(640, 360, 6);

/// The start of a GStreamer pipeline: `buffers` frames of a moving ball, `width`x`height` at
/// `fps`, in real time, encoded by `jpegenc`, then `!` for what follows.
fn moving_picture(width: u32, height: u32, fps: u32, buffers: u32) -> Command {
    let mut command = Command::new(tool("gst-launch-1.0"));
    command
        .args(["-q", "-e", "videotestsrc", "pattern=ball", "is-live=true"])
        .arg(format!("num-buffers={buffers}"))
        .arg("!")
        .arg(format!(
            "video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
        ))
        .args(["!", "jpegenc", "!"]);
    command
}

/// A GStreamer viewer of `url` over `protocol` printing a checksum per decoded frame.
fn gstreamer_viewer(url: &str, protocol: &str) -> common::Bounded {
    let mut command = Command::new(tool("gst-launch-1.0"));
    command
        .args(["-q", "-e", "rtspsrc"])
        .arg(format!("location={url}"))
        .arg(format!("protocols={protocol}"))
        .args(["latency=100", "!", "rtpjpegdepay"])
        .args(common::DECODE_TO_CHECKSUMS);
    common::spawn(&mut command)
}

/// ffmpeg publishing `clip` as is (`-c copy`) in real time to `url` over TCP.
fn ffmpeg_publisher(clip: &std::path::Path, url: &str) -> common::Bounded {
    common::spawn(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-v", "error", "-re", "-framerate", "30"])
            .args(["-f", "mjpeg", "-i"])
            .arg(clip)
            .args(["-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp"])
            .arg(url),
    )
}

/// GStreamer's checksums of every frame of `clip`, decoded by the same pipeline tail as a
/// viewer's.
fn gstreamer_checksums_of(clip: &std::path::Path) -> HashSet<String> {
    let reference = common::run(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "filesrc"])
            .arg(format!("location={}", clip.display()))
            .args(["!", "jpegparse"])
            .args(common::DECODE_TO_CHECKSUMS),
        Duration::from_secs(120),
    );
    common::checksums(&reference.stdout_text())
        .into_iter()
        .collect()
}

/// Asserts that `shown` has at least `at_least` frames, each one of `published`.
fn all_published(viewer: &str, shown: &[String], published: &HashSet<String>, at_least: usize) {
    assert!(
        shown.len() >= at_least,
        "{viewer} showed {} frames, expected at least {at_least}",
        shown.len()
    );
    let foreign = shown.iter().filter(|s| !published.contains(*s)).count();
    assert_eq!(
        foreign,
        0,
        "{viewer}: {foreign} of {} frames differ from every published frame",
        shown.len()
    );
}

#[test]
fn ffmpeg_publishes_and_ffmpeg_and_gstreamer_watch_every_frame_unchanged() {
    let clip = CLIP.path();
    let root = common::media_root("live-ffmpeg", &[("clip.mjpeg", &clip)]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let publisher = ffmpeg_publisher(&clip, &url);
    common::wait_live(handle.rtsp, &url);
    let ffmpeg_url = url.clone();
    let ffmpeg_viewer = std::thread::spawn(move || {
        common::framemd5(
            &["-rtsp_transport", "udp", "-i", &ffmpeg_url],
            Duration::from_secs(30),
        )
    });
    let gst = gstreamer_viewer(&url, "tcp");
    let published = publisher.wait(Duration::from_secs(30));
    assert!(published.status.success(), "ffmpeg: {}", published.stderr);
    let (ffmpeg_md5s, ffmpeg_done) = ffmpeg_viewer.join().unwrap();
    // rtspsrc ends at the BYE, or is told to.
    let gst_done = gst.wait_or_interrupt(Duration::from_secs(5), Duration::from_secs(3));

    // The references: each decoder's own decode of the published file.
    let (file_md5s, _) = common::framemd5(&["-i", clip.to_str().unwrap()], Duration::from_secs(60));
    assert_eq!(file_md5s.len(), CLIP.frames as usize);
    let gst_reference = gstreamer_checksums_of(&clip);
    assert_eq!(gst_reference.len(), CLIP.frames as usize, "distinct frames");

    // Both joined within a second of a 6 s stream: at least 4 s of it each.
    let at_least = 4 * 30;
    all_published(
        "ffmpeg",
        &ffmpeg_md5s,
        &file_md5s.into_iter().collect(),
        at_least,
    );
    assert!(
        !ffmpeg_done.stderr.contains("[error]"),
        "{}",
        ffmpeg_done.stderr
    );
    let gst_md5s = common::checksums(&gst_done.stdout_text());
    all_published("GStreamer", &gst_md5s, &gst_reference, at_least);
    handle.stop().unwrap();
}

/// `rtspclientsink` publishes a moving test picture encoded by `jpegenc`, and the same
/// pipeline decodes what it publishes: the reference a GStreamer viewer of the path must match.
#[test]
fn gstreamer_publishes_and_a_gstreamer_viewer_shows_the_published_pixels() {
    let root = common::media_root("live-gst", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let mut command = moving_picture(640, 360, 30, 180);
    command
        .args(["tee", "name=t", "t.", "!", "queue", "!"])
        .arg("rtspclientsink")
        .arg(format!("location={url}"))
        .args(["protocols=tcp", "t.", "!", "queue"])
        .args(common::DECODE_TO_CHECKSUMS);
    let publisher = common::spawn(&mut command);
    common::wait_live(handle.rtsp, &url);
    let viewer = gstreamer_viewer(&url, "udp");
    // 6 s of pictures; rtspclientsink does not always leave by itself after the last.
    let published = publisher.stop_after(Duration::from_secs(9), Duration::from_secs(3));
    let shown = viewer.wait_or_interrupt(Duration::from_secs(3), Duration::from_secs(3));
    let reference: HashSet<String> = common::checksums(&published.stdout_text())
        .into_iter()
        .collect();
    assert!(
        reference.len() >= 150,
        "the publisher decoded {} distinct frames: {}",
        reference.len(),
        published.stderr
    );
    all_published(
        "GStreamer",
        &common::checksums(&shown.stdout_text()),
        &reference,
        4 * 30,
    );
    handle.stop().unwrap();
}

/// With a users file, publishing needs the publish right: hdstream-publish answers the Digest
/// challenge with credentials from the URL and records; a user who may only watch gets 403,
/// one without credentials 401.
#[test]
fn publishing_needs_the_publish_right() {
    use hdstream_server::access::Users;
    use hdstream_tools::publish::{self, Input, Settings};
    let users = Users {
        realm: "hdstream".into(),
        users: Vec::new(),
    }
    .with_user("cam", "lens", vec![], vec!["live/*".into()])
    .with_user("viewer", "eyes", vec!["*".into()], vec![]);
    let root = common::media_root("live-auth", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(
        &root,
        Config {
            users: Some(users),
            ..Config::default()
        },
    );
    let publish_as = |userinfo: &str| {
        let url = format!("rtsp://{userinfo}{}/live/cam", handle.rtsp);
        let mut settings = Settings::new(Input::File(CLIP.path()), url);
        settings.frames = Some(30);
        settings.reconnect = false;
        publish::run(&settings, &std::sync::atomic::AtomicBool::new(false))
    };
    let sent = publish_as("cam:lens@").expect("the publisher records");
    assert_eq!((sent.frames, sent.connections), (30, 1));
    let refused = publish_as("viewer:eyes@").unwrap_err().to_string();
    assert!(refused.contains("403"), "{refused}");
    let anonymous = publish_as("").unwrap_err().to_string();
    assert!(anonymous.contains("401"), "{anonymous}");
    handle.stop().unwrap();
}

/// How long a 2160p GStreamer viewer may take to drain its decoder after SIGINT (on a busy
/// 2-core machine, seconds of 4K frames can be queued).
const UHD_GRACE: Duration = Duration::from_secs(15);

/// One 2160p test at a time: two at once (4K encode, two 4K decoders) saturate two cores and
/// slow each past its time limits.
fn uhd_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The description of live `url`, once it names the size (after the first frame is in), or
/// whatever it says after 10 s.
fn described_with_size(handle: &hdstream_server::driver::Handle, url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = Rtsp::connect(handle.rtsp).request("DESCRIBE", url, &[]);
        let sdp = String::from_utf8_lossy(&reply.body).into_owned();
        if sdp.contains("x-dimensions") || Instant::now() > deadline {
            return sdp;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// ffmpeg publishing 2160p sends the size modulo 2048 (1792x112) and no `a=x-dimensions`: the
/// server reads the real size from the first frame's scan, tells the viewers, and a GStreamer
/// viewer decodes the published pixels at 3840x2160.
#[test]
fn ffmpeg_publishing_2160p_keeps_its_size_for_the_viewers() {
    let _one_2160p_at_a_time = uhd_serial();
    let uhd = Clip::new(3840, 2160, 3);
    let clip = uhd.path();
    let root = common::media_root("live-ffmpeg-uhd", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/uhd", handle.rtsp);
    let publisher = ffmpeg_publisher(&clip, &url);
    common::wait_live(handle.rtsp, &url);
    let sdp = described_with_size(&handle, &url);
    assert!(sdp.contains("a=x-dimensions:3840,2160"), "{sdp}");
    let gst = gstreamer_viewer(&url, "tcp");
    let published = publisher.wait(Duration::from_secs(30));
    assert!(published.status.success(), "ffmpeg: {}", published.stderr);
    let gst_done = gst.wait_or_interrupt(Duration::from_secs(5), UHD_GRACE);
    let gst_reference = gstreamer_checksums_of(&clip);
    assert_eq!(gst_reference.len(), uhd.frames as usize, "distinct frames");
    let shown = common::checksums(&gst_done.stdout_text());
    eprintln!(
        "GStreamer showed {} frames of ffmpeg's 2160p publish",
        shown.len()
    );
    all_published("GStreamer at 2160p", &shown, &gst_reference, 20);
    handle.stop().unwrap();
}

/// `rtspclientsink` publishing 2160p announces `a=x-dimensions`; viewers are told the size too
/// and GStreamer decodes the frames at it.
#[test]
fn a_2160p_publication_keeps_its_size_for_the_viewers() {
    let _one_2160p_at_a_time = uhd_serial();
    let root = common::media_root("live-uhd", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/uhd", handle.rtsp);
    let mut command = moving_picture(3840, 2160, 10, 40);
    command
        .arg("rtspclientsink")
        .arg(format!("location={url}"))
        .arg("protocols=tcp");
    let publisher = common::spawn(&mut command);
    common::wait_live(handle.rtsp, &url);
    let sdp = described_with_size(&handle, &url);
    assert!(sdp.contains("a=x-dimensions:3840,2160"), "{sdp}");
    let mut viewer = Command::new(tool("gst-launch-1.0"));
    viewer
        .args(["-e", "rtspsrc"])
        .arg(format!("location={url}"))
        .args(["protocols=tcp", "!", "rtpjpegdepay", "!", "jpegdec", "!"])
        .args(["fakesink", "silent=false", "sync=false", "-v"]);
    let watched = common::spawn(&mut viewer);
    publisher.stop_after(Duration::from_secs(8), Duration::from_secs(3));
    let shown = watched.wait_or_interrupt(Duration::from_secs(3), UHD_GRACE);
    let text = shown.stdout_text();
    assert!(
        text.contains("width=(int)3840") && text.contains("height=(int)2160"),
        "GStreamer decoded at 3840x2160: {}",
        &text[..text.len().min(2000)]
    );
    handle.stop().unwrap();
}
