//! Captions from speech, end to end: ffmpeg publishes video and flite's speech (three digit
//! sentences) into `live/cam` on a server with captions from speech on (pocketsphinx, Debian's
//! `pocketsphinx` + `pocketsphinx-en-us`: required, a missing one fails the test), and viewers
//! get what was said as the path's T.140 captions (RFC 4103): ffmpeg writes them as SRT, each
//! timed at its words on the sound's clock, and a raw RTSP viewer measures how soon after the
//! speech ends each caption arrives. Recognisers that flood or die, and one that is missing,
//! leave the viewers' video whole.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, serve, tool};
use hdstream_common::rtsp::Message;
use hdstream_server::core::Config;
use hdstream_server::speech::Recogniser;
use hdstream_server::test_media::av;

/// What flite says, in order, each after a pause.
const SENTENCES: [&str; 3] = [
    "one two three four five",
    "six seven eight nine",
    "three one four one five",
];
/// Silence before the first sentence (the viewers join, the recogniser loads its model), and
/// between and after the sentences.
const LEAD_S: f64 = 4.0;
const PAUSE_S: f64 = 2.5;
/// 20 s at 30 fps: longer than the speech.
const CLIP: Clip = Clip::new(320, 240, 20);

/// The speech: flite's `slt` voice (16 kHz mono), the sentences after [`LEAD_S`] of silence and
/// [`PAUSE_S`] apart, as 48 kHz stereo (what the server resamples).
fn speech_wav() -> PathBuf {
    common::cached("speech-digits-48k-stereo.wav", |path| {
        let mut cmd = Command::new(tool("ffmpeg"));
        cmd.args(["-nostdin", "-v", "error", "-y"]);
        for text in SENTENCES {
            cmd.args(["-f", "lavfi", "-i"])
                .arg(format!("flite=text='{text}':voice=slt"));
        }
        let lead = (LEAD_S * 1000.0) as u32;
        let graph = format!(
            "[0]adelay=delays={lead}:all=1,apad=pad_dur={PAUSE_S}[a];\
             [1]apad=pad_dur={PAUSE_S}[b];[2]apad=pad_dur={PAUSE_S}[c];\
             [a][b][c]concat=n=3:v=0:a=1,aresample=48000,pan=stereo|c0=c0|c1=c0[out]"
        );
        let done = common::run(
            cmd.args(["-filter_complex", &graph, "-map", "[out]"])
                .args(["-c:a", "pcm_s16le", "-f", "wav"])
                .arg(path),
            Duration::from_secs(60),
        );
        assert!(
            done.status.success(),
            "ffmpeg could not make the speech (it needs libflite: Debian's ffmpeg has it): {}",
            done.stderr
        );
    })
}

/// ffmpeg publishing the clip's video and `wav` (as L16, RFC 3551 §4.5.11) in real time.
fn publisher(url: &str, wav: &Path) -> common::Bounded {
    common::spawn(
        common::ffmpeg_publishing(&CLIP.path())
            .arg("-i")
            .arg(wav)
            .args(av::copy_video_with_sound("pcm_s16be"))
            .args(["-shortest", "-f", "rtsp", "-rtsp_transport", "tcp"])
            .arg(url),
    )
}

/// The words of `text`, lower case, punctuation and T.140's line separator dropped.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Word alignment of `heard` against `said` (Levenshtein): (words right, substitutions,
/// deletions, insertions).
fn align(said: &[String], heard: &[String]) -> (usize, usize, usize, usize) {
    let (n, m) = (said.len(), heard.len());
    // cost[i][j]: (errors, right, subs, dels, ins) aligning said[..i] with heard[..j].
    let mut cost = vec![vec![(0usize, 0usize, 0usize, 0usize, 0usize); m + 1]; n + 1];
    for (i, row) in cost.iter_mut().enumerate() {
        row[0] = (i, 0, 0, i, 0);
    }
    for (j, cell) in cost[0].iter_mut().enumerate() {
        *cell = (j, 0, 0, 0, j);
    }
    for i in 1..=n {
        for j in 1..=m {
            let (e, r, s, d, ins) = cost[i - 1][j - 1];
            let diagonal = if said[i - 1] == heard[j - 1] {
                (e, r + 1, s, d, ins)
            } else {
                (e + 1, r, s + 1, d, ins)
            };
            let (e, r, s, d, ins) = cost[i - 1][j];
            let deletion = (e + 1, r, s, d + 1, ins);
            let (e, r, s, d, ins) = cost[i][j - 1];
            let insertion = (e + 1, r, s, d, ins + 1);
            cost[i][j] = [diagonal, deletion, insertion]
                .into_iter()
                .min_by_key(|c| (c.0, std::cmp::Reverse(c.1)))
                .unwrap_or(diagonal);
        }
    }
    let (_, right, subs, dels, ins) = cost[n][m];
    (right, subs, dels, ins)
}

/// `(start in seconds, text)` of each cue of an SRT file.
fn srt_cues(text: &str) -> Vec<(f64, String)> {
    let captions = hdstream_common::text::srt::parse(text).expect("an SRT file");
    captions
        .cues
        .iter()
        .map(|c| (c.start.as_secs_f64(), c.text.clone()))
        .collect()
}

/// Speech intervals `(start, end)` in seconds from ffmpeg's `silencedetect` lines.
fn speech_intervals(log: &str) -> Vec<(f64, f64)> {
    let value = |line: &str, key: &str| -> Option<f64> {
        let rest = line.split(key).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let mut out = Vec::new();
    let mut start = None;
    for line in log.lines() {
        if let Some(end) = value(line, "silence_end: ") {
            start = Some(end);
        } else if let Some(silence) = value(line, "silence_start: ")
            && let Some(s) = start.take()
        {
            out.push((s, silence));
        }
    }
    out
}

/// What a raw RTSP viewer (TCP interleaved) received: each sound packet's arrival and level,
/// each caption's arrival and text, and the number of video frames.
#[derive(Debug, Default)]
struct Received {
    sound: Vec<(Instant, f64)>,
    captions: Vec<(Instant, String)>,
    frames: usize,
}

/// Plays `tracks` of `url` (0 video, 1 sound, 2 captions; interleaved on channels `2k`,
/// `2k + 1`) for `span`, noting arrivals.
fn raw_viewer(addr: std::net::SocketAddr, url: &str, tracks: &[u8], span: Duration) -> Received {
    let mut c = Rtsp::connect(addr);
    let mut session = String::new();
    for &track in tracks {
        let channels = format!("{}-{}", 2 * track, 2 * track + 1);
        let transport = format!("RTP/AVP/TCP;unicast;interleaved={channels}");
        let mut headers = vec![("Transport", transport.as_str())];
        if !session.is_empty() {
            headers.push(("Session", session.as_str()));
        }
        let r = c.request("SETUP", &format!("{url}/trackID={track}"), &headers);
        assert_eq!(r.status.as_u16(), 200, "SETUP trackID={track}: {r:?}");
        session = common::session_id(&r);
    }
    let r = c.request("PLAY", url, &[("Session", &session)]);
    assert_eq!(r.status.as_u16(), 200);
    let mut got = Received::default();
    let end = Instant::now() + span;
    while let Some(message) = c.message(end) {
        let Message::Data(d) = message else { continue };
        let now = Instant::now();
        let Ok(p) = hdstream_common::rtp::Packet::parse(&d.payload) else {
            continue;
        };
        match d.channel {
            0 if p.marker() => got.frames += 1,
            2 => {
                // L16: big-endian samples; the level in dBFS.
                let samples: Vec<f64> = p
                    .payload()
                    .chunks_exact(2)
                    .map(|b| f64::from(i16::from_be_bytes([b[0], b[1]])))
                    .collect();
                let rms = (samples.iter().map(|s| s * s).sum::<f64>()
                    / samples.len().max(1) as f64)
                    .sqrt();
                got.sound
                    .push((now, 20.0 * (rms.max(1.0) / 32768.0).log10()));
            }
            4 => {
                let text = String::from_utf8_lossy(p.payload()).into_owned();
                got.captions.push((now, text));
            }
            _ => {}
        }
    }
    got
}

/// When each stretch of speech in `sound` ended: the arrival of its last loud packet, a
/// stretch ending at 0.5 s without one.
fn speech_ends(sound: &[(Instant, f64)]) -> Vec<Instant> {
    let loud: Vec<Instant> = sound
        .iter()
        .filter(|(_, level)| *level > -45.0)
        .map(|(at, _)| *at)
        .collect();
    let mut ends = Vec::new();
    for w in loud.windows(2) {
        if w[1].saturating_duration_since(w[0]) > Duration::from_millis(500) {
            ends.push(w[0]);
        }
    }
    if let Some(last) = loud.last() {
        ends.push(*last);
    }
    ends
}

/// Fails the test (it is not skipped) when pocketsphinx or its English model is missing.
fn require_pocketsphinx() {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("pocketsphinx_continuous").is_file());
    let model = Path::new("/usr/share/pocketsphinx/model/en-us/en-us.lm.bin").is_file();
    assert!(
        found && model,
        "captions from speech need pocketsphinx and its English model: apt-get install \
         pocketsphinx pocketsphinx-en-us (tools/scripts/setup-deps.sh installs them)"
    );
}

#[test]
fn ffmpeg_viewers_get_what_flite_says_as_captions_timed_at_the_words() {
    require_pocketsphinx();
    let wav = speech_wav();
    let root = common::media_root("speech-captions", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(
        &root,
        Config {
            speech: Some(Recogniser::default()),
            ..Config::default()
        },
    );
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let publisher = publisher(&url, &wav);
    common::wait_live(handle.rtsp, &url);
    // The path offers captions beside its sound.
    let sdp = Rtsp::connect(handle.rtsp)
        .request("DESCRIBE", &url, &[])
        .body;
    let sdp = String::from_utf8_lossy(&sdp).into_owned();
    assert!(sdp.contains("m=text") && sdp.contains("t140/1000"), "{sdp}");
    let srt = root.join("heard.srt");
    let viewer = common::spawn(
        Command::new(tool("ffmpeg"))
            .args([
                "-nostdin",
                "-loglevel",
                "level+info",
                "-rtsp_transport",
                "tcp",
            ])
            .args(["-i", &url])
            .args(["-map", "0:s", "-c:s", "srt", "-flush_packets", "1"])
            .arg(&srt)
            .args(["-map", "0:a", "-af", "silencedetect=noise=-40dB:d=0.5"])
            .args(["-f", "null", "-"]),
    );
    let span = Duration::from_secs_f64(LEAD_S + 3.0 * PAUSE_S + 7.0);
    let raw = {
        let addr = handle.rtsp;
        let url = url.clone();
        std::thread::spawn(move || raw_viewer(addr, &url, &[0, 1, 2], span))
    };
    let raw = raw.join().expect("the raw viewer");
    let seen = viewer.stop_after(Duration::from_secs(2), Duration::from_secs(5));
    let _ = publisher.stop_after(Duration::from_secs(1), Duration::from_secs(3));
    let cues = srt_cues(&std::fs::read_to_string(&srt).unwrap_or_default());
    let speech = speech_intervals(&seen.stderr);
    eprintln!("ffmpeg's SRT: {cues:?}");
    eprintln!("speech in ffmpeg's sound (s): {speech:?}");
    // Words: the captions against what was said.
    let said: Vec<String> = SENTENCES.iter().flat_map(|s| words(s)).collect();
    let heard: Vec<String> = cues.iter().flat_map(|(_, t)| words(t)).collect();
    let (right, subs, dels, ins) = align(&said, &heard);
    let share = right as f64 / said.len() as f64;
    eprintln!(
        "words right: {right} of {} ({:.0} %); {subs} substituted, {dels} missed, {ins} extra",
        said.len(),
        share * 100.0
    );
    assert!(
        share >= 0.8,
        "{right} of {} words right: {heard:?}",
        said.len()
    );
    // Times: each sentence's caption against its speech in the same viewer's sound.
    assert_eq!(
        speech.len(),
        SENTENCES.len(),
        "three stretches of speech: {speech:?}"
    );
    for (i, &(start, end)) in speech.iter().enumerate() {
        let cue = cues
            .iter()
            .find(|(at, _)| *at >= start - 1.0 && *at <= end + 2.0)
            .unwrap_or_else(|| panic!("no caption for speech {start:.2}-{end:.2} s: {cues:?}"));
        eprintln!(
            "sentence {}: speech {start:.2}-{end:.2} s, caption at {:.2} s ({:+.2} s from the \
             speech's start, {:+.2} s from its end): {:?}",
            i + 1,
            cue.0,
            cue.0 - start,
            cue.0 - end,
            cue.1
        );
        assert!(
            (cue.0 - end).abs() <= 2.0,
            "caption at {:.2} s, speech ended at {end:.2} s",
            cue.0
        );
    }
    // Delivery: each caption arrives at the raw viewer soon after the speech it holds ends.
    let ends = speech_ends(&raw.sound);
    eprintln!(
        "raw viewer: {} frames, {} sound packets, {} captions",
        raw.frames,
        raw.sound.len(),
        raw.captions.len()
    );
    assert!(raw.frames >= 20 * 30 / 2, "{} frames", raw.frames);
    assert_eq!(
        ends.len(),
        SENTENCES.len(),
        "three stretches of speech heard"
    );
    for (i, end) in ends.iter().enumerate() {
        let (at, text) = raw
            .captions
            .iter()
            .find(|(at, _)| *at >= *end)
            .unwrap_or_else(|| panic!("no caption after speech {} ended", i + 1));
        let delay = at.saturating_duration_since(*end);
        eprintln!(
            "sentence {}: caption {:?} arrived {} ms after the speech ended",
            i + 1,
            text.trim_end_matches('\u{2028}'),
            delay.as_millis()
        );
        assert!(
            delay <= Duration::from_secs(2),
            "{delay:?} after the speech ended"
        );
    }
    handle.stop().unwrap();
}

/// A server whose recogniser is `command` (by `/bin/sh -c`), a publisher of video and a tone,
/// and two viewers of the video for `seconds`: the frames ffmpeg decoded, the frames a raw
/// viewer received (counted by wall clock: ffmpeg's `-t` counts from the earliest stream's
/// start, which a caption stamped before the first frame moves back), and the path's figures
/// once the publisher left.
fn video_beside(
    name: &str,
    command: &str,
    seconds: u32,
) -> (usize, usize, hdstream_server::publish::PathStats) {
    let root = common::media_root(name, &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(
        &root,
        Config {
            speech: Some(Recogniser::shell(command)),
            ..Config::default()
        },
    );
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let tone = common::cached("tone-440-48k-stereo-20s.wav", |path| {
        let done = common::run(
            Command::new(tool("ffmpeg"))
                .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("sine=frequency=440:sample_rate=48000:duration=20")
                .args(["-ac", "2", "-c:a", "pcm_s16le", "-f", "wav"])
                .arg(path),
            Duration::from_secs(60),
        );
        assert!(done.status.success(), "{}", done.stderr);
    });
    let publisher = publisher(&url, &tone);
    common::wait_live(handle.rtsp, &url);
    let raw = {
        let (addr, url) = (handle.rtsp, url.clone());
        let span = Duration::from_secs(u64::from(seconds));
        std::thread::spawn(move || raw_viewer(addr, &url, &[0], span))
    };
    let (frames, done) = common::framemd5(
        &[
            "-rtsp_transport",
            "tcp",
            "-i",
            &url,
            "-t",
            &seconds.to_string(),
            "-map",
            "0:v",
        ],
        Duration::from_secs(u64::from(seconds) + 20),
    );
    assert!(done.status.success(), "viewer: {}", done.stderr);
    let received = raw.join().expect("the raw viewer").frames;
    let _ = publisher.stop_after(Duration::ZERO, Duration::from_secs(3));
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        if let Some(s) = handle
            .published()
            .into_iter()
            .find(|s| s.path == "live/cam")
        {
            break s;
        }
        assert!(Instant::now() < deadline, "the path did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    handle.stop().unwrap();
    (frames.len(), received, stats)
}

/// Asserts that the video went on: a raw viewer got nearly every frame of `seconds` at 30 fps
/// and ffmpeg decoded most (its window starts at the earliest stream, see [`video_beside`]).
fn video_unharmed(decoded: usize, received: usize, seconds: usize) {
    eprintln!("video: {received} frames received, {decoded} decoded by ffmpeg, in {seconds} s");
    assert!(
        received >= seconds * 30 * 95 / 100,
        "{received} frames in {seconds} s"
    );
    assert!(
        decoded >= seconds * 30 * 80 / 100,
        "{decoded} frames decoded in {seconds} s"
    );
}

#[test]
fn a_flooding_recogniser_is_bounded_and_the_video_goes_on() {
    // 100 kB lines and tens of thousands of short lines, as fast as it can, forever.
    let flood =
        "while :; do head -c 100000 /dev/zero | tr '\\0' x; echo; yes la | head -n 20000; done";
    let (decoded, received, stats) = video_beside("speech-flood", flood, 8);
    let s = stats.speech;
    eprintln!("captions from speech: {s:?}");
    video_unharmed(decoded, received, 8);
    assert!(s.cut_lines >= 1, "{s:?}");
    assert!(s.dropped_lines > 0, "{s:?}");
    // At most the burst and the rate of captions over the run (about 10 s on the air).
    assert!(s.captions <= 2 * 4 + 4 * 15, "{s:?}");
}

#[test]
fn a_recogniser_that_dies_is_restarted_and_the_video_goes_on() {
    // Reads a second of sound, says a word, dies.
    let dies = "head -c 32000 >/dev/null; echo hello; exit 3";
    let (decoded, received, stats) = video_beside("speech-dies", dies, 8);
    let s = stats.speech;
    eprintln!("captions from speech: {s:?}");
    video_unharmed(decoded, received, 8);
    assert!(s.restarts >= 2, "{s:?}");
    assert!(s.captions >= 2, "each run's word became a caption: {s:?}");
}

#[test]
fn a_missing_recogniser_leaves_the_path_without_captions() {
    let (decoded, received, stats) =
        video_beside("speech-missing", "exec /nonexistent/recogniser", 4);
    eprintln!("captions from speech: {:?}", stats.speech);
    video_unharmed(decoded, received, 4);
    assert_eq!(stats.speech.restarts, 0, "not started again");
    assert_eq!(stats.speech.captions, 0);
}
