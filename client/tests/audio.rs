//! Loopback with sound: our server in-process serving a pattern MJPEG (5 s at 30 fps) with a
//! WAV beside it (48 kHz stereo L16, the same length; `common::sound`), played headless with
//! `--audio-out`, over UDP and TCP. The WAV written must be the file's samples exactly from
//! the first one played (found by what it says), every frame must be shown, and the report
//! must count the audio packets (20 ms each) with none lost, concealed or late.

use crate::common;

use common::sound::{self, SECONDS};
use common::{logs, recording, serial};
use hdstream_client::{LowerTransport, Target, play};

fn check(transport: LowerTransport, name: &str) {
    logs();
    let file = sound::talk();
    let (report, rate, samples) =
        sound::play_recording_sound(&file, f64::from(sound::FPS), name, |options| {
            options.transport = transport;
        });
    sound::assert_clean_run(&report, &samples, rate, name);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["audio_format"], "L16/48000/2 (PT 96)");
    assert_eq!(
        json["audio_packets_received"],
        u64::from(SECONDS * 1000 / 20),
        "one packet every 20 ms"
    );
}

#[test]
fn udp_sound_is_written_as_played() {
    check(LowerTransport::Udp, "udp");
}

#[test]
fn tcp_sound_is_written_as_played() {
    check(LowerTransport::Tcp, "tcp");
}

/// `--no-audio`: one SETUP, no sound written, the pictures as before.
#[test]
fn no_audio_leaves_the_sound_out() {
    logs();
    let file = sound::talk();
    let _one_at_a_time = serial();
    let server = common::Server::start(&file, f64::from(sound::FPS));
    let mut options = recording(Target::Url(server.url.clone()));
    options.audio = false;
    let report = play(&options).expect("plays to the end");
    server.handle.stop().unwrap();
    assert_eq!(report.frames_displayed, u64::from(SECONDS * sound::FPS));
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["audio_format"].is_null(), "{json:#}");
    assert_eq!(json["audio_packets_received"], 0);
}

/// A pause and a resume (PLAY without a Range) in the middle: the sound stops and goes on
/// where it stopped, sample for sample, as the pictures do.
#[test]
fn a_pause_keeps_the_sound_whole() {
    logs();
    let file = sound::talk();
    let (report, rate, samples) =
        sound::play_recording_sound(&file, f64::from(sound::FPS), "pause", |options| {
            options.script = sound::a_second_of_pause();
        });
    sound::assert_clean_run(&report, &samples, rate, "pause");
}
