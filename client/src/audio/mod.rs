//! The audio track: received, timed on the video's playout clock, and played out as a stream
//! of samples (heard on the sound device, recorded with `--audio-out`). Sans-IO, like the video
//! pipeline; the driver plays them on the device ([`device`]) and writes the WAV file
//! ([`record`]).
//!
//! ```text
//! RTP ─▶ Receiver ───────────────────────────▶ Store ─▶ Output ─▶ samples ─▶ device (cpal), record (WAV)
//!        (gate, SSRC, PT, SequenceTracker,     (by RTP    (the video's NPT ↔ play time,
//!         Jitter, Decoder, Anchor)            timestamp)  holes, underruns) ─▶ Playhead
//! RTCP ─▶ Receiver: SR (NTP ↔ RTP), BYE           RR + SDES every report interval, BYE at the end
//! ```
//!
//! | part | owns |
//! |---|---|
//! | [`receive::Receiver`] | the track's reception: followed SSRC, sequence and jitter counts, sender reports, where its timestamps sit on the media timeline ([`receive::Anchor`]) |
//! | [`store::Store`] | samples received and not yet played, by timestamp (the reorder buffer) |
//! | [`output::Output`] | what is played when: the output's frame count, its alignment to the timestamps, concealment and underruns |
//! | [`Playhead`] | the media time heard at a given moment, for the presenter's audio/video offset |
//! | [`record::Recording`] | the WAV file of what was played (the driver's, IO) |
//! | [`device::DeviceSink`] | the sound device (cpal) that plays the same samples (the driver's, IO) |
//!
//! One track is played: the first audio `m=` section whose format can be decoded
//! (`hdstream_codec::Decoder`: L16, PCMU, PCMA, and Opus through libopus).

pub mod device;
pub mod output;
pub mod playhead;
pub mod receive;
pub mod record;
pub mod stats;
pub mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_common::audio::Format;

pub use playhead::Playhead;
pub use stats::{AudioReport, Counters, OffsetSummary, Offsets};

use crate::clock::Clock;
use crate::session::TrackStart;
use output::Output;
use receive::Receiver;

/// After an RTCP BYE of the audio source, packets in flight get this long.
const BYE_GRACE: Duration = Duration::from_millis(150);

/// The audio track of a session: its reception and its output.
#[derive(Debug)]
pub struct Track {
    receiver: Receiver,
    output: Output,
    /// No more packets will come (the video ended, or the track's BYE plus grace).
    ended: bool,
    next_report: Instant,
    report_interval: Duration,
}

impl Track {
    /// A track of `format` (`None` when the depacketizer cannot read it), reporting its
    /// position on `playhead`, written `ahead` of play time, sending a receiver report every
    /// `report_interval`.
    pub fn new(
        format: Format,
        playhead: Arc<Playhead>,
        ahead: Duration,
        report_interval: Duration,
        now: Instant,
    ) -> Option<Track> {
        Some(Track {
            receiver: Receiver::new(format, now)?,
            output: Output::new(format, playhead).with_ahead(ahead),
            ended: false,
            next_report: now + report_interval,
            report_interval,
        })
    }

    /// The format played.
    pub fn format(&self) -> Format {
        self.receiver.format()
    }

    /// The format as the report names it: `L16/48000/2 (PT 96)`.
    pub fn format_name(&self) -> String {
        let f = self.format();
        format!(
            "{}/{}/{} (PT {})",
            f.encoding, f.clock_rate, f.channels, f.payload_type
        )
    }

    /// The receive side.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// A live stream's track: keeps `seconds` of what it played (and holds as much waiting
    /// through a timeshift pause), so a jump back in the kept window plays its sound again.
    pub fn keep_played(&mut self, seconds: u32) {
        let frames = seconds as usize * self.format().clock_rate.max(1) as usize;
        self.receiver.store_mut().keep_played(frames);
    }

    /// A live stream's track: placed by the sender reports (the publisher's capture clock)
    /// as soon as they come ([`Receiver::prefer_reports`]).
    pub fn prefer_reports(&mut self) {
        self.receiver.prefer_reports();
    }

    /// The SSRC the SETUP reply named.
    pub fn expect_ssrc(&mut self, ssrc: u32) {
        self.receiver.expect_ssrc(ssrc);
    }

    /// One RTP packet of the track.
    pub fn rtp(&mut self, data: &[u8], now: Instant) {
        self.receiver.rtp(data, now, self.output.played_to());
    }

    /// One RTCP compound packet of the track.
    pub fn rtcp(&mut self, data: &[u8], now: Instant) {
        self.receiver.rtcp(data, now);
    }

    /// A PLAY that moves the stream was sent: what is held is forgotten, packets wait for the
    /// reply, and the output waits for the video's next mapping.
    pub fn hold(&mut self) {
        self.receiver.hold();
        self.output.hold();
        self.ended = false;
    }

    /// The PLAY reply came: the stream starts at `npt`, the track as its `RTP-Info` entry
    /// says.
    pub fn start(&mut self, npt: f64, info: Option<TrackStart>, now: Instant) {
        self.receiver.start(npt, info, now);
    }

    /// The video released a frame of media time `npt`, due at play time `due`: the mapping the
    /// sound follows.
    pub fn follow(&mut self, npt: f64, due: Instant) {
        self.output.follow(npt, due);
    }

    /// Places the track by sender reports when the PLAY reply did not (RFC 3550 §6.4.1):
    /// `npt_at` gives the video's NPT at an NTP time.
    pub fn sync(&mut self, npt_at: impl FnOnce(SystemTime) -> Option<f64>) {
        if self.receiver.anchor_by_report(npt_at) {
            tracing::info!("audio placed on the video's clock by sender reports");
            self.output.remap();
        }
    }

    /// No more packets will come: what is held plays out.
    pub fn end_of_stream(&mut self) {
        self.ended = true;
    }

    /// Whether the track ended and was played out.
    pub fn is_finished(&self) -> bool {
        self.output.is_finished()
    }

    /// Writes what is due on the output, and ends the track after its BYE.
    pub fn handle_timeout(&mut self, now: Instant, clock: &Clock) {
        if self.receiver.bye_at().is_some_and(|t| now >= t + BYE_GRACE) {
            self.ended = true;
        }
        self.output
            .write(now, clock, &mut self.receiver, self.ended);
    }

    /// When [`Track::handle_timeout`] has work without input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let bye = self
            .receiver
            .bye_at()
            .filter(|_| !self.ended)
            .map(|t| t + BYE_GRACE);
        [self.output.poll_timeout(), bye, Some(self.next_report)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the samples played so far to the end of `out` (interleaved).
    pub fn drain(&mut self, out: &mut Vec<i16>) {
        self.output.drain(out);
    }

    /// A receiver report about the track (RR + SDES CNAME from `ssrc`, RFC 3550 §6.4.2) when
    /// one is due.
    pub fn poll_report(&mut self, now: Instant, ssrc: u32, cname: &str) -> Option<Vec<u8>> {
        if now < self.next_report {
            return None;
        }
        self.next_report = now + self.report_interval;
        Some(self.report(now, ssrc, cname, false))
    }

    /// The compound sent when leaving: RR, SDES CNAME and BYE (§6.6).
    pub fn goodbye(&mut self, now: Instant, ssrc: u32, cname: &str) -> Vec<u8> {
        self.report(now, ssrc, cname, true)
    }

    fn report(&mut self, now: Instant, ssrc: u32, cname: &str, bye: bool) -> Vec<u8> {
        let block = self.receiver.report_block(now);
        crate::pipeline::receiver_report(ssrc, cname, block, bye)
    }

    /// Counts of reception and output together.
    pub fn counters(&self) -> Counters {
        let mut c = self.receiver.counters();
        let o = self.output.counters();
        c.concealed_packets = o.concealed_packets;
        c.underruns = o.underruns;
        c.frames_played = o.frames_played;
        c.frames_silent = o.frames_silent;
        c
    }
}
