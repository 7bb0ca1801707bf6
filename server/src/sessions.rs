//! The session table (RFC 2326 §3.6): the one owner of every [`Session`], of the map from a
//! client's RTCP address to its session, and of the random source that session ids, SSRCs,
//! initial sequence numbers and timestamp origins come from (RFC 3550 §5.1, §8).

use std::collections::HashMap;
use std::net::SocketAddr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::delivery::Delivery;
use crate::session::{ConnId, Session};
use crate::tally::{Departed, Totals};
use crate::track::Track;

/// Every session, by id, and in a list (so a transmit pass can go through them by position).
#[derive(Debug)]
pub struct Sessions {
    list: Vec<Session>,
    /// Session id → its place in `list`.
    index: HashMap<String, usize>,
    /// Client RTCP address → session id.
    rtcp_peers: HashMap<SocketAddr, String>,
    rng: SmallRng,
    /// What the sessions taken out had sent ([`crate::ops`]'s counters never go down).
    departed: Departed,
}

impl Sessions {
    /// An empty table whose random values come from `seed`.
    pub fn new(seed: u64) -> Sessions {
        Sessions {
            list: Vec::new(),
            index: HashMap::new(),
            rtcp_peers: HashMap::new(),
            rng: SmallRng::seed_from_u64(seed),
            departed: Departed::default(),
        }
    }

    /// Sessions alive.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The session `id`.
    pub fn get(&self, id: &str) -> Option<&Session> {
        self.index.get(id).map(|&i| &self.list[i])
    }

    /// The session `id`, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.index.get(id).map(|&i| &mut self.list[i])
    }

    /// The session at place `at` (0 ≤ `at` < [`Sessions::len`]); places change when a session
    /// is removed.
    pub fn at_mut(&mut self, at: usize) -> Option<&mut Session> {
        self.list.get_mut(at)
    }

    /// Every session.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.list.iter()
    }

    /// Every session, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Session> {
        self.list.iter_mut()
    }

    /// The ids of every session.
    pub fn ids(&self) -> Vec<String> {
        self.list.iter().map(|s| s.id.clone()).collect()
    }

    /// The ids of the sessions set up on `conn`.
    pub fn of_connection(&self, conn: ConnId) -> Vec<String> {
        self.list
            .iter()
            .filter(|s| s.conn == conn)
            .map(|s| s.id.clone())
            .collect()
    }

    /// The interleaved channels that the sessions on `conn` use, but for session `except`.
    pub fn channels_in_use(&self, conn: ConnId, except: Option<&str>) -> Vec<u8> {
        self.list
            .iter()
            .filter(|s| s.conn == conn && Some(s.id.as_str()) != except)
            .flat_map(Session::deliveries)
            .flat_map(|d| match d {
                Delivery::Tcp { rtp, rtcp } => vec![rtp, rtcp],
                Delivery::Udp { .. } => vec![],
            })
            .collect()
    }

    /// The session whose client sends RTCP from `from`.
    pub fn by_rtcp_peer(&mut self, from: SocketAddr) -> Option<&mut Session> {
        let id = self.rtcp_peers.get(&from)?;
        self.index.get(id).map(|&i| &mut self.list[i])
    }

    /// A new session id: digits (the course client reads it as an integer), unused.
    pub fn new_id(&mut self) -> String {
        loop {
            let id = format!(
                "{}",
                self.rng.random_range(10_000_000u64..100_000_000_000_000)
            );
            if !self.index.contains_key(&id) {
                return id;
            }
        }
    }

    /// Three random values: SSRC, initial sequence number, timestamp origin.
    pub fn random(&mut self) -> [u32; 3] {
        [self.rng.random(), self.rng.random(), self.rng.random()]
    }

    /// Adds `session` (its RTCP address is registered).
    pub fn insert(&mut self, session: Session) {
        if let Delivery::Udp { rtcp: Some(a), .. } = session.delivery {
            self.rtcp_peers.insert(a, session.id.clone());
        }
        match self.index.get(&session.id) {
            Some(&i) => self.list[i] = session,
            None => {
                self.index.insert(session.id.clone(), self.list.len());
                self.list.push(session);
            }
        }
    }

    /// Changes where session `id`'s packets go (a SETUP on an existing session, §10.4).
    pub fn set_delivery(&mut self, id: &str, delivery: Delivery) {
        let Some(session) = self.index.get(id).map(|&i| &mut self.list[i]) else {
            return;
        };
        if let Delivery::Udp { rtcp: Some(a), .. } = session.delivery {
            self.rtcp_peers.remove(&a);
        }
        session.delivery = delivery;
        if let Delivery::Udp { rtcp: Some(a), .. } = delivery {
            self.rtcp_peers.insert(a, id.to_owned());
        }
    }

    /// Adds `track` to session `id`, in place of one with the same control URL (a SETUP of a
    /// track again, §10.4); its RTCP address is registered.
    pub fn set_track(&mut self, id: &str, track: Track) {
        let Some(session) = self.index.get(id).map(|&i| &mut self.list[i]) else {
            return;
        };
        if let Some(at) = session
            .tracks
            .iter()
            .position(|t| t.control_url == track.control_url)
        {
            let old = session.tracks.remove(at);
            if let Delivery::Udp { rtcp: Some(a), .. } = old.delivery {
                self.rtcp_peers.remove(&a);
            }
        }
        if let Delivery::Udp { rtcp: Some(a), .. } = track.delivery {
            self.rtcp_peers.insert(a, id.to_owned());
        }
        session.tracks.push(track);
    }

    /// Takes session `id` out (its RTCP addresses are forgotten).
    pub fn remove(&mut self, id: &str) -> Option<Session> {
        let at = self.index.remove(id)?;
        let session = self.list.swap_remove(at);
        if let Some(moved) = self.list.get(at) {
            self.index.insert(moved.id.clone(), at);
        }
        for delivery in session.deliveries() {
            if let Delivery::Udp { rtcp: Some(a), .. } = delivery {
                self.rtcp_peers.remove(&a);
            }
        }
        let counters = session.counters();
        self.departed.add(
            session.program.name(),
            &Totals {
                packets: counters.packets,
                octets: counters.octets,
                rtx_packets: session.stream.rtx().map_or(0, |r| r.counters.sent),
                nacks: session.nacks,
                ..Totals::default()
            },
        );
        Some(session)
    }

    /// What the sessions taken out had sent, by path.
    pub fn departed(&self) -> &Departed {
        &self.departed
    }
}
