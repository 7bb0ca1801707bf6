//! Figures the operations answers ([`crate::ops`]) read that no counter held before, kept by
//! the owner of what they describe: a session's recent octets ([`Rate`], in
//! [`crate::session::Session`]) and what those that left had done ([`Departed`], in
//! [`crate::sessions::Sessions`], [`crate::http::Viewers`] and [`crate::publish::Publishing`]).
//! Plain values, no I/O: the owners note figures with the `now` they are handed.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How far back a session's bitrate looks.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Samples kept for [`Rate`]: one a second over [`RATE_WINDOW`].
const RATE_SAMPLES: usize = 6;

/// Octets sent over the last seconds, sampled at most once a second: a session's bitrate over
/// about [`RATE_WINDOW`] without a clock of its own (the core notes its counters on each pass).
#[derive(Debug, Clone, Default)]
pub struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// The octets sent so far, at `now`; kept when a second has passed since the last sample.
    pub fn note(&mut self, now: Instant, octets: u64) {
        if self
            .samples
            .back()
            .is_some_and(|&(t, _)| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.samples.push_back((now, octets));
        while self.samples.len() > RATE_SAMPLES {
            self.samples.pop_front();
        }
    }

    /// Bits per second between the oldest sample and `octets` sent by `now`; 0 with no sample
    /// or none older than 100 ms.
    pub fn bits_per_second(&self, now: Instant, octets: u64) -> f64 {
        let Some(&(t, o)) = self.samples.front() else {
            return 0.0;
        };
        let seconds = now.saturating_duration_since(t).as_secs_f64();
        if seconds < 0.1 {
            return 0.0;
        }
        octets.saturating_sub(o) as f64 * 8.0 / seconds
    }
}

/// Paths remembered at most by a [`Departed`]; the figures of others are added under
/// [`OTHER_PATHS`] (live path names come from the network: their number must be bounded).
pub const MAX_DEPARTED_PATHS: usize = 1024;
/// The `path` label of figures beyond [`MAX_DEPARTED_PATHS`].
pub const OTHER_PATHS: &str = "(other)";

/// What those that left had done, by path: the part of each counter of [`metrics`] that no
/// open session, viewer or publisher holds any more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// RTP packets sent, all tracks.
    pub packets: u64,
    /// RTP payload octets sent, all tracks.
    pub octets: u64,
    /// RTX packets sent.
    pub rtx_packets: u64,
    /// RTCP NACK packets received.
    pub nacks: u64,
    /// Bytes written to HTTP viewers.
    pub http_bytes: u64,
    /// Frames queued whole for HTTP viewers.
    pub http_frames: u64,
    /// Frames skipped for HTTP viewers.
    pub http_skipped: u64,
    /// Frames received whole from publishers.
    pub frames_published: u64,
    /// Frames from publishers that could not be served.
    pub frames_refused: u64,
}

impl Totals {
    /// Adds `other`, figure by figure.
    pub fn add(&mut self, other: &Totals) {
        self.packets += other.packets;
        self.octets += other.octets;
        self.rtx_packets += other.rtx_packets;
        self.nacks += other.nacks;
        self.http_bytes += other.http_bytes;
        self.http_frames += other.http_frames;
        self.http_skipped += other.http_skipped;
        self.frames_published += other.frames_published;
        self.frames_refused += other.frames_refused;
    }
}

/// [`Totals`] of those that left, by path, for at most [`MAX_DEPARTED_PATHS`] paths.
#[derive(Debug, Clone, Default)]
pub struct Departed {
    by_path: HashMap<String, Totals>,
}

impl Departed {
    /// Adds what one that left `path` had done.
    pub fn add(&mut self, path: &str, figures: &Totals) {
        let key = if self.by_path.contains_key(path) || self.by_path.len() < MAX_DEPARTED_PATHS {
            path
        } else {
            OTHER_PATHS
        };
        self.by_path.entry(key.to_owned()).or_default().add(figures);
    }

    /// The figures by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Totals)> {
        self.by_path.iter().map(|(p, t)| (p.as_str(), t))
    }
}
