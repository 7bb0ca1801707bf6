//! A clip with sound for the audio tests: `talk.mjpeg` (the cached 640x360 pattern, 5 s at
//! 30 fps) with `talk.wav` beside it (48 kHz stereo, the same length), whose every sample
//! frame says where it is in the file — a ramp in the left channel, the frame number's high
//! bits in the right — and the check that a WAV the client wrote is that sound as it is.

use std::path::{Path, PathBuf};

use hdstream_common::audio::wav;

use super::{cached, media_dir, pattern_file};

/// Seconds of the clip.
pub const SECONDS: u32 = 5;
/// Its frame rate.
pub const FPS: u32 = 30;
/// Its sound's sample rate.
pub const RATE: u32 = 48_000;

/// Sample frame `n` of the sound: the ramp `n` (low 16 bits) left, its high bits right.
pub fn frame(n: u32) -> [i16; 2] {
    [n as u16 as i16, (n >> 16) as u16 as i16]
}

/// Which frame of the sound a sample frame is.
pub fn position(left: i16, right: i16) -> u32 {
    (u32::from(right as u16) << 16) | u32::from(left as u16)
}

/// `talk.mjpeg` with `talk.wav` beside it, in a directory of their own; returns the MJPEG.
pub fn talk() -> PathBuf {
    let frames = u64::from(SECONDS * FPS);
    let pattern = pattern_file(640, 360, frames);
    let dir = media_dir().join("audio-talk");
    std::fs::create_dir_all(&dir).unwrap();
    let mjpeg = cached(dir.join("talk.mjpeg"), || std::fs::read(&pattern).unwrap());
    cached(dir.join("talk.wav"), || {
        let samples: Vec<i16> = (0..SECONDS * RATE).flat_map(frame).collect();
        let mut bytes = wav::header(RATE, 2, (samples.len() * 2) as u32).to_vec();
        bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        bytes
    });
    mjpeg
}

/// The sample rate and the samples of a stereo WAV file the client finished.
pub fn read_wav(path: &Path) -> (u32, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap();
    let w = wav::parse(&bytes).expect("a WAV file whose header was finished");
    assert_eq!(w.channels, 2);
    assert_eq!(
        w.data.end,
        bytes.len(),
        "the data size covers every sample written"
    );
    let mut samples = Vec::new();
    w.read_samples(&bytes, &mut samples);
    (w.sample_rate, samples)
}

/// Asserts the samples are the sound sample for sample from the first frame played to its
/// end; returns the frames of silence before it and the file frame it starts at.
pub fn assert_played_as_is(samples: &[i16], what: &str) -> (usize, u32) {
    let frames: Vec<[i16; 2]> = samples.chunks_exact(2).map(|f| [f[0], f[1]]).collect();
    let lead = frames.iter().take_while(|f| **f == [0, 0]).count();
    // Frame 0 of the file is [0, 0] too: a silent lead ends one frame early.
    let start = if lead > 0 && frames.get(lead).is_some_and(|f| position(f[0], f[1]) == 1) {
        lead - 1
    } else {
        lead
    };
    let first = frames.get(start).map(|f| position(f[0], f[1])).unwrap_or(0);
    let total = SECONDS * RATE;
    assert!(
        first < total,
        "{what}: the first sample played is not from the file"
    );
    let played = &frames[start..];
    let expected: Vec<[i16; 2]> = (first..total).map(frame).collect();
    let differs = played.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        differs.is_none() && played.len() == expected.len(),
        "{what}: from frame {first} of the file, the first difference is at {differs:?}; \
         {} frames played, {} expected",
        played.len(),
        expected.len()
    );
    (start, first)
}

/// Asserts what every audio test asks of a clean run of `talk`: every frame delivered, the sound
/// written as it is from its first frame, the report's audio counts; prints and returns the
/// audio/video offset's p50 and p99 (ms).
pub fn assert_clean_run(
    report: &hdstream_client::Report,
    samples: &[i16],
    rate: u32,
    what: &str,
) -> (f64, f64) {
    let frames = u64::from(SECONDS * FPS);
    super::assert_every_frame_delivered(report, frames, &format!("{what}: every frame delivered"));
    assert_eq!(rate, RATE);
    let (lead, first) = assert_played_as_is(samples, what);
    eprintln!(
        "{what}: {} frames written, the sound from file frame {first} after {lead} frames of \
         silence",
        samples.len() / 2
    );
    assert_eq!(
        first, 0,
        "{what}: the sound plays from its start with the first picture"
    );
    let json = serde_json::to_value(report).unwrap();
    assert!(
        json["audio_packets_received"].as_u64().unwrap() > 0,
        "{json:#}"
    );
    for field in [
        "audio_packets_lost",
        "audio_concealed_packets",
        "audio_packets_late",
        "audio_packets_dropped",
        "audio_underruns",
    ] {
        assert_eq!(json[field], 0, "{what}: {field}: {report}");
    }
    let played = json["audio_seconds_played"].as_f64().unwrap();
    let expected = f64::from(SECONDS) + lead as f64 / f64::from(RATE);
    assert!(
        (played - expected).abs() < 1e-6,
        "{what}: {played} s played"
    );
    let offset = &json["audio_video_offset_ms"];
    assert!(offset["count"].as_u64().unwrap() >= frames - 1, "{offset}");
    let (p50, p99) = (
        offset["p50"].as_f64().unwrap(),
        offset["p99"].as_f64().unwrap(),
    );
    eprintln!("{what}: audio/video offset p50 {p50:.2} ms, p99 {p99:.2} ms: {offset}");
    assert!(
        p50.abs() < 5.0,
        "{what}: pictures shown with their sound: {offset}"
    );
    (p50, p99)
}

/// Plays `file` headless from our server (in-process, at `fps`), one test at a time,
/// recording the frames and the sound (to a WAV named after `name`, read and removed) with
/// the options `set` changes; prints the report and answers it with the WAV's rate and
/// samples.
pub fn play_recording_sound(
    file: &Path,
    fps: f64,
    name: &str,
    set: impl FnOnce(&mut hdstream_client::Options),
) -> (hdstream_client::Report, u32, Vec<i16>) {
    let _one_at_a_time = super::serial();
    let server = super::Server::start(file, fps);
    let out = media_dir().join(format!("played-{name}-{}.wav", std::process::id()));
    let mut options = super::recording(hdstream_client::Target::Url(server.url.clone()));
    options.audio_out = Some(out.clone());
    set(&mut options);
    let report = hdstream_client::play(&options).expect("plays to the end");
    eprintln!("{report}");
    server.handle.stop().unwrap();
    let (rate, samples) = read_wav(&out);
    let _ = std::fs::remove_file(&out);
    (report, rate, samples)
}

/// A script that pauses 1.5 s in and resumes 2.5 s in.
pub fn a_second_of_pause() -> Vec<(std::time::Duration, hdstream_client::Step)> {
    use hdstream_client::Step;
    use std::time::Duration;
    vec![
        (Duration::from_millis(1500), Step::Pause),
        (Duration::from_millis(2500), Step::Resume),
    ]
}
