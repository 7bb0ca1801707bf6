//! The sound device, through ALSA: the `hdstream-client` binary plays `talk` (the ramp of
//! `common::sound`, 5 s of 48 kHz stereo beside the pattern MJPEG, from our server in-process)
//! on ALSA's `default` PCM — the client's default device — while `--audio-out` records what it
//! played. `default` is redefined, for the child process only, by an `ALSA_CONFIG_PATH` file
//! that reads the system's `alsa.conf` and then makes it the `file` plugin writing every
//! sample it gets, raw s16le, to a file, over the `null` plugin (no sound card needed: CI
//! runs on a machine without one). The device's bytes must be the recording's samples, in
//! order: the same sound, sample for sample, allowing silence before and after it and silence
//! inserted where the device ran dry (counted, and small).
//!
//! **Pacing.** `null` does not pace playback: it takes every write at once (`aplay` of a 3 s
//! WAV through this very setup returns in 5 ms; the `file` plugin's `format "wav"` changes
//! nothing, it writes as `null` takes). So cpal's callback would be called back-to-back; the
//! client's device sink keeps any device to real time itself (`audio::device`: it hands out
//! no more than real time since the stream's start warrants plus the device's buffer, and
//! sleeps past that; a real device never gets there). This test is what shows that works:
//! without it the raw file would be minutes of silence with the sound in slivers.
//!
//! It fails, not skips, when ALSA or cpal cannot open the device (libasound2 and
//! libasound2-dev come from `tools/scripts/setup-deps.sh`).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::sound::{self, SECONDS};
use common::{Server, media_dir, serial};

/// The child's stderr, for the failure messages.
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An ALSA configuration: the system's, then `default` as the `file` plugin writing raw
/// samples to `raw` over `null`.
fn alsa_config(dir: &Path, raw: &Path) -> std::path::PathBuf {
    let conf = dir.join("alsa.conf");
    std::fs::write(
        &conf,
        format!(
            "</usr/share/alsa/alsa.conf>\n\
             pcm.!default {{ type file; slave.pcm \"null\"; file \"{}\"; format \"raw\"; }}\n",
            raw.display()
        ),
    )
    .unwrap();
    conf
}

/// Stereo frames of interleaved samples.
fn frames(samples: &[i16]) -> Vec<[i16; 2]> {
    samples.chunks_exact(2).map(|f| [f[0], f[1]]).collect()
}

/// How the device's frames hold the recording's.
#[derive(Debug)]
struct Match {
    /// Frames of the recording (from its first sound) found in order on the device.
    matched: usize,
    /// Frames of the recording from its first sound.
    total: usize,
    /// Silent frames on the device before the sound, and after it.
    lead: usize,
    trail: usize,
    /// Silent frames inserted within the sound, and in how many runs.
    inserted: usize,
    runs: usize,
    /// The first device frame that is neither the recording's next nor silence.
    mismatch: Option<usize>,
}

/// Walks the recording (from its first non-silent frame) along the device's frames: equal
/// frames match; a silent device frame where the recording has sound was inserted.
fn compare(device: &[[i16; 2]], recorded: &[[i16; 2]]) -> Match {
    const SILENT: [i16; 2] = [0, 0];
    let start = recorded.iter().position(|f| *f != SILENT).unwrap_or(0);
    let recorded = &recorded[start..];
    let lead = device.iter().take_while(|f| **f == SILENT).count();
    let (mut i, mut j) = (0, lead);
    let (mut inserted, mut runs, mut in_run, mut mismatch) = (0, 0, false, None);
    while i < recorded.len() && j < device.len() {
        if device[j] == recorded[i] {
            i += 1;
            in_run = false;
        } else if device[j] == SILENT {
            inserted += 1;
            runs += usize::from(!in_run);
            in_run = true;
        } else {
            mismatch = Some(j);
            break;
        }
        j += 1;
    }
    let trail = device[j..].iter().take_while(|f| **f == SILENT).count();
    if mismatch.is_none() && j + trail < device.len() {
        mismatch = Some(j + trail);
    }
    Match {
        matched: i,
        total: recorded.len(),
        lead,
        trail,
        inserted,
        runs,
        mismatch,
    }
}

#[test]
fn the_default_device_plays_what_audio_out_records() {
    let file = sound::talk();
    let _one_at_a_time = serial();
    let server = Server::start(&file, f64::from(sound::FPS));
    let dir = media_dir().join(format!("alsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("device.raw");
    let wav = dir.join("played.wav");
    let conf = alsa_config(&dir, &raw);
    // No display, no --headless: the client plays headless on its default sound device.
    let out = Command::new(env!("CARGO_BIN_EXE_hdstream-client"))
        .arg(&server.url)
        .arg("--audio-out")
        .arg(&wav)
        .env("ALSA_CONFIG_PATH", &conf)
        .env("RUST_LOG", "warn,hdstream_client=info")
        .env("NO_COLOR", "1")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    server.handle.stop().unwrap();
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("sound device opened") && !log.contains("no sound device"),
        "the device opened: {log}"
    );
    for line in log.lines().filter(|l| l.contains("sound device")) {
        eprintln!("client: {line}");
    }

    let (rate, recorded) = sound::read_wav(&wav);
    assert_eq!(rate, sound::RATE);
    // The recording is the clean run every audio test asks for.
    sound::assert_played_as_is(&recorded, "--audio-out");
    let bytes = std::fs::read(&raw).unwrap_or_else(|e| panic!("{}: {e}; {log}", raw.display()));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(bytes.len() % 4, 0, "whole s16le stereo frames");
    let device: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let (device, recorded) = (frames(&device), frames(&recorded));
    let m = compare(&device, &recorded);
    let ms = |frames: usize| frames as f64 * 1000.0 / f64::from(sound::RATE);
    eprintln!(
        "device: {} of {} frames of the recording matched in order ({:.1} s); {} frames on the \
         device: {:.0} ms of silence before, {:.0} ms after, {} frames ({:.1} ms) inserted in \
         {} underrun(s)",
        m.matched,
        m.total,
        ms(m.matched) / 1000.0,
        device.len(),
        ms(m.lead),
        ms(m.trail),
        m.inserted,
        ms(m.inserted),
        m.runs,
    );
    assert_eq!(
        m.mismatch, None,
        "the device played something the recording does not have there: {m:?}"
    );
    assert_eq!(
        m.matched, m.total,
        "the device played all of the recording: {m:?}"
    );
    assert!(
        m.total >= (SECONDS * sound::RATE) as usize - 1,
        "the whole sound: {m:?}"
    );
    assert!(
        ms(m.inserted) <= 100.0 && m.runs <= 5,
        "little silence inserted: {m:?}"
    );
    // Paced: the device got about as much as was played, not a flood of silence.
    assert!(
        ms(m.lead + m.trail) <= 1000.0,
        "silence around the sound: {m:?}"
    );
}

/// Plays `talk` with `args` and `env`; asserts the run went on without sound: one warning
/// line naming `device` (ALSA's own messages kept off stderr), every picture shown, the sound
/// still recorded.
fn assert_plays_on_without_a_device(args: &[&str], env: &[(&str, &Path)], device: &str) {
    let file = sound::talk();
    let _one_at_a_time = serial();
    let server = Server::start(&file, f64::from(sound::FPS));
    let dir = media_dir().join(format!("alsa-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stats = dir.join("stats.json");
    let wav = dir.join("played.wav");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hdstream-client"));
    child
        .arg(&server.url)
        .args(args)
        .arg("--audio-out")
        .arg(&wav)
        .arg("--stats-json")
        .arg(&stats)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    for (name, value) in env {
        child.env(name, value);
    }
    let out = child.output().unwrap();
    server.handle.stop().unwrap();
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("no sound device"))
        .collect();
    eprintln!("{warnings:?}");
    assert_eq!(warnings.len(), 1, "one warning: {log}");
    assert!(warnings[0].contains(device), "{warnings:?}");
    assert!(
        !log.contains("ALSA lib"),
        "ALSA's messages stay off stderr: {log}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(
        json["frames_displayed"],
        u64::from(SECONDS * sound::FPS),
        "every picture shown"
    );
    let (_, recorded) = sound::read_wav(&wav);
    let _ = std::fs::remove_dir_all(&dir);
    sound::assert_played_as_is(&recorded, "--audio-out without a device");
}

/// `--audio-device` naming a device that is not there.
#[test]
fn without_the_named_device_one_warning_and_the_video_plays_on() {
    assert_plays_on_without_a_device(
        &["--headless", "--audio-device", "hdstream-no-such-device"],
        &[],
        "hdstream-no-such-device",
    );
}

/// The default device on a machine without a sound card (CI's): ALSA's `default` made a card
/// that is not there, so a machine with one fails the same way.
#[test]
fn without_a_sound_card_one_warning_and_the_video_plays_on() {
    let dir = media_dir().join(format!("alsa-nocard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("alsa.conf");
    std::fs::write(
        &conf,
        "</usr/share/alsa/alsa.conf>\npcm.!default { type hw; card 29; }\n",
    )
    .unwrap();
    assert_plays_on_without_a_device(&[], &[("ALSA_CONFIG_PATH", &conf)], "the default device");
    let _ = std::fs::remove_dir_all(&dir);
}
