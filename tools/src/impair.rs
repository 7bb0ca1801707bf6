//! A seeded model of a bad network link, for the `impair` relay: random and bursty
//! (Gilbert–Elliott) loss, reordering, duplication, delay with jitter, and a rate limit.
//!
//! Sans-IO: [`Link::decide`] takes a packet's size and `now` and answers when (if ever) the
//! packet leaves, and how many copies. The same seed and the same arrivals give the same fates,
//! so a test can replay exactly which packets were damaged.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hdstream_common::pacing::TokenBucket;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Two-state Markov loss (Gilbert–Elliott): in the good state packets are lost with
/// `loss_good`, in the bad state with `loss_bad`; `p` moves good → bad, `r` bad → good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// P(good → bad) per packet.
    pub p: f64,
    /// P(bad → good) per packet.
    pub r: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

/// What the link does to packets. The default is a clean link (a reordered packet, when
/// reordering is asked for, is held back 2 ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Independent random loss probability.
    pub loss: f64,
    /// Bursty loss, instead of (or on top of) `loss`.
    pub burst: Option<GilbertElliott>,
    /// Probability a packet is held back and overtaken by the next ones.
    pub reorder: f64,
    /// How long a reordered packet is held back.
    pub reorder_delay: Duration,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Uniform jitter added to the delay, 0..=jitter (order kept: a packet never leaves before
    /// the one before it, except when reordered on purpose or with `jitter_reorders`).
    pub jitter: Duration,
    /// Jitter as independent delays, so packets may overtake each other (netem's jitter
    /// without a rate) instead of a queue whose delay varies.
    pub jitter_reorders: bool,
    /// The largest packet carried (UDP payload bytes); larger ones are lost, as on a path that
    /// does not fragment.
    pub mtu: Option<usize>,
    /// Bottleneck rate in bits per second (queued; tail-dropped past 1 s of queue).
    pub rate_bps: Option<u64>,
}

impl Default for Impairment {
    fn default() -> Impairment {
        Impairment {
            loss: 0.0,
            burst: None,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(2),
            duplicate: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_reorders: false,
            rate_bps: None,
            mtu: None,
        }
    }
}

/// A `Impairment` that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpairmentError(pub String);

impl fmt::Display for ImpairmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImpairmentError {}

fn percent(v: &str) -> Result<f64, ImpairmentError> {
    let n: f64 = v
        .trim_end_matches('%')
        .parse()
        .map_err(|_| ImpairmentError(format!("{v:?} is not a percentage")))?;
    if !(0.0..=100.0).contains(&n) {
        return Err(ImpairmentError(format!("{v:?} is outside 0-100%")));
    }
    Ok(n / 100.0)
}

fn duration(v: &str) -> Result<Duration, ImpairmentError> {
    let bad = || ImpairmentError(format!("{v:?} is not a duration like 20ms or 1.5s"));
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        (v, 1e-3)
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !(n.is_finite() && n >= 0.0 && n * scale <= 60.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(n * scale))
}

fn rate(v: &str) -> Result<u64, ImpairmentError> {
    let lower = v.to_ascii_lowercase();
    let (num, scale) = if let Some(n) = lower.strip_suffix("gbit") {
        (n.to_owned(), 1e9)
    } else if let Some(n) = lower.strip_suffix("mbit") {
        (n.to_owned(), 1e6)
    } else if let Some(n) = lower.strip_suffix("kbit") {
        (n.to_owned(), 1e3)
    } else {
        (lower.clone(), 1.0)
    };
    let n: f64 = num
        .parse()
        .map_err(|_| ImpairmentError(format!("{v:?} is not a rate like 50mbit")))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(ImpairmentError(format!("{v:?} must be positive")));
    }
    Ok((n * scale) as u64)
}

impl FromStr for Impairment {
    type Err = ImpairmentError;

    /// `loss=1%,burst=p:r:good:bad,reorder=2%,reorder-delay=2ms,dup=0.1%,delay=10ms,
    /// jitter=20ms,rate=50mbit,mtu=1400` (any subset, any order; `none` for a clean link).
    fn from_str(s: &str) -> Result<Impairment, ImpairmentError> {
        let mut spec = Impairment::default();
        for item in s
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty() && *i != "none")
        {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| ImpairmentError(format!("{item:?}: expected key=value")))?;
            match k {
                "loss" => spec.loss = percent(v)?,
                "reorder" => spec.reorder = percent(v)?,
                "reorder-delay" => spec.reorder_delay = duration(v)?,
                "dup" | "duplicate" => spec.duplicate = percent(v)?,
                "delay" => spec.delay = duration(v)?,
                "jitter" => spec.jitter = duration(v)?,
                "rate" => spec.rate_bps = Some(rate(v)?),
                "mtu" => {
                    spec.mtu = Some(v.parse().map_err(|_| {
                        ImpairmentError(format!("mtu={v}: expected a size in bytes"))
                    })?)
                }
                "burst" => {
                    let parts: Vec<&str> = v.split(':').collect();
                    let [p, r, g, b] = parts[..] else {
                        return Err(ImpairmentError(format!(
                            "burst={v}: expected p:r:loss_good:loss_bad (percentages)"
                        )));
                    };
                    spec.burst = Some(GilbertElliott {
                        p: percent(p)?,
                        r: percent(r)?,
                        loss_good: percent(g)?,
                        loss_bad: percent(b)?,
                    });
                }
                _ => return Err(ImpairmentError(format!("unknown impairment {k:?}"))),
            }
        }
        Ok(spec)
    }
}

/// What happens to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Lost (at random, in a burst, past the rate limit's queue, or over the MTU).
    Drop,
    /// Leaves at `at`.
    Deliver {
        /// When it leaves the link.
        at: Instant,
        /// How many copies leave (2 for a duplicate).
        copies: usize,
        /// Held back on purpose, to be overtaken.
        reordered: bool,
    },
}

/// One direction of an impaired link.
#[derive(Debug)]
pub struct Link {
    spec: Impairment,
    rng: SmallRng,
    bad: bool,
    bucket: Option<TokenBucket>,
    /// Departure of the previous in-order packet (jitter keeps order).
    last: Option<Instant>,
}

/// Longest queue behind the rate limit before tail drop.
const MAX_QUEUE: Duration = Duration::from_secs(1);

impl Link {
    /// A link with `spec`, its random choices seeded by `seed`.
    pub fn new(spec: Impairment, seed: u64, now: Instant) -> Link {
        let bucket = spec
            .rate_bps
            .map(|bps| TokenBucket::new((bps / 8).max(1), 16 * 1500, now));
        Link {
            spec,
            rng: SmallRng::seed_from_u64(seed),
            bad: false,
            bucket,
            last: None,
        }
    }

    /// The fate of a packet of `len` bytes arriving at `now`.
    pub fn decide(&mut self, len: usize, now: Instant) -> Fate {
        if self.spec.mtu.is_some_and(|mtu| len > mtu) {
            return Fate::Drop;
        }
        let mut lost = self.spec.loss > 0.0 && self.rng.random_bool(self.spec.loss);
        if let Some(ge) = self.spec.burst {
            let flip = if self.bad { ge.r } else { ge.p };
            if flip > 0.0 && self.rng.random_bool(flip) {
                self.bad = !self.bad;
            }
            let p = if self.bad { ge.loss_bad } else { ge.loss_good };
            lost |= p > 0.0 && self.rng.random_bool(p);
        }
        if lost {
            return Fate::Drop;
        }
        let mut at = now;
        if let Some(bucket) = &mut self.bucket {
            let ready = bucket.ready_at(len, now);
            if ready.saturating_duration_since(now) > MAX_QUEUE {
                return Fate::Drop;
            }
            bucket.take(len, now);
            at = ready;
        }
        at += self.spec.delay;
        if !self.spec.jitter.is_zero() {
            at += self.spec.jitter.mul_f64(self.rng.random::<f64>());
        }
        let reordered = self.spec.reorder > 0.0 && self.rng.random_bool(self.spec.reorder);
        if reordered {
            at += self.spec.reorder_delay;
        } else if !self.spec.jitter_reorders {
            if let Some(last) = self.last {
                at = at.max(last);
            }
            self.last = Some(at);
        }
        let duplicate = self.spec.duplicate > 0.0 && self.rng.random_bool(self.spec.duplicate);
        Fate::Deliver {
            at,
            copies: 1 + usize::from(duplicate),
            reordered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s: Impairment = "loss=1%,jitter=20ms,reorder=2%,rate=50mbit,dup=0.5%,delay=1s"
            .parse()
            .unwrap();
        assert_eq!(s.loss, 0.01);
        assert_eq!(s.jitter, Duration::from_millis(20));
        assert_eq!(s.reorder, 0.02);
        assert_eq!(s.rate_bps, Some(50_000_000));
        assert_eq!(s.duplicate, 0.005);
        assert_eq!(s.delay, Duration::from_secs(1));
        let b: Impairment = "burst=1:30:0:50".parse().unwrap();
        assert_eq!(b.burst.unwrap().r, 0.3);
        assert!("loss=200%".parse::<Impairment>().is_err());
        assert!("frob=1".parse::<Impairment>().is_err());
        assert!("loss".parse::<Impairment>().is_err());
        assert_eq!("none".parse::<Impairment>().unwrap().loss, 0.0);
    }

    #[test]
    fn loss_rate_matches_and_is_reproducible() {
        let now = Instant::now();
        let spec: Impairment = "loss=2%".parse().unwrap();
        let fates = |seed| {
            let mut link = Link::new(spec, seed, now);
            (0..100_000)
                .map(|_| link.decide(1400, now) == Fate::Drop)
                .collect::<Vec<_>>()
        };
        let a = fates(7);
        assert_eq!(a, fates(7), "same seed, same fates");
        let lost = a.iter().filter(|&&d| d).count();
        assert!((1700..2300).contains(&lost), "lost {lost} of 100000 at 2%");
    }

    #[test]
    fn jitter_keeps_order_and_stays_in_bounds() {
        let t0 = Instant::now();
        let spec: Impairment = "delay=10ms,jitter=50ms".parse().unwrap();
        let mut link = Link::new(spec, 1, t0);
        let mut prev = t0;
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_micros(i * 100);
            let Fate::Deliver { at, .. } = link.decide(1400, now) else {
                panic!("no loss configured")
            };
            assert!(at >= prev, "reordered without reorder=");
            assert!(at >= now + Duration::from_millis(10));
            prev = at;
        }
    }

    #[test]
    fn packets_over_the_mtu_are_lost_and_the_rest_pass() {
        let now = Instant::now();
        let spec: Impairment = "mtu=1400".parse().unwrap();
        let mut link = Link::new(spec, 1, now);
        assert_eq!(link.decide(1401, now), Fate::Drop);
        assert!(matches!(
            link.decide(1400, now),
            Fate::Deliver {
                copies: 1,
                reordered: false,
                ..
            }
        ));
        assert!("mtu=big".parse::<Impairment>().is_err());
    }

    #[test]
    fn bursts_cluster() {
        let now = Instant::now();
        let spec: Impairment = "burst=1%:20%:0%:100%".parse().unwrap();
        let mut link = Link::new(spec, 3, now);
        let drops: Vec<bool> = (0..50_000)
            .map(|_| link.decide(100, now) == Fate::Drop)
            .collect();
        let lost = drops.iter().filter(|&&d| d).count();
        let runs = drops.windows(2).filter(|w| w[1] && !w[0]).count();
        assert!(lost > 0 && runs > 0);
        assert!(
            lost as f64 / runs as f64 > 2.0,
            "mean burst {} packets",
            lost as f64 / runs as f64
        );
    }

    #[test]
    fn rate_limit_spaces_packets() {
        let now = Instant::now();
        let spec: Impairment = "rate=8mbit".parse().unwrap(); // 1 MB/s
        let mut link = Link::new(spec, 1, now);
        let mut last = now;
        for _ in 0..1000 {
            if let Fate::Deliver { at, .. } = link.decide(1000, now) {
                last = at;
            }
        }
        // 1000 kB at 1 MB/s, minus the 24 kB burst: about a second of queue (tail-dropped past 1 s).
        let queued = last - now;
        assert!(
            queued > Duration::from_millis(900) && queued <= MAX_QUEUE,
            "{queued:?}"
        );
    }
}
