//! A file's captions: a WebVTT or SRT file beside it (`clip.vtt` or `clip.srt` for
//! `clip.mjpeg`), read once when the file is opened, and a session's stream of them as T.140
//! real-time text (RFC 4103): each cue one block at its start, the marker bit on the first
//! packet after an idle time (§3).
//!
//! The stream is paced by the session's PLAY like the sound: cue *c* is due at
//! `anchor + (c.start − anchor_npt) / speed`, its timestamp the milliseconds of play since the
//! stream began (growing across seeks and pauses, as the other tracks' do), so `RTP-Info` and
//! the sender reports put it on the same clock as the video. A cue already showing when PLAY
//! starts (a seek into it) is sent at once.
//!
//! ffmpeg 5.1 reads T.140 timestamps at 90 kHz and corrects them only through the sender
//! reports, by extrapolating from the last one; so the core sends a sender report right before
//! each caption ([`CaptionStream::wants_report`]), which makes that extrapolation exact.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdstream_common::rtp;
use hdstream_common::text::{self, Captions, Cue, t140};

use crate::sender::{Counters, Next, Numbering};

/// Dynamic RTP payload type of T.140 text.
pub const T140_PAYLOAD_TYPE: u8 = t140::PAYLOAD_TYPE;
/// The largest captions file read.
pub const MAX_BYTES: u64 = 16 << 20;
/// The largest T.140 payload sent.
pub const MAX_PAYLOAD: usize = 1200;

/// The captions file that goes with `mjpeg` (same name, `.vtt` or `.srt`), if there is one.
pub fn beside(mjpeg: &Path) -> Option<PathBuf> {
    ["vtt", "srt"]
        .into_iter()
        .map(|ext| mjpeg.with_extension(ext))
        .find(|p| p.is_file())
}

/// Reads the captions file at `path` (WebVTT when it starts `WEBVTT`, else SRT); the error
/// names the file. Cues that could not be read are logged with their line.
pub fn open(path: &Path) -> Result<Vec<Cue>, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len > MAX_BYTES {
        return Err(format!("{}: {len} bytes is too large", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let parsed: Result<Captions, text::Error> =
        if text.trim_start_matches('\u{feff}').starts_with("WEBVTT") {
            text::webvtt::parse(&text)
        } else {
            text::srt::parse(&text)
        };
    let captions = parsed.map_err(|e| format!("{}: {e}", path.display()))?;
    for skipped in &captions.skipped {
        tracing::warn!(file = %path.display(), %skipped, "caption skipped");
    }
    Ok(captions.cues)
}

/// The playing schedule set by PLAY.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    anchor: Instant,
    /// Media time (NPT) at the anchor.
    anchor_npt: Duration,
    /// The stream's clock (ms) at the anchor.
    anchor_clock: u64,
    speed: f64,
}

/// One session's outgoing caption stream.
#[derive(Debug)]
pub struct CaptionStream {
    /// RTP SSRC (random, RFC 3550 §8).
    pub ssrc: u32,
    numbering: Numbering,
    /// Milliseconds of play since the stream began: the timestamp clock.
    clock: u64,
    /// Where PLAY starts from.
    npt: Duration,
    /// The next cue to send.
    next_cue: usize,
    schedule: Option<Schedule>,
    packetizer: t140::Packetizer,
    /// A report went for the cue due now.
    reported: Option<usize>,
    /// A seek (or nothing yet) since the last PLAY: the next PLAY starts from the cue showing.
    seeked: bool,
    /// Sent since the last packet: the marker bit goes on the next (RFC 4103 §3).
    idle_since: Option<Instant>,
    /// What has been sent (frames: cues).
    pub counters: Counters,
}

impl CaptionStream {
    /// A stream with random SSRC, initial sequence number and timestamp origin.
    pub fn new(random: [u32; 3]) -> CaptionStream {
        let [ssrc, seq, ts] = random;
        CaptionStream {
            ssrc,
            numbering: Numbering::new(seq, ts),
            clock: 0,
            npt: Duration::ZERO,
            next_cue: 0,
            schedule: None,
            packetizer: t140::Packetizer::new(MAX_PAYLOAD),
            reported: None,
            seeked: true,
            idle_since: None,
            counters: Counters::default(),
        }
    }

    /// The sequence number the next packet carries.
    pub fn next_sequence_number(&self) -> u16 {
        self.numbering.next_sequence_number()
    }

    /// The RTP timestamp of the moment PLAY starts from.
    pub fn next_timestamp(&self) -> u32 {
        self.numbering.timestamp(self.clock)
    }

    /// Moves to `npt` seconds (the video's position).
    pub fn seek(&mut self, npt: f64) {
        self.npt = Duration::from_secs_f64(npt.max(0.0));
        self.seeked = true;
    }

    /// Starts (or resumes, or changes speed) at `speed` from the current position: after a
    /// seek (and at the first PLAY) from the first cue not yet over there, a cue already
    /// showing sent at once; otherwise on from the next cue not sent (a resume or a `Speed`
    /// change sends nothing again).
    pub fn play(&mut self, cues: &[Cue], speed: f64, now: Instant) {
        let seeked = std::mem::take(&mut self.seeked);
        if let Some(s) = self.schedule.take() {
            // Playing until now: the clock goes on; the position too, unless a seek set it.
            let played = now.saturating_duration_since(s.anchor).mul_f64(s.speed);
            self.clock = s.anchor_clock + played.as_millis() as u64;
            if !seeked {
                self.npt = s.anchor_npt + played;
            }
        }
        if seeked {
            self.next_cue = cues.partition_point(|c| c.end <= self.npt);
        }
        self.schedule = Some(Schedule {
            anchor: now,
            anchor_npt: self.npt,
            anchor_clock: self.clock,
            speed,
        });
        self.packetizer.reset();
    }

    /// Stops; PLAY goes on from where it was at `now`.
    pub fn pause(&mut self, now: Instant) {
        if let Some(s) = self.schedule.take() {
            let played = now.saturating_duration_since(s.anchor).mul_f64(s.speed);
            self.npt = s.anchor_npt + played;
            self.clock = s.anchor_clock + played.as_millis() as u64;
        }
    }

    /// The clock (ms) at media time `npt` under `s`.
    fn clock_at(s: Schedule, npt: Duration) -> u64 {
        s.anchor_clock + npt.saturating_sub(s.anchor_npt).as_millis() as u64
    }

    /// When cue `cue` is due under `s`.
    fn due(s: Schedule, cue: &Cue) -> Instant {
        s.anchor + cue.start.saturating_sub(s.anchor_npt).div_f64(s.speed)
    }

    /// The RTP timestamp that corresponds to `now` (RFC 3550 §6.4.1).
    pub fn rtp_time_at(&self, now: Instant) -> u32 {
        let clock = match self.schedule {
            Some(s) => {
                let played = now.saturating_duration_since(s.anchor).mul_f64(s.speed);
                s.anchor_clock + played.as_millis() as u64
            }
            None => self.clock,
        };
        self.numbering.timestamp(clock)
    }

    /// Whether a cue is due at `now` whose sender report has not gone yet: the core sends the
    /// session's reports first, then [`CaptionStream::reported`].
    pub fn wants_report(&self, cues: &[Cue], now: Instant) -> bool {
        let Some(s) = self.schedule else {
            return false;
        };
        cues.get(self.next_cue)
            .is_some_and(|c| Self::due(s, c) <= now && self.reported != Some(self.next_cue))
    }

    /// The report for the cue due now has gone.
    pub fn reported(&mut self) {
        self.reported = Some(self.next_cue);
    }

    /// Appends the cues due at `now` to `out`, each packet once `accept` takes it.
    pub fn send(
        &mut self,
        cues: &[Cue],
        now: Instant,
        out: &mut Vec<u8>,
        accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool,
    ) -> Next {
        let Some(s) = self.schedule else {
            return Next::Idle;
        };
        while let Some(cue) = cues.get(self.next_cue) {
            let due = Self::due(s, cue);
            if due > now {
                return Next::At(due);
            }
            let clock = Self::clock_at(s, cue.start.max(s.anchor_npt));
            let timestamp = self.numbering.timestamp(clock);
            let marker = self
                .idle_since
                .is_none_or(|t| now.saturating_duration_since(t).as_millis() >= 300);
            for (k, block) in self.packetizer.push(cue).into_iter().enumerate() {
                let len = rtp::Header::LEN + block.data.len();
                if !accept(len, out) {
                    return Next::Held;
                }
                let header = rtp::Header {
                    marker: marker && k == 0,
                    payload_type: T140_PAYLOAD_TYPE,
                    sequence_number: self.numbering.next_sequence_number(),
                    timestamp,
                    ssrc: self.ssrc,
                };
                if header.append(&[&block.data], out).is_err() {
                    return Next::Held;
                }
                self.numbering.take_sequence_number();
                self.counters.packets += 1;
                self.counters.octets += block.data.len() as u64;
            }
            self.idle_since = Some(now);
            self.counters.frames += 1;
            self.next_cue += 1;
        }
        Next::Ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues() -> Vec<Cue> {
        let s = Duration::from_secs;
        vec![
            Cue::new(s(1), s(2), "one"),
            Cue::new(s(3), s(5), "two\nlines"),
            Cue::new(s(6), s(7), "three"),
        ]
    }

    fn run(s: &mut CaptionStream, cues: &[Cue], t0: Instant, ms: u64) -> Vec<(u64, Vec<u8>)> {
        let mut sent = Vec::new();
        for t in 0..ms {
            let mut out = Vec::new();
            s.send(
                cues,
                t0 + Duration::from_millis(t),
                &mut out,
                &mut |_, _| true,
            );
            if !out.is_empty() {
                sent.push((t, out));
            }
        }
        sent
    }

    #[test]
    fn each_cue_leaves_at_its_start_stamped_with_it() {
        let cues = cues();
        let t0 = Instant::now();
        let mut s = CaptionStream::new([5, 10, 1000]);
        s.play(&cues, 1.0, t0);
        let sent = run(&mut s, &cues, t0, 8000);
        let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![1000, 3000, 6000]);
        let p = rtp::Packet::parse(&sent[1].1).unwrap();
        assert_eq!(p.timestamp(), 1000 + 3000);
        assert_eq!(p.payload_type(), T140_PAYLOAD_TYPE);
        assert!(p.marker());
        assert_eq!(
            std::str::from_utf8(p.payload()).unwrap(),
            "two\nlines\u{2028}"
        );
    }

    #[test]
    fn a_seek_into_a_cue_sends_it_at_once_on_the_continuing_clock() {
        let cues = cues();
        let t0 = Instant::now();
        let mut s = CaptionStream::new([5, 10, 0]);
        s.play(&cues, 1.0, t0);
        run(&mut s, &cues, t0, 500);
        s.pause(t0 + Duration::from_millis(500));
        assert_eq!(s.next_timestamp(), 500);
        s.seek(4.0);
        let t1 = t0 + Duration::from_secs(10);
        s.play(&cues, 1.0, t1);
        let sent = run(&mut s, &cues, t1, 2500);
        assert_eq!(sent[0].0, 0, "the cue showing at 4 s");
        let p = rtp::Packet::parse(&sent[0].1).unwrap();
        assert_eq!(p.timestamp(), 500, "the clock goes on from the pause");
        assert_eq!(sent[1].0, 2000, "6 s is 2 s after 4 s");
    }

    #[test]
    fn a_speed_change_or_a_resume_sends_no_cue_again() {
        let cues = cues();
        let t0 = Instant::now();
        let mut s = CaptionStream::new([5, 10, 0]);
        s.play(&cues, 1.0, t0);
        let first = run(&mut s, &cues, t0, 1500);
        assert_eq!(first.len(), 1, "the first cue, at 1 s");
        // PLAY with Speed: 2 at 1.5 s, then a pause and a resume.
        let t1 = t0 + Duration::from_millis(1500);
        s.play(&cues, 2.0, t1);
        let sent = run(&mut s, &cues, t1, 1000);
        assert_eq!(
            sent.len(),
            1,
            "only the second cue (3 s of media, 0.75 s later)"
        );
        assert_eq!(sent[0].0, 750);
        let t2 = t1 + Duration::from_millis(1000);
        s.pause(t2);
        s.play(&cues, 1.0, t2 + Duration::from_secs(5));
        let sent = run(&mut s, &cues, t2 + Duration::from_secs(5), 3000);
        assert_eq!(sent.len(), 1, "the third cue only: {sent:?}");
        // A seek while playing starts from the cue showing at the new position.
        let t3 = t2 + Duration::from_secs(8);
        s.seek(1.5);
        s.play(&cues, 1.0, t3);
        let sent = run(&mut s, &cues, t3, 2000);
        // "one" (1-2 s) is showing at 1.5 s: at once; "two" at 3 s, 1.5 s later.
        assert_eq!(sent.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1500]);
    }

    #[test]
    fn a_report_is_wanted_once_before_each_cue() {
        let cues = cues();
        let t0 = Instant::now();
        let mut s = CaptionStream::new([5, 10, 0]);
        s.play(&cues, 1.0, t0);
        let at = t0 + Duration::from_secs(1);
        assert!(!s.wants_report(&cues, t0));
        assert!(s.wants_report(&cues, at));
        s.reported();
        assert!(!s.wants_report(&cues, at));
        assert_eq!(s.rtp_time_at(at), 1000);
    }
}
