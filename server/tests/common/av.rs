//! ffmpeg and GStreamer as players and publishers: the command pieces several tests run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{parse_framemd5, read_s16le, run, tool};

/// ffmpeg publishing the MJPEG file `clip` at 30 fps in real time, its command ending in `-re`:
/// the caller adds the second input (the sound), the mapping and the output.
pub fn ffmpeg_publishing(clip: &Path) -> Command {
    let mut cmd = Command::new(tool("ffmpeg"));
    cmd.args(["-nostdin", "-v", "error", "-re", "-framerate", "30"])
        .args(["-f", "mjpeg", "-i"])
        .arg(clip)
        .arg("-re");
    cmd
}

/// What ffmpeg decoded of `url` (over `transport`, `input` options before `-i`, e.g. a seek),
/// within `timeout`: per-frame MD5s of the video (written to `video`) and s16le sound (written
/// to `audio`). Fails the test unless ffmpeg succeeds.
pub fn ffmpeg_decodes(
    url: &str,
    transport: &str,
    input: &[&str],
    (video, audio): (&Path, &Path),
    timeout: Duration,
) -> (Vec<String>, Vec<i16>) {
    let done = run(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-loglevel", "level+warning"])
            .args(input)
            .args(["-rtsp_transport", transport, "-i", url])
            .args(["-map", "0:v", "-f", "framemd5"])
            .arg(video)
            .args(["-map", "0:a", "-c:a", "pcm_s16le", "-f", "s16le"])
            .arg(audio),
        timeout,
    );
    assert!(done.status.success(), "ffmpeg: {}", done.stderr);
    let frames = parse_framemd5(&std::fs::read_to_string(video).unwrap_or_default());
    (frames, read_s16le(audio))
}

/// ffprobe's `codec_name,sample_rate,channels,width,height` of each stream of `url`, one CSV
/// line a stream; fails the test, naming `what`, unless ffprobe succeeds within 20 s.
pub fn ffprobe_streams(url: &str, what: &str) -> String {
    let done = run(
        Command::new(tool("ffprobe")).args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels,width,height",
            "-of",
            "csv=p=0",
            url,
        ]),
        Duration::from_secs(20),
    );
    assert!(done.status.success(), "{what}: {}", done.stderr);
    done.stdout_text()
}

/// A `gst-launch-1.0 -q -e rtspsrc` pipeline of `url` (`rtspsrc` options `source`, one of
/// them `name=<src>`) whose L16 sound is written to `out` as S16LE; it ends with the video's
/// pad depayloaded (`rtpjpegdepay`) for the caller to finish.
pub fn gst_l16_to_file(url: &str, source: &[&str], src: &str, out: &Path) -> Command {
    let pad = format!("{src}.");
    let mut cmd = Command::new(tool("gst-launch-1.0"));
    cmd.args(["-q", "-e", "rtspsrc"])
        .args(source)
        .arg(format!("location={url}"))
        .args([
            &pad,
            "!",
            "application/x-rtp,media=audio",
            "!",
            "rtpL16depay",
        ])
        .args(["!", "audioconvert", "!", "audio/x-raw,format=S16LE"])
        .args(["!", "filesink"])
        .arg(format!("location={}", out.display()))
        .args([
            &pad,
            "!",
            "application/x-rtp,media=video",
            "!",
            "rtpjpegdepay",
        ]);
    cmd
}
