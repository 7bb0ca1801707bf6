//! The lip-sync test tone: a quiet 440 Hz sine with a click — 5 ms of a loud 1 kHz square
//! wave — starting at the exact sample of each flash frame of the test pattern
//! ([`crate::flash`]), so that a test finds the clicks by amplitude ([`find_clicks`]) and
//! measures how far each is from its flash. Sample `k` is at media time `k / rate`; a click
//! starts at the sample nearest its flash frame's time `n / fps`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hdstream_common::audio::wav;

use crate::flash;

/// The tone's frequency, Hz.
pub const FREQUENCY: u32 = 440;
/// The tone's peak (a quarter of full scale).
pub const AMPLITUDE: i16 = 8192;
/// How long a click lasts.
pub const CLICK: Duration = Duration::from_millis(5);
/// The click's square wave frequency, Hz.
pub const CLICK_FREQUENCY: u32 = 1000;
/// The click's peak (about 90 % of full scale).
pub const CLICK_AMPLITUDE: i16 = 29_000;
/// [`find_clicks`] takes a sample beyond this magnitude for a click: halfway between the
/// tone's peak and the click's, clear of what G.711 companding does to either.
pub const THRESHOLD: i16 = (AMPLITUDE / 2) + (CLICK_AMPLITUDE / 2);

/// The tone of a pattern at `fps` frames per second, sampled at `rate` Hz on `channels`
/// channels (every channel the same).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tone {
    /// Sample frames per second.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// The frame rate of the pattern whose flashes it clicks at.
    pub fps: f64,
}

impl Tone {
    /// The sample frame where the click of flash frame `n` starts.
    pub fn click_start(&self, n: u64) -> u64 {
        (n as f64 * f64::from(self.rate) / self.fps).round() as u64
    }

    /// Sample frames a click lasts.
    fn click_len(&self) -> u64 {
        (u128::from(self.rate) * CLICK.as_nanos() / 1_000_000_000) as u64
    }

    /// Sample frame `k` (one channel's value).
    pub fn sample(&self, k: u64) -> i16 {
        let rate = u64::from(self.rate.max(1));
        // The frame shown at sample k, and the flash at or before it — or the next frame's,
        // whose click may start a rounded sample before its frame does.
        let shown = ((k as f64 * self.fps + 1e-6) / rate as f64).floor() as u64;
        let click = [shown + 1, shown]
            .map(|n| self.click_start(flash::latest_flash(n, self.fps)))
            .into_iter()
            .find(|&start| (start..start + self.click_len()).contains(&k));
        if let Some(start) = click {
            // A square wave: half periods of rate / (2 × CLICK_FREQUENCY) samples.
            let half = (k - start) * 2 * u64::from(CLICK_FREQUENCY) / rate;
            return if half.is_multiple_of(2) {
                CLICK_AMPLITUDE
            } else {
                -CLICK_AMPLITUDE
            };
        }
        // Whole cycles each second: the phase of k is that of k mod rate.
        let phase = (k % rate) as f64 * f64::from(FREQUENCY) / rate as f64;
        (f64::from(AMPLITUDE) * (std::f64::consts::TAU * phase).sin()).round() as i16
    }

    /// Appends `frames` sample frames from sample frame `first`, channels interleaved.
    pub fn fill(&self, first: u64, frames: usize, out: &mut Vec<i16>) {
        let channels = usize::from(self.channels.max(1));
        out.reserve(frames * channels);
        for k in first..first + frames as u64 {
            let s = self.sample(k);
            out.extend(std::iter::repeat_n(s, channels));
        }
    }
}

/// Writes the tone that goes with `frames` pattern frames at `tone.fps` to `path` as a WAV file
/// (16-bit PCM): `frames / fps` seconds, a click at each flash frame.
pub fn write_wav(path: &Path, tone: &Tone, frames: u64) -> Result<()> {
    let samples = (frames as f64 * f64::from(tone.rate) / tone.fps).round() as u64;
    let bytes = samples * u64::from(tone.channels) * 2;
    let data_len = u32::try_from(bytes)
        .ok()
        .filter(|&b| b <= u32::MAX - wav::HEADER_LEN as u32)
        .context("the tone is too long for a WAV file (4 GiB)")?;
    ensure!(tone.channels > 0, "a tone needs a channel");
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(&wav::header(tone.rate, tone.channels, data_len))?;
    let mut pcm = Vec::new();
    let chunk = u64::from(tone.rate);
    let mut k = 0;
    while k < samples {
        pcm.clear();
        let n = chunk.min(samples - k);
        tone.fill(k, n as usize, &mut pcm);
        let le: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        out.write_all(&le)?;
        k += n;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The sample frames of interleaved `pcm` (`channels` a frame) where a click starts: the first
/// frame with a sample beyond [`THRESHOLD`] after at least 50 ms without one (a click lasts
/// 5 ms; two a third of a second apart, as a seek can put them, are two).
pub fn find_clicks(pcm: &[i16], channels: u16, rate: u32) -> Vec<usize> {
    let channels = usize::from(channels.max(1));
    let quiet = rate as usize / 20;
    let mut clicks = Vec::new();
    let mut last: Option<usize> = None;
    for (i, frame) in pcm.chunks_exact(channels).enumerate() {
        if frame.iter().any(|s| s.unsigned_abs() > THRESHOLD as u16) {
            if last.is_none_or(|l| i - l >= quiet) {
                clicks.push(i);
            }
            last = Some(i);
        }
    }
    clicks
}

/// The arguments after `ffprobe` that print the time (s) of a file's first sound packet, the
/// file's path to follow; [`first_packet_time`] reads what it prints. A test measuring the
/// clicks in a recording counts their places in the decoded sound from this time.
pub const FFPROBE_FIRST_SOUND_PACKET: [&str; 10] = [
    "-v",
    "error",
    "-select_streams",
    "a:0",
    "-show_entries",
    "packet=pts_time",
    "-of",
    "csv=p=0",
    "-read_intervals",
    "%+#1",
];

/// The time (s) in what ffprobe printed for [`FFPROBE_FIRST_SOUND_PACKET`] (a trailing comma,
/// as some versions print, allowed); `None` when it printed none (the file has no sound).
pub fn first_packet_time(printed: &str) -> Option<f64> {
    printed
        .lines()
        .next()
        .and_then(|l| l.trim().trim_end_matches(',').parse().ok())
}

/// Pairs each flash shown with the nearest click heard (both in ms of one clock): the offsets
/// (click − flash: positive when the sound comes later), and the clicks no flash lies within
/// `bound_ms` of (a click whose picture was never shown).
pub fn pair_clicks(flashes: &[f64], clicks: &[f64], bound_ms: f64) -> (Vec<f64>, Vec<f64>) {
    let nearest = |t: f64, among: &[f64]| {
        among
            .iter()
            .map(|&c| c - t)
            .min_by(|a, b| a.abs().total_cmp(&b.abs()))
    };
    let offsets = flashes.iter().filter_map(|&f| nearest(f, clicks)).collect();
    let unpaired = clicks
        .iter()
        .copied()
        .filter(|&c| nearest(c, flashes).is_none_or(|d| d.abs() > bound_ms))
        .collect();
    (offsets, unpaired)
}

#[cfg(test)]
mod tests {
    use hdstream_common::audio::g711;

    use super::*;

    #[test]
    fn the_first_packet_time_is_the_first_line() {
        assert_eq!(first_packet_time("0.021000\n0.041000\n"), Some(0.021));
        assert_eq!(first_packet_time("1.5,\n"), Some(1.5));
        assert_eq!(first_packet_time(""), None);
    }

    #[test]
    fn flashes_pair_with_their_nearest_clicks() {
        let (offsets, unpaired) = pair_clicks(&[1000.0, 2000.0], &[1004.0, 1990.0, 2600.0], 20.0);
        assert_eq!(offsets, [4.0, -10.0]);
        assert_eq!(unpaired, [2600.0]);
    }

    #[test]
    fn clicks_start_at_each_flash_and_are_found_there() {
        for (rate, channels, fps) in [(48_000, 2, 30.0), (8000, 1, 25.0), (44_100, 2, 29.97)] {
            let tone = Tone {
                rate,
                channels,
                fps,
            };
            let mut pcm = Vec::new();
            tone.fill(0, rate as usize * 4, &mut pcm);
            let flashes: Vec<usize> = (0..(4.0 * fps) as u64)
                .filter(|&n| flash::is_flash(n, fps))
                .map(|n| tone.click_start(n) as usize)
                .collect();
            assert_eq!(flashes.len(), 4);
            assert_eq!(
                find_clicks(&pcm, channels, rate),
                flashes,
                "{rate} Hz, {fps} fps"
            );
            // The tone alone stays under the threshold; the click is loud at once.
            let k = flashes[1];
            assert!(tone.sample(k as u64 - 1).unsigned_abs() <= AMPLITUDE as u16);
            assert_eq!(tone.sample(k as u64), CLICK_AMPLITUDE);
            let after = k as u64 + tone.click_len();
            assert!(tone.sample(after).unsigned_abs() <= AMPLITUDE as u16);
        }
    }

    #[test]
    fn g711_keeps_the_clicks_apart_from_the_tone() {
        let tone = Tone {
            rate: 8000,
            channels: 1,
            fps: 30.0,
        };
        let mut pcm = Vec::new();
        tone.fill(0, 24_000, &mut pcm);
        for (encode, decode) in [
            (
                g711::encode_ulaw as fn(i16) -> u8,
                g711::decode_ulaw as fn(u8) -> i16,
            ),
            (g711::encode_alaw, g711::decode_alaw),
        ] {
            let through: Vec<i16> = pcm.iter().map(|&s| decode(encode(s))).collect();
            assert_eq!(find_clicks(&through, 1, 8000), [0, 8000, 16_000]);
        }
    }

    #[test]
    fn a_wav_of_the_frames_length() {
        let path = std::env::temp_dir().join(format!("hdstream-tone-{}.wav", std::process::id()));
        let tone = Tone {
            rate: 48_000,
            channels: 2,
            fps: 30.0,
        };
        write_wav(&path, &tone, 75).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let parsed = wav::parse(&bytes).unwrap();
        assert_eq!((parsed.sample_rate, parsed.channels), (48_000, 2));
        assert_eq!(parsed.frames(), 120_000, "2.5 s");
        let mut pcm = Vec::new();
        parsed.read_samples(&bytes, &mut pcm);
        assert_eq!(find_clicks(&pcm, 2, 48_000), [0, 48_000, 96_000]);
    }
}
