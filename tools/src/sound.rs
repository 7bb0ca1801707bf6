//! Where `hdstream-publish`'s sound comes from, a packet at a time, on the media clock: the
//! test tone ([`crate::tone`], clicking at the pattern's flashes), a WAV file, or 16-bit
//! little-endian PCM on stdin.
//!
//! Sample frame `k` of the sound is at media time `k / rate` (its RTP timestamp is the track's
//! base + `k`), so the sound and the video are stamped from the same clock. A packet is handed
//! out when its first sample's time has come: a file or the tone is paced by the clock, and so
//! is stdin when it comes faster (`cat`); stdin that comes late (a capture that started after
//! the publisher) is stamped from when it came. A WAV file loops: with the video when the video
//! is a looped file (the sound restarts where the video does; a shorter sound is followed by
//! silence, a longer one is cut), else over its own length.

use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use hdstream_codec::OpusEncoder;
use hdstream_common::audio::{self, Encoding, Format, l16, wav};

use crate::clock::media_time;
use crate::tone::Tone;

/// The dynamic payload type of sound that no static one of RFC 3551 §6 describes.
pub const DYNAMIC_PAYLOAD_TYPE: u8 = 96;
/// A packet due longer ago than this is skipped (the tone, a file) or restamped (stdin): the
/// publisher was away or stalled.
pub const MAX_LATE: Duration = Duration::from_millis(200);
/// Opus's bit rate: transparent for speech and the test tone, 4 % of L16's 1.5 Mbit/s.
const OPUS_BITRATE: i32 = 64_000;
/// Bytes read from stdin at a time (85 ms of 48 kHz stereo).
const READ: usize = 16 * 1024;

/// What the sound is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioInput {
    /// The test tone with a click at each flash of the pattern (`tone`).
    Tone,
    /// A WAV file of 16-bit PCM.
    Wav(PathBuf),
    /// 16-bit little-endian PCM on stdin (`-`), `rate` Hz, `channels` interleaved.
    Stdin {
        /// Sample frames per second.
        rate: u32,
        /// Interleaved channels.
        channels: u16,
    },
}

impl FromStr for AudioInput {
    type Err = String;

    /// `tone`, `-` (48 kHz stereo until told otherwise) or a WAV file's path.
    fn from_str(s: &str) -> Result<AudioInput, String> {
        Ok(match s {
            "tone" => AudioInput::Tone,
            "-" => AudioInput::Stdin {
                rate: 48_000,
                channels: 2,
            },
            "" => return Err("an empty sound name".into()),
            path => AudioInput::Wav(PathBuf::from(path)),
        })
    }
}

/// The format sound of `rate` Hz on `channels` travels in as `encoding`: the static payload type
/// of RFC 3551 §6 that describes it (PCMU 0 and PCMA 8 at 8 kHz mono; L16 10 and 11 at
/// 44.1 kHz), else the dynamic one with an `a=rtpmap`.
pub fn format(encoding: Encoding, rate: u32, channels: u16) -> Format {
    let dynamic = Format {
        encoding,
        payload_type: DYNAMIC_PAYLOAD_TYPE,
        clock_rate: rate,
        channels,
    };
    [0, 8, 10, 11]
        .into_iter()
        .filter_map(Format::static_payload)
        .find(|f| {
            *f == Format {
                payload_type: f.payload_type,
                ..dynamic
            }
        })
        .unwrap_or(dynamic)
}

/// Where samples come from.
enum Source {
    Tone(Tone),
    /// A WAV file's samples, restarting every `period` sample frames.
    Samples {
        pcm: Vec<i16>,
        period: f64,
    },
    /// Read on a thread (stdin blocks); `pending` holds what came and has not gone.
    Stdin {
        chunks: Receiver<Result<Vec<i16>, String>>,
        pending: Vec<i16>,
        ended: bool,
    },
}

/// The sound, a packet at a time.
pub struct Sound {
    format: Format,
    /// Sample frames in a packet (20 ms, fewer for PCM that would not fit a packet).
    per_packet: usize,
    /// Opus: the encoder (libopus); PCM goes as it is, cut by the session's packetizer.
    encoder: Option<OpusEncoder>,
    source: Source,
    /// The next sample frame to go, on the media timeline.
    next: u64,
    skipped: u64,
}

impl std::fmt::Debug for Sound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sound")
            .field("format", &self.format)
            .field("next", &self.next)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl Sound {
    /// The sound `input` as `encoding`, in packets of at most `max_payload` bytes; `fps` is the
    /// video's (the tone clicks at its flashes) and `loop_period` the length of a looped video
    /// file (a WAV file loops with it).
    pub fn open(
        input: &AudioInput,
        encoding: Encoding,
        fps: f64,
        loop_period: Option<Duration>,
        max_payload: usize,
    ) -> Result<Sound> {
        let (source, rate, channels) = match input {
            AudioInput::Tone => {
                // L16 and Opus at 48 kHz stereo; G.711 at its static 8 kHz mono.
                let (rate, channels) = match encoding {
                    Encoding::L16 | Encoding::Opus => (48_000, 2),
                    _ => (8000, 1),
                };
                let tone = Tone {
                    rate,
                    channels,
                    fps,
                };
                (Source::Tone(tone), rate, channels)
            }
            AudioInput::Wav(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let parsed = wav::parse(&bytes).with_context(|| format!("{}", path.display()))?;
                ensure!(parsed.frames() > 0, "{} holds no sound", path.display());
                let mut pcm = Vec::new();
                parsed.read_samples(&bytes, &mut pcm);
                let period = match loop_period {
                    Some(p) => p.as_secs_f64() * f64::from(parsed.sample_rate),
                    None => parsed.frames() as f64,
                };
                ensure!(period >= 1.0, "the looped video is shorter than a sample");
                let source = Source::Samples { pcm, period };
                (source, parsed.sample_rate, parsed.channels)
            }
            &AudioInput::Stdin { rate, channels } => {
                ensure!(
                    rate > 0 && channels > 0,
                    "stdin sound needs a rate and channels"
                );
                let (tx, rx) = std::sync::mpsc::sync_channel(4);
                std::thread::Builder::new()
                    .name("publish-sound".into())
                    .spawn(move || read_stdin(&tx, usize::from(channels)))?;
                let source = Source::Stdin {
                    chunks: rx,
                    pending: Vec::new(),
                    ended: false,
                };
                (source, rate, channels)
            }
        };
        let (format, per_packet, encoder) = if encoding == Encoding::Opus {
            ensure!(
                rate == 48_000 && (1..=2).contains(&channels),
                "Opus takes 48 kHz mono or stereo sound, not {rate} Hz on {channels} channels \
                 (ffmpeg -ar 48000 converts it)"
            );
            let encoder = OpusEncoder::new(channels, OPUS_BITRATE)?;
            let format = encoder.format(DYNAMIC_PAYLOAD_TYPE);
            (format, OpusEncoder::FRAMES, Some(encoder))
        } else {
            let format = format(encoding, rate, channels);
            let per_packet = audio::Packetizer::new(format, max_payload)?.frames_per_packet();
            (format, per_packet, None)
        };
        Ok(Sound {
            format,
            per_packet,
            encoder,
            source,
            next: 0,
            skipped: 0,
        })
    }

    /// The sound's format (what the session announces and sends).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Sample frames in a packet.
    pub fn frames_per_packet(&self) -> usize {
        self.per_packet
    }

    /// Opus: one packet's sound encoded (a short last packet of stdin is padded with
    /// silence to 20 ms); `None` for PCM, which goes as it is.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Option<Vec<u8>>> {
        let Some(encoder) = &mut self.encoder else {
            return Ok(None);
        };
        let want = OpusEncoder::FRAMES * usize::from(self.format.channels.max(1));
        let payload = if pcm.len() == want {
            encoder.encode(pcm)?
        } else {
            let mut padded = pcm[..pcm.len().min(want)].to_vec();
            padded.resize(want, 0);
            encoder.encode(&padded)?
        };
        Ok(Some(payload.to_vec()))
    }

    /// Packets skipped: due while the server was away or the publisher stalled.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether stdin has ended and everything it brought has gone.
    pub fn is_ended(&self) -> bool {
        matches!(&self.source, Source::Stdin { pending, ended: true, .. } if pending.is_empty())
    }

    fn rate(&self) -> u32 {
        self.format.clock_rate
    }

    fn channels(&self) -> usize {
        usize::from(self.format.channels.max(1))
    }

    /// The media time of the next packet, when one is ready (stdin may have none yet).
    pub fn next_due(&self) -> Option<Duration> {
        let ready = match &self.source {
            Source::Stdin { pending, ended, .. } => {
                pending.len() >= self.per_packet * self.channels()
                    || (*ended && !pending.is_empty())
            }
            _ => true,
        };
        ready.then(|| media_time(self.next, self.rate()))
    }

    /// The next packet's samples and media time, if it is due at media time `now`; `Err` when
    /// stdin cannot be read.
    pub fn poll(&mut self, now: Duration) -> Result<Option<(Vec<i16>, Duration)>> {
        if let Source::Stdin {
            chunks,
            pending,
            ended,
        } = &mut self.source
        {
            while !*ended {
                match chunks.try_recv() {
                    Ok(Ok(chunk)) => pending.extend_from_slice(&chunk),
                    Ok(Err(e)) => bail!("reading sound from stdin: {e}"),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => *ended = true,
                }
            }
        }
        let Some(at) = self.next_due() else {
            return Ok(None);
        };
        if at > now {
            return Ok(None);
        }
        let rate = self.rate();
        let per_packet = self.per_packet as u64;
        if now - at > MAX_LATE {
            // Go on from now: the tone and a file skip what was due; stdin's samples are late,
            // not lost, and are stamped from now.
            let current = (now.as_nanos() * u128::from(rate) / 1_000_000_000) as u64;
            if !matches!(self.source, Source::Stdin { .. }) {
                self.skipped += (current - self.next) / per_packet.max(1);
            }
            self.next = current;
        }
        let at = media_time(self.next, rate);
        let channels = self.channels();
        let mut pcm = Vec::with_capacity(per_packet as usize * channels);
        match &mut self.source {
            Source::Tone(tone) => tone.fill(self.next, per_packet as usize, &mut pcm),
            Source::Samples { pcm: all, period } => {
                for k in self.next..self.next + per_packet {
                    // Where sample frame k falls in its loop.
                    let start = ((k as f64 + 0.5) / *period).floor() * *period;
                    let i = (k as f64 - start.round()).max(0.0) as usize * channels;
                    match all.get(i..i + channels) {
                        Some(frame) => pcm.extend_from_slice(frame),
                        None => pcm.extend(std::iter::repeat_n(0, channels)),
                    }
                }
            }
            Source::Stdin { pending, .. } => {
                let take = pending.len().min(per_packet as usize * channels);
                pcm.extend(pending.drain(..take));
            }
        }
        self.next += (pcm.len() / channels) as u64;
        Ok(Some((pcm, at)))
    }
}

/// Reads stdin to its end, handing over whole sample frames of `channels` as they come.
fn read_stdin(chunks: &SyncSender<Result<Vec<i16>, String>>, channels: usize) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0; READ];
    // Bytes of a sample frame not yet complete.
    let mut carry: Vec<u8> = Vec::new();
    let frame = channels * 2;
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                carry.extend_from_slice(&buf[..n]);
                let whole = carry.len() / frame * frame;
                let mut pcm = Vec::with_capacity(whole / 2);
                l16::read_le(&carry[..whole], &mut pcm);
                carry.drain(..whole);
                if !pcm.is_empty() && chunks.send(Ok(pcm)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = chunks.send(Err(e.to_string()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone;

    #[test]
    fn inputs_parse() {
        assert_eq!("tone".parse(), Ok(AudioInput::Tone));
        assert_eq!(
            "-".parse(),
            Ok(AudioInput::Stdin {
                rate: 48_000,
                channels: 2
            })
        );
        assert_eq!("a.wav".parse(), Ok(AudioInput::Wav("a.wav".into())));
    }

    #[test]
    fn static_payload_types_when_they_fit() {
        assert_eq!(format(Encoding::Pcmu, 8000, 1).payload_type, 0);
        assert_eq!(format(Encoding::Pcma, 8000, 1).payload_type, 8);
        assert_eq!(format(Encoding::L16, 44_100, 2).payload_type, 10);
        assert_eq!(format(Encoding::L16, 44_100, 1).payload_type, 11);
        let l16 = format(Encoding::L16, 48_000, 2);
        assert_eq!(
            (l16.payload_type, l16.clock_rate, l16.channels),
            (96, 48_000, 2)
        );
        let pcmu = format(Encoding::Pcmu, 48_000, 2);
        assert_eq!((pcmu.payload_type, pcmu.encoding), (96, Encoding::Pcmu));
    }

    /// Polls `sound` every 5 ms from `from` to `until`: the samples it gave.
    fn drain(sound: &mut Sound, from: u64, until: u64) -> Vec<i16> {
        let mut all = Vec::new();
        for ms in (from..=until).step_by(5) {
            while let Some((pcm, _)) = sound.poll(Duration::from_millis(ms)).unwrap() {
                all.extend(pcm);
            }
        }
        all
    }

    #[test]
    fn the_tone_goes_packet_by_packet_on_the_clock_and_skips_when_late() {
        let mut sound = Sound::open(&AudioInput::Tone, Encoding::L16, 30.0, None, 1360).unwrap();
        let per = sound.frames_per_packet();
        assert_eq!(per, 340, "1360 bytes of 48 kHz stereo L16");
        let mut all = Vec::new();
        let mut now = Duration::ZERO;
        while now < Duration::from_millis(2100) {
            while let Some((pcm, at)) = sound.poll(now).unwrap() {
                assert!(at <= now);
                assert_eq!(at, media_time((all.len() / 2) as u64, 48_000));
                all.extend(pcm);
            }
            now += Duration::from_millis(5);
        }
        assert_eq!(tone::find_clicks(&all, 2, 48_000), [0, 48_000, 96_000]);
        assert_eq!(sound.skipped(), 0);
        // A second away: what was due is skipped, the clicks stay on the clock.
        let (pcm, at) = sound.poll(Duration::from_millis(3500)).unwrap().unwrap();
        assert_eq!(at, Duration::from_millis(3500));
        assert!(sound.skipped() >= 180, "{}", sound.skipped());
        let mut later = pcm;
        later.extend(drain(&mut sound, 3500, 4100));
        assert_eq!(tone::find_clicks(&later, 2, 48_000), [24_000]);
    }

    #[test]
    fn opus_goes_encoded_in_20_ms_packets_of_48_khz() {
        let mut sound = Sound::open(&AudioInput::Tone, Encoding::Opus, 30.0, None, 1360).unwrap();
        let f = sound.format();
        assert_eq!(
            (f.encoding, f.payload_type, f.clock_rate, f.channels),
            (Encoding::Opus, 96, 48_000, 2)
        );
        assert_eq!(sound.frames_per_packet(), 960);
        let mut decoder = hdstream_codec::Decoder::new(f).unwrap();
        let mut decoded = Vec::new();
        let mut now = Duration::ZERO;
        while now < Duration::from_millis(1100) {
            while let Some((pcm, _)) = sound.poll(now).unwrap() {
                assert_eq!(pcm.len(), 960 * 2);
                let payload = sound.encode(&pcm).unwrap().expect("Opus is encoded");
                assert!(payload.len() < 400, "64 kbit/s: {} bytes", payload.len());
                decoder.decode(&payload, &mut decoded).unwrap();
            }
            now += Duration::from_millis(5);
        }
        // The clicks at 0 s and 1 s come through the codec (after its 6.5 ms look-ahead).
        let clicks = tone::find_clicks(&decoded, 2, 48_000);
        assert_eq!(clicks.len(), 2, "{clicks:?}");
        assert!(clicks[1].abs_diff(clicks[0] + 48_000) <= 48, "{clicks:?}");
        // PCM is not encoded here.
        let mut l16 = Sound::open(&AudioInput::Tone, Encoding::L16, 30.0, None, 1360).unwrap();
        let (pcm, _) = l16.poll(Duration::ZERO).unwrap().unwrap();
        assert_eq!(l16.encode(&pcm).unwrap(), None);
    }

    #[test]
    fn opus_refuses_sound_not_at_48_khz() {
        let path = std::env::temp_dir().join(format!("hdstream-opus-{}.wav", std::process::id()));
        let mut bytes = wav::header(44_100, 2, 400).to_vec();
        bytes.resize(bytes.len() + 400, 1);
        std::fs::write(&path, bytes).unwrap();
        let e = Sound::open(
            &AudioInput::Wav(path.clone()),
            Encoding::Opus,
            30.0,
            None,
            1360,
        )
        .unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(e.to_string().contains("48 kHz"), "{e}");
    }

    #[test]
    fn g711_tone_is_8khz_mono_static() {
        let sound = Sound::open(&AudioInput::Tone, Encoding::Pcma, 30.0, None, 1360).unwrap();
        let f = sound.format();
        assert_eq!((f.payload_type, f.clock_rate, f.channels), (8, 8000, 1));
        assert_eq!(sound.frames_per_packet(), 160, "20 ms");
    }

    #[test]
    fn a_wav_loops_with_the_video() {
        let path = std::env::temp_dir().join(format!("hdstream-sound-{}.wav", std::process::id()));
        // 0.5 s of a ramp at 8 kHz mono.
        let data: Vec<i16> = (0..4000).map(|i| i as i16 + 1).collect();
        let mut bytes = wav::header(8000, 1, 8000).to_vec();
        bytes.extend(data.iter().flat_map(|s| s.to_le_bytes()));
        std::fs::write(&path, bytes).unwrap();
        let input = AudioInput::Wav(path.clone());
        // The video loops every 0.75 s: the ramp, a quarter second of silence, the ramp again.
        let period = Some(Duration::from_millis(750));
        let mut sound = Sound::open(&input, Encoding::L16, 30.0, period, 1400).unwrap();
        let all = drain(&mut sound, 0, 1495);
        assert_eq!(all.len(), 12_000);
        assert_eq!(&all[..4000], &data[..]);
        assert!(all[4000..6000].iter().all(|&s| s == 0));
        assert_eq!(&all[6000..10_000], &data[..]);
        // Alone, it loops over its own length.
        let mut sound = Sound::open(&input, Encoding::Pcmu, 30.0, None, 1400).unwrap();
        assert_eq!(sound.format().payload_type, 0);
        let all = drain(&mut sound, 0, 995);
        assert_eq!(&all[4000..8000], &data[..]);
        std::fs::remove_file(&path).unwrap();
    }
}
