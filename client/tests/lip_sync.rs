//! Lip sync in our client, measured on what it showed and what it played: a file whose picture
//! flashes at each whole second and whose sound (a WAV beside it) clicks at each flash —
//! `encode_mjpeg --flash --tone-wav` — is played headless with `--audio-out` for 62 s, through
//! a seek forward, a pause and a seek back. The client records, for every picture shown, where its
//! sound output was at that moment (`displayed_sound_ms`: sample *k* of the recording is heard
//! at *k / rate*); the clicks are found in the recording. Every flash picture shown must have
//! its click within ±20 ms (ITU-R BT.1359 puts the detectable offset at +45 / −125 ms), and
//! every click must belong to a flash shown.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::{cached, logs, media_dir, recording};
use hdstream_client::{Step, Target, play};
use hdstream_tools::generate::{self, Marks, Options, Source};
use hdstream_tools::tone::{self, Tone};

const FPS: u32 = 30;
const SECONDS: u32 = 60;
const RATE: u32 = 48_000;
/// The largest offset allowed between a flash shown and its click heard, ms.
const BOUND_MS: f64 = 20.0;

/// `sync60.mjpeg` (640x360, 60 s, flashing each second) with `sync60.wav` beside it, made once.
fn flash_file() -> PathBuf {
    let dir = media_dir().join("lip-sync");
    std::fs::create_dir_all(&dir).unwrap();
    let mjpeg = dir.join("sync60.mjpeg");
    let frames = (FPS * SECONDS) as usize;
    let wav = cached(dir.join("sync60.wav"), || {
        let tmp = dir.join(format!("sync60-{}.wav.tmp", std::process::id()));
        let tone = Tone {
            rate: RATE,
            channels: 2,
            fps: f64::from(FPS),
        };
        tone::write_wav(&tmp, &tone, frames as u64).unwrap();
        let bytes = std::fs::read(&tmp).unwrap();
        let _ = std::fs::remove_file(&tmp);
        bytes
    });
    assert!(wav.exists());
    if !mjpeg.exists() {
        let options = Options {
            source: Source::Pattern {
                width: 640,
                height: 360,
                frames,
            },
            fps: FPS,
            quality: 70,
            restart: hdstream_video::encoder::Restart::None,
            container: hdstream_video::index::Container::Plain,
            out: mjpeg.clone(),
            threads: 0,
            progress: false,
        };
        generate::generate_with(&options, Marks { flash: true }).unwrap();
    }
    mjpeg
}

/// Checks `report` and the recording `wav`: at least `flashes` flash pictures shown, each with
/// its click within [`BOUND_MS`], and no click without its flash but just before a seek's first
/// picture. Returns the worst offset.
fn assert_in_sync(report: &hdstream_client::Report, wav: &std::path::Path, flashes: usize) -> f64 {
    let (found, stray) = offsets(report, wav);
    let worst = found.iter().copied().fold(0.0f64, |m, d| m.max(d.abs()));
    eprintln!(
        "{} flashes shown, each click after its flash by (ms): {:?}; worst {worst:.1} ms; \
         stray clicks at {stray:?}",
        found.len(),
        found
            .iter()
            .map(|d| (d * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    assert!(
        found.len() >= flashes,
        "{} flashes shown, {flashes} expected",
        found.len()
    );
    assert!(worst <= BOUND_MS, "a click {worst:.1} ms from its flash");
    // A click with no flash shown is one whose picture a seek threw away after its sound was
    // written (the sound is written 100 ms ahead): just before the first picture of a seek.
    let after_seeks: Vec<f64> = report
        .seeks
        .iter()
        .filter_map(|s| {
            let first = s.first_frame_s?;
            let i = report.displayed_npt.iter().position(|&n| n == first)?;
            report.displayed_sound_ms[i]
        })
        .collect();
    assert!(stray.len() <= report.seeks.len(), "stray clicks: {stray:?}");
    for c in &stray {
        assert!(
            after_seeks.iter().any(|&f| (f - 1000.0..f).contains(c)),
            "a click at {c} ms with no flash shown, not before a seek's first picture \
             ({after_seeks:?})"
        );
    }
    assert_eq!(report.frames_undecodable, 0);
    worst
}

/// The offsets (click heard − flash shown, ms) of every flash picture shown, and the clicks
/// that matched no flash shown (their times, ms).
fn offsets(report: &hdstream_client::Report, wav: &std::path::Path) -> (Vec<f64>, Vec<f64>) {
    let (rate, samples) = common::sound::read_wav(wav);
    assert_eq!(rate, RATE);
    let clicks: Vec<f64> = tone::find_clicks(&samples, 2, rate)
        .into_iter()
        .map(|k| k as f64 * 1000.0 / f64::from(rate))
        .collect();
    // A flash frame is near white; the pattern's others are far darker.
    let flashes: Vec<f64> = report
        .displayed_brightness
        .iter()
        .zip(&report.displayed_sound_ms)
        .filter(|(bright, _)| f64::from(**bright) >= hdstream_tools::flash::BRIGHT_MEAN)
        .filter_map(|(_, at)| *at)
        .collect();
    tone::pair_clicks(&flashes, &clicks, BOUND_MS)
}

#[test]
fn every_flash_is_heard_within_20_ms_through_a_seek_a_pause_and_a_seek_back() {
    logs();
    let file = flash_file();
    // Light (360p30): it runs beside the live case, not after it.
    let server = common::Server::start(&file, f64::from(FPS));
    let out = media_dir().join(format!("lip-sync-{}.wav", std::process::id()));
    let mut options = recording(Target::Url(server.url.clone()));
    options.audio_out = Some(out.clone());
    options.duration = Some(Duration::from_secs(22));
    // 0–4 s; seek to 20 s, play 3 s; pause 2 s; play 3 s; seek back to 8 s, play on to 18 s:
    // about 20 s of the file shown in 22 s.
    options.script = vec![
        (Duration::from_secs(4), Step::SeekTo(20.0)),
        (Duration::from_secs(7), Step::Pause),
        (Duration::from_secs(9), Step::Resume),
        (Duration::from_secs(12), Step::SeekTo(8.0)),
    ];
    let report = play(&options).expect("plays");
    eprintln!("{report}");
    server.handle.stop().unwrap();
    assert_eq!(report.seeks.len(), 2, "both seeks made");
    assert_eq!(report.pauses.len(), 1, "the pause made");
    // A flash a second over about 20 s of play.
    assert_in_sync(&report, &out, 17);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn live_every_flash_is_heard_within_20_ms_through_a_timeshift_pause_a_jump_back_and_the_edge() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    logs();
    // A server of a file (none is played) and of what is published into it.
    let server = common::Server::start(&common::pattern_file(640, 360, 30), 30.0);
    let url = format!("rtsp://{}/live/sync", server.addr());
    let mut publishing = hdstream_tools::publish::Settings::new(
        hdstream_tools::publish::Input::Pattern {
            width: 640,
            height: 360,
        },
        url.clone(),
    );
    publishing.audio = Some(hdstream_tools::publish::AudioInput::Tone);
    publishing.flash = true;
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || hdstream_tools::publish::run(&publishing, &stop))
    };
    let out = media_dir().join(format!("lip-sync-live-{}.wav", std::process::id()));
    let mut options = recording(Target::Url(url.clone()));
    options.audio_out = Some(out.clone());
    options.duration = Some(Duration::from_secs(16));
    // Pause 2 s (timeshift: 2 s behind live), jump back 3 s in what is kept, back to live.
    options.script = vec![
        (Duration::from_millis(3500), Step::Pause),
        (Duration::from_millis(5500), Step::Resume),
        (Duration::from_millis(8500), Step::SeekBy(-3.0)),
        (Duration::from_millis(11_500), Step::LiveEdge),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        match play(&options) {
            Ok(report) if report.frames_displayed > 0 => break report,
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => panic!("{url}: {other:?}"),
        }
    };
    eprintln!("{report}");
    stop.store(true, Ordering::SeqCst);
    publisher.join().unwrap().unwrap();
    server.handle.stop().unwrap();
    assert_eq!(report.pauses.len(), 1, "the pause made");
    assert_eq!(
        report.seeks.len(),
        2,
        "the jump back and the return to the edge made"
    );
    assert!(
        report.audio.audio_seconds_silent < 1.0,
        "the sound played through the jump back: {} s silent",
        report.audio.audio_seconds_silent
    );
    // About 15 s of play, a flash each second.
    assert_in_sync(&report, &out, 12);
    let _ = std::fs::remove_file(&out);
}
