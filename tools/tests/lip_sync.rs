//! Lip sync through a real `hdstream-server` (built into this test's target directory:
//! `cargo build -p hdstream-server`, a no-op when up to date): `hdstream-publish
//! pattern:640x360 --audio tone` publishes into it, or it serves `encode_mjpeg --flash
//! --tone-wav`'s clip.mjpeg + clip.wav, and an ffmpeg viewer decodes the video and sound over
//! TCP: a click is found once a second, ≥ 95 % of the frames arrive, and each flash frame's pts
//! is within 40 ms of its click's (the offsets are printed: `-- --nocapture`) — ffmpeg lines the
//! tracks up by the sender reports, so this measures the whole chain's sync. Needs ffmpeg
//! (`apt-get install ffmpeg`); without it the tests fail rather than skip.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Running, ffmpeg_viewer, publisher, scratch, start_server, wait_live, wait_output};
use hdstream_tools::{flash, tone};

const FPS: f64 = 30.0;
/// Seconds the viewer decodes.
const SECONDS: u32 = 4;

/// The sound a viewer should get: its rate, channels and sample frames a packet.
#[derive(Clone, Copy)]
struct Sound {
    rate: u32,
    channels: u16,
    packet: usize,
}

/// L16 at 48 kHz stereo, 340 sample frames to a 1400-byte IP packet (the publisher's, and a
/// file's are 960: 20 ms).
const L16: Sound = Sound {
    rate: 48_000,
    channels: 2,
    packet: 340,
};
/// Opus at 48 kHz stereo, 20 ms packets.
const OPUS: Sound = Sound {
    rate: 48_000,
    channels: 2,
    packet: 960,
};
/// G.711 at 8 kHz mono, 20 ms packets.
const G711: Sound = Sound {
    rate: 8000,
    channels: 1,
    packet: 160,
};

/// `key:value` in an ffmpeg `showinfo`/`ashowinfo` line (spaces after the colon allowed).
fn field(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!(" {key}:"))? + key.len() + 2;
    line[at..].split_whitespace().next()?.parse().ok()
}

/// The mean luma of a `showinfo` line: `mean:[Y U V]`.
fn mean_luma(line: &str) -> Option<f64> {
    let at = line.find("mean:[")? + 6;
    line[at..].split([' ', ']']).next()?.parse().ok()
}

/// What an ffmpeg viewer made of a stream with the test pattern's flashes and the tone.
struct Heard {
    /// Frames decoded.
    frames: usize,
    /// Sample frames where a click starts.
    clicks: Vec<usize>,
    /// Each click's pts, s.
    click_pts: Vec<f64>,
    /// Each flash frame's pts, s.
    flashes: Vec<f64>,
    /// What the sound is.
    sound: Sound,
}

/// Watches `url` with ffmpeg over TCP for [`SECONDS`]: the sound as raw samples (and each
/// sound frame's pts and length from `ashowinfo`), each frame's pts and mean luma from
/// `showinfo`, the frames from `framemd5`.
fn watch(url: &str, scratch: &Path, sound: Sound) -> Heard {
    let raw = scratch.join("heard.s16le");
    let t = SECONDS.to_string();
    let viewer = ffmpeg_viewer(url, "info")
        .args(["-t", &t, "-map", "0:a", "-af", "ashowinfo", "-f", "s16le"])
        .arg(&raw)
        .args([
            "-t", &t, "-map", "0:v", "-vf", "showinfo", "-f", "framemd5", "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    let (success, stderr, stdout) = wait_output(Running(viewer), Duration::from_secs(40));
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(success, "ffmpeg failed:\n{stderr}");
    let frames = String::from_utf8_lossy(&stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    let mut flashes = Vec::new();
    let mut sound_frames = Vec::new();
    for line in stderr.lines() {
        if line.contains("Parsed_ashowinfo") {
            if let (Some(pts), Some(n)) = (field(line, "pts_time"), field(line, "nb_samples")) {
                sound_frames.push((pts, n as usize));
            }
        } else if line.contains("Parsed_showinfo")
            && let (Some(pts), Some(y)) = (field(line, "pts_time"), mean_luma(line))
            && y >= flash::BRIGHT_MEAN
        {
            flashes.push(pts);
        }
    }
    let pcm: Vec<i16> = std::fs::read(&raw)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let (rate, channels) = (sound.rate, sound.channels);
    let clicks = tone::find_clicks(&pcm, channels, rate);
    // Each click's pts: its sound frame's pts and its place in it.
    let click_pts = clicks
        .iter()
        .filter_map(|&c| {
            let mut start = 0;
            for &(pts, n) in &sound_frames {
                if c < start + n {
                    return Some(pts + (c - start) as f64 / f64::from(rate));
                }
                start += n;
            }
            None
        })
        .collect();
    eprintln!(
        "{} frames, {:.2} s of sound in {} sound frames",
        frames,
        pcm.len() as f64 / f64::from(channels) / f64::from(rate),
        sound_frames.len()
    );
    Heard {
        frames,
        clicks,
        click_pts,
        flashes,
        sound,
    }
}

/// Asserts that `heard` has ≥ 95 % of the frames, a click once a second (to a packet) and
/// each flash within 40 ms of its click; prints the offsets.
fn assert_in_sync(heard: &Heard, who: &str) {
    let expected = (f64::from(SECONDS) * FPS) as usize;
    eprintln!("{who}: frames: {} of {expected}", heard.frames);
    assert!(
        heard.frames * 100 >= expected * 95,
        "{who}: {} of {expected} frames",
        heard.frames
    );
    let clicks = &heard.clicks;
    eprintln!("{who}: clicks at sample frames {clicks:?}");
    let around = SECONDS as usize - 1..=SECONDS as usize + 1;
    assert!(
        around.contains(&clicks.len()),
        "{who}: {} clicks in {SECONDS} s",
        clicks.len()
    );
    let Sound { rate, packet, .. } = heard.sound;
    for pair in clicks.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap.abs_diff(rate as usize) <= packet,
            "{who}: clicks {gap} sample frames apart, want {rate} ± {packet}"
        );
    }
    eprintln!(
        "{who}: flash frames at {:?} s, clicks at {:?} s",
        heard.flashes, heard.click_pts
    );
    let flashes = &heard.flashes;
    assert!(
        around.contains(&flashes.len()),
        "{who}: {} flashes in {SECONDS} s",
        flashes.len()
    );
    let ms = |s: &[f64]| s.iter().map(|v| v * 1000.0).collect::<Vec<_>>();
    let (offsets, _) = tone::pair_clicks(&ms(flashes), &ms(&heard.click_pts), 500.0);
    let offsets: Vec<f64> = offsets
        .into_iter()
        .filter(|o| o.abs() < 500.0)
        .map(|o| o / 1000.0)
        .collect();
    let ms: Vec<String> = offsets
        .iter()
        .map(|o| format!("{:+.3}", o * 1000.0))
        .collect();
    eprintln!("{who}: click − flash offsets: [{}] ms", ms.join(", "));
    // A flash or click cut off at either end of the 4 s may lack its partner.
    assert!(
        offsets.len() + 1 >= flashes.len().min(heard.click_pts.len()) && !offsets.is_empty(),
        "{who}: flashes without a click"
    );
    for o in &offsets {
        assert!(
            o.abs() <= 0.040,
            "{who}: a click {:+.1} ms from its flash",
            o * 1000.0
        );
    }
}

/// Publishes the pattern with the tone (and `args`) into a server and watches it.
fn live(name: &str, args: &[&str], sound: Sound) {
    let media = scratch(name);
    let (_server, addr) = start_server(&media);
    let url = format!("rtsp://{addr}/live/cam");
    let mut all = vec!["pattern:640x360", "--audio", "tone", "--duration", "30"];
    all.extend_from_slice(args);
    let _publisher = publisher(&all, &url, false);
    wait_live(&addr, &url, "m=audio");
    let heard = watch(&url, &media, sound);
    std::fs::remove_dir_all(&media).ok();
    assert_in_sync(&heard, name);
}

#[test]
fn a_live_click_each_second_is_heard_with_its_flash() {
    live("lip-sync-live", &[], L16);
}

#[test]
fn over_udp_as_pcmu_too() {
    live(
        "lip-sync-live-udp-pcmu",
        &["--transport", "udp", "--audio-codec", "pcmu"],
        G711,
    );
}

/// Opus encoded by the publisher (libopus, 64 kbit/s), decoded by ffmpeg: the clicks survive
/// the codec and stay with their flashes (Opus's 6.5 ms look-ahead included).
#[test]
fn as_opus_too() {
    live("lip-sync-live-opus", &["--audio-codec", "opus"], OPUS);
}

/// Writes `clip`, a 360p flash clip of `seconds` with its tone WAV beside it (`encode_mjpeg
/// --flash --tone-wav`).
fn flash_clip(clip: &Path, seconds: &str) {
    let made = Command::new(env!("CARGO_BIN_EXE_encode_mjpeg"))
        .args(["--size", "360p", "--seconds", seconds])
        .args(["--flash", "--tone-wav", "--quiet", "--out"])
        .arg(clip)
        .output()
        .expect("encode_mjpeg runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

#[test]
fn a_file_s_click_each_second_is_heard_with_its_flash() {
    let media = scratch("lip-sync-file");
    let clip = media.join("clip.mjpeg");
    flash_clip(&clip, "6");
    assert!(media.join("clip.wav").is_file());
    let (_server, addr) = start_server(&media);
    let sound = Sound { packet: 960, ..L16 };
    let heard = watch(&format!("rtsp://{addr}/clip.mjpeg"), &media, sound);
    std::fs::remove_dir_all(&media).ok();
    assert_in_sync(&heard, "file");
}

#[test]
fn a_looped_file_and_its_wav_stay_in_sync_across_the_loop() {
    let media = scratch("lip-sync-loop");
    let source = scratch("lip-sync-loop-source");
    // 2 s: the video loops twice while the viewer watches, the sound with it.
    let clip = source.join("clip.mjpeg");
    flash_clip(&clip, "2");
    let wav = source.join("clip.wav");
    let (_server, addr) = start_server(&media);
    let url = format!("rtsp://{addr}/live/cam");
    let (clip, wav) = (clip.to_str().unwrap(), wav.to_str().unwrap());
    let args = [clip, "--audio", wav, "--duration", "30"];
    let _publisher = publisher(&args, &url, false);
    wait_live(&addr, &url, "m=audio");
    let heard = watch(&url, &media, L16);
    std::fs::remove_dir_all(&media).ok();
    std::fs::remove_dir_all(&source).ok();
    assert_in_sync(&heard, "looped file");
}
