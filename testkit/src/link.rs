//! A one-way datagram link on a simulated clock: the `impair` relay's model of a bad link
//! ([`hdstream_tools::impair`]: loss — random or in bursts —, duplication, reordering, delay,
//! jitter, a rate limit, an MTU), with a queue in front of the receiver — all from one seed, so a
//! run is the same every time.

use std::collections::BTreeMap;
use std::time::Instant;

use hdstream_tools::impair::{self, Fate, Impairment};

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
    spec: Impairment,
    seed: u64,
    /// The model, made at the first datagram (its rate limit starts then).
    model: Option<impair::Link>,
    /// (delivery time, order of sending) → datagram.
    queue: BTreeMap<(Instant, u64), T>,
    order: u64,
    stats: LinkStats,
}

impl<T: Clone> Link<T> {
    /// A link doing `spec`, its randomness from `seed`.
    pub fn new(spec: Impairment, seed: u64) -> Link<T> {
        Link {
            spec,
            seed,
            model: None,
            queue: BTreeMap::new(),
            order: 0,
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
        let (spec, seed) = (self.spec, self.seed);
        let model = self
            .model
            .get_or_insert_with(|| impair::Link::new(spec, seed, now));
        let Fate::Deliver {
            at,
            copies,
            reordered,
        } = model.decide(len, now)
        else {
            self.stats.lost += 1;
            return;
        };
        self.stats.duplicated += copies.saturating_sub(1) as u64;
        self.stats.reordered += u64::from(reordered);
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_clean_link_delivers_everything_in_order_after_its_delay() {
        let t0 = Instant::now();
        let delay = Duration::from_millis(20);
        let mut link = Link::new(
            Impairment {
                delay,
                ..Impairment::default()
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
        let config = Impairment {
            loss: 0.1,
            mtu: Some(1000),
            ..Impairment::default()
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
            Impairment {
                reorder: 0.2,
                duplicate: 0.1,
                ..Impairment::default()
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
