//! Sound and captions from stdin through a real `hdstream-server` to an ffmpeg viewer:
//! `hdstream-publish --audio -` paces what it is given and the viewer hears it unchanged;
//! `--captions -` sends each line typed and the viewer gets its text. Needs ffmpeg.

use crate::common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Running, ffmpeg_viewer, publisher, scratch, start_server, wait_live, wait_output};

#[test]
fn captions_typed_on_stdin_reach_an_ffmpeg_viewer() {
    let media = scratch("captions-stdin");
    let (_server, addr) = start_server(&media);
    let url = format!("rtsp://{addr}/live/cam");
    // The viewer ends when the publisher does (RTCP BYE): ffmpeg's -t ends a subtitle output
    // only at a packet past it.
    let args = ["pattern:320x240", "--captions", "-", "--duration", "8"];
    let mut publisher = publisher(&args, &url, true);
    wait_live(&addr, &url, "t140/1000");
    let viewer = ffmpeg_viewer(&url, "error")
        .args(["-t", "4", "-map", "0:s", "-f", "srt", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    let mut stdin = publisher.0.stdin.take().expect("piped stdin");
    for line in ["first caption", "second — with ünïcode"] {
        std::thread::sleep(Duration::from_millis(1200));
        writeln!(stdin, "{line}").unwrap();
    }
    let (success, stderr, srt) = wait_output(Running(viewer), Duration::from_secs(30));
    drop(stdin);
    std::fs::remove_dir_all(&media).ok();
    let srt = String::from_utf8_lossy(&srt);
    eprintln!("ffmpeg's SRT of the live captions:\n{srt}");
    assert!(success, "ffmpeg: {}", String::from_utf8_lossy(&stderr));
    assert!(srt.contains("first caption"), "{srt}");
    assert!(srt.contains("second — with ünïcode"), "{srt}");
    // Typed 1.2 s apart, shown 1.2 s apart: the server sends a sender report mapping each
    // caption's own time right before it (ffmpeg reads T.140 times at 90 kHz otherwise).
    let cues = hdstream_common::text::srt::parse(&srt).expect("SRT").cues;
    let gap = cues[1].start.as_secs_f64() - cues[0].start.as_secs_f64();
    eprintln!("captions typed 1.2 s apart are {gap:.3} s apart in ffmpeg's SRT");
    assert!((gap - 1.2).abs() < 0.1, "{gap} s apart");
}

/// Noise from a fixed seed: any run of 64 samples is found in one place only.
fn noise(samples: usize) -> Vec<i16> {
    let mut x: u32 = 0x0BAD_5EED;
    (0..samples)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i16) / 4
        })
        .collect()
}

#[test]
fn sound_from_stdin_is_paced_and_heard_unchanged() {
    let media = scratch("sound-stdin");
    let (_server, addr) = start_server(&media);
    let url = format!("rtsp://{addr}/live/cam");
    let args = [
        "pattern:320x240",
        "--audio",
        "-",
        "--audio-rate",
        "48000",
        "--audio-channels",
        "2",
        "--duration",
        "30",
    ];
    let mut publisher = publisher(&args, &url, true);
    // 20 s of sound written as fast as the pipe takes it: the publisher paces it.
    let source = noise(48_000 * 2 * 20);
    let bytes: Vec<u8> = source.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut stdin = publisher.0.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    wait_live(&addr, &url, "m=audio");
    let started = Instant::now();
    let raw = media.join("heard.s16le");
    let viewer = ffmpeg_viewer(&url, "error")
        .args(["-t", "4", "-map", "0:a", "-f", "s16le"])
        .arg(&raw)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    let (success, stderr, _) = wait_output(Running(viewer), Duration::from_secs(30));
    let took = started.elapsed();
    assert!(success, "ffmpeg: {}", String::from_utf8_lossy(&stderr));
    let heard: Vec<i16> = std::fs::read(&raw)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    drop(publisher);
    let _ = writer.join();
    std::fs::remove_dir_all(&media).ok();
    // Paced: 4 s of sound take about 4 s to arrive (written at once, it would take none).
    assert!(
        took >= Duration::from_millis(3500),
        "4 s of sound in {took:?}"
    );
    let lead = heard
        .iter()
        .position(|&s| s != 0)
        .expect("sound, not silence");
    let probe = &heard[lead..lead + 64];
    let at = source
        .windows(64)
        .position(|w| w == probe)
        .expect("the samples heard are the ones sent");
    let run = heard[lead..]
        .iter()
        .zip(&source[at..])
        .take_while(|(a, b)| a == b)
        .count();
    eprintln!(
        "stdin sound: {} samples heard in {took:?}, {run} identical to the source from sample {at}",
        heard.len()
    );
    assert!(
        run >= 48_000 * 2 * 35 / 10,
        "only {run} samples match the source"
    );
}
