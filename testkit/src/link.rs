//! A one-way datagram link on a simulated clock: datagrams over the MTU are dropped (as a path
//! that does not fragment would), others may be lost, duplicated, held back (reordered) or
//! delayed with jitter — all from one seed, so a run is the same every time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// What the link does to datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// The largest datagram carried (UDP payload bytes).
    pub mtu: usize,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_by` (arriving after later ones).
    pub reorder: f64,
    /// How long a reordered datagram is held back.
    pub reorder_by: Duration,
    /// One-way delay.
    pub delay: Duration,
    /// Extra delay, uniform in 0..jitter (datagrams may then overtake each other, unless
    /// `jitter_keeps_order`).
    pub jitter: Duration,
    /// Jitter as a queue whose delay varies: a datagram never leaves before the one sent
    /// before it (the `impair` relay's model); reordering then comes from `reorder` alone.
    pub jitter_keeps_order: bool,
}

impl Default for LinkConfig {
    /// A clean link: no loss, no delay, a 65,507-byte MTU.
    fn default() -> Self {
        LinkConfig {
            mtu: 65_507,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_by: Duration::from_millis(5),
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_keeps_order: false,
        }
    }
}

/// What the link did, for tests to compare with what the receiver counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams offered.
    pub sent: u64,
    /// Datagrams lost (over the MTU included).
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Datagrams held back.
    pub reordered: u64,
    /// Datagrams delivered (copies included).
    pub delivered: u64,
}

/// A datagram link (see the module documentation).
#[derive(Debug)]
pub struct Link<T> {
    config: LinkConfig,
    rng: SmallRng,
    /// (delivery time, order of sending) → datagram.
    queue: BTreeMap<(Instant, u64), T>,
    order: u64,
    /// Departure of the last datagram that kept its order.
    last: Option<Instant>,
    stats: LinkStats,
}

impl<T: Clone> Link<T> {
    /// A link doing `config`, its randomness from `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Link<T> {
        Link {
            config,
            rng: SmallRng::seed_from_u64(seed),
            queue: BTreeMap::new(),
            order: 0,
            last: None,
            stats: LinkStats::default(),
        }
    }

    /// What the link has done so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Offers a datagram of `len` bytes at `now`.
    pub fn send(&mut self, datagram: T, len: usize, now: Instant) {
        self.stats.sent += 1;
        if len > self.config.mtu || self.rng.random_bool(self.config.loss.clamp(0.0, 1.0)) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.random_bool(self.config.duplicate.clamp(0.0, 1.0)) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let mut at = now + self.config.delay;
        if !self.config.jitter.is_zero() {
            at += self.config.jitter.mul_f64(self.rng.random::<f64>());
            if self.config.jitter_keeps_order {
                at = self.last.map_or(at, |last| at.max(last));
                self.last = Some(at);
            }
        }
        if self.rng.random_bool(self.config.reorder.clamp(0.0, 1.0)) {
            self.stats.reordered += 1;
            at += self.config.reorder_by;
        }
        for _ in 0..copies {
            self.order += 1;
            self.queue.insert((at, self.order), datagram.clone());
        }
    }

    /// The next datagram due by `now`, in delivery order.
    pub fn poll(&mut self, now: Instant) -> Option<T> {
        let (&key, _) = self.queue.first_key_value()?;
        if key.0 > now {
            return None;
        }
        self.stats.delivered += 1;
        self.queue.remove(&key)
    }

    /// When the next datagram is due.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.queue.first_key_value().map(|(k, _)| k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_link_delivers_everything_in_order_after_its_delay() {
        let t0 = Instant::now();
        let delay = Duration::from_millis(20);
        let mut link = Link::new(
            LinkConfig {
                delay,
                ..LinkConfig::default()
            },
            1,
        );
        for n in 0..10u32 {
            link.send(n, 100, t0);
        }
        assert_eq!(link.poll(t0 + delay / 2), None);
        let got: Vec<u32> = std::iter::from_fn(|| link.poll(t0 + delay)).collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn loss_follows_the_seed_and_the_mtu() {
        let t0 = Instant::now();
        let config = LinkConfig {
            loss: 0.1,
            mtu: 1000,
            ..LinkConfig::default()
        };
        let run = || {
            let mut link = Link::new(config, 7);
            for n in 0..10_000u32 {
                link.send(n, 500, t0);
            }
            link.send(0, 1001, t0);
            let got: Vec<u32> = std::iter::from_fn(|| link.poll(t0)).collect();
            (got, link.stats())
        };
        let (a, stats) = run();
        assert_eq!(a, run().0, "same seed, same run");
        assert!((900..1100).contains(&(stats.lost - 1)), "{stats:?}");
        assert_eq!(stats.delivered + stats.lost, 10_001);
    }

    #[test]
    fn held_back_datagrams_arrive_after_later_ones() {
        let t0 = Instant::now();
        let mut link = Link::new(
            LinkConfig {
                reorder: 0.2,
                duplicate: 0.1,
                ..LinkConfig::default()
            },
            3,
        );
        for n in 0..1000u32 {
            link.send(n, 10, t0 + Duration::from_micros(100 * u64::from(n)));
        }
        let got: Vec<u32> = std::iter::from_fn(|| link.poll(t0 + Duration::from_secs(1))).collect();
        let out_of_order = got.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(out_of_order > 50, "{out_of_order}");
        assert_eq!(got.len() as u64, 1000 + link.stats().duplicated);
    }
}
