//! Loopback with captions: our server in-process serving the 5 s pattern MJPEG with a WebVTT
//! file of 3 cues beside it (so DESCRIBE offers a T.140 text track, RFC 4103), played headless
//! with `--captions-out`, over UDP (video and captions) and TCP (video, sound and captions on
//! interleaved channels 0-5). The SRT written must have the 3 texts, each starting within one
//! frame (33 ms) of the file's start, and the report must count them.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::sound::{self, SECONDS};
use common::{cached, logs, media_dir, pattern_file, recording, serial};
use hdstream_client::{LowerTransport, Target, play};
use hdstream_common::text::srt;

/// The captions file: (start ms, end ms, text).
const CUES: [(u64, u64, &str); 3] = [
    (500, 1800, "First caption"),
    (2000, 3200, "Second line\nwith a break"),
    (3700, 4600, "Third, the last"),
];
/// One frame at 30 fps, the tolerance on a caption's start.
const FRAME: Duration = Duration::from_millis(33);

fn vtt() -> String {
    let t = |ms: u64| format!("00:00:{:02}.{:03}", ms / 1000, ms % 1000);
    let mut out = String::from("WEBVTT\n\n");
    for (start, end, text) in CUES {
        out += &format!("{} --> {}\n{text}\n\n", t(start), t(end));
    }
    out
}

/// `captioned.mjpeg` (the cached 640x360 pattern, 5 s) with `captioned.vtt` beside it and,
/// when `with_sound`, `captioned.wav`, in a directory of their own; returns the MJPEG.
fn captioned(with_sound: bool) -> PathBuf {
    let frames = u64::from(SECONDS * sound::FPS);
    let pattern = pattern_file(640, 360, frames);
    let name = if with_sound {
        "captions-sound"
    } else {
        "captions"
    };
    let dir = media_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mjpeg = cached(dir.join("captioned.mjpeg"), || {
        std::fs::read(&pattern).unwrap()
    });
    cached(dir.join("captioned.vtt"), || vtt().into_bytes());
    if with_sound {
        let talk = sound::talk();
        cached(dir.join("captioned.wav"), || {
            std::fs::read(talk.with_extension("wav")).unwrap()
        });
    }
    mjpeg
}

fn check(transport: LowerTransport, with_sound: bool, name: &str) {
    logs();
    let file = captioned(with_sound);
    let _one_at_a_time = serial();
    let server = common::Server::start(&file, f64::from(sound::FPS));
    let out = media_dir().join(format!("captions-{name}-{}.srt", std::process::id()));
    let mut options = recording(Target::Url(server.url.clone()));
    options.transport = transport;
    options.captions_out = Some(out.clone());
    let report = play(&options).expect("plays to the end");
    eprintln!("{report}");
    server.handle.stop().unwrap();
    let written = std::fs::read_to_string(&out).expect("the SRT file is written");
    let _ = std::fs::remove_file(&out);
    eprintln!("{name}: --captions-out wrote:\n{written}");
    let got = srt::parse(&written).expect("an SRT file");
    assert!(got.skipped.is_empty(), "{:?}", got.skipped);
    assert_eq!(got.cues.len(), CUES.len(), "{written}");
    for (cue, (start, _, text)) in got.cues.iter().zip(CUES) {
        let want = Duration::from_millis(start);
        let off = cue.start.as_secs_f64() - want.as_secs_f64();
        eprintln!(
            "{name}: {text:?} starts at {:.3} s, the file's {:.3} s: {:+.1} ms, ends {:.3} s",
            cue.start.as_secs_f64(),
            want.as_secs_f64(),
            off * 1000.0,
            cue.end.as_secs_f64()
        );
        assert_eq!(cue.text, text);
        assert!(
            cue.start.abs_diff(want) <= FRAME,
            "{name}: {text:?} starts {off:+.3} s from the file's"
        );
        assert!(cue.end > cue.start && cue.end <= cue.start + Duration::from_secs(3));
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["captions_received"], CUES.len() as u64, "{json:#}");
    assert_eq!(json["captions_dropped"], 0);
    assert_eq!(report.frames_displayed, u64::from(SECONDS * sound::FPS));
    if with_sound {
        assert_eq!(
            json["audio_packets_received"],
            u64::from(SECONDS * 1000 / 20)
        );
    }
}

#[test]
fn udp_captions_are_written_in_media_time() {
    check(LowerTransport::Udp, false, "udp");
}

#[test]
fn tcp_captions_beside_sound_are_written_in_media_time() {
    check(LowerTransport::Tcp, true, "tcp");
}

/// `--no-captions`: no text track set up, nothing counted, nothing written but an empty file.
#[test]
fn no_captions_leaves_the_text_track_out() {
    logs();
    let file = captioned(false);
    let _one_at_a_time = serial();
    let server = common::Server::start(&file, f64::from(sound::FPS));
    let mut options = recording(Target::Url(server.url.clone()));
    options.captions = false;
    let report = play(&options).expect("plays to the end");
    server.handle.stop().unwrap();
    assert_eq!(report.frames_displayed, u64::from(SECONDS * sound::FPS));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["captions_received"], 0);
}
