//! One server core and one client core, joined in memory.
//!
//! ```text
//!            RTSP (reliable, in order, no delay: TCP on a LAN)
//!   Client ◀───────────────────────────────────────────────▶ Server
//!     ▲  RTP  ◀── Link (loss, reorder, duplication, delay) ──   │
//!     │  RTCP ◀── Link (the same settings, its own seed) ─────  │
//!     └─ RTCP ─── Link (the same settings) ─────────────────────▶
//! ```
//!
//! The clock is simulated and jumps, as quinn's pair does: [`Pair::step`] moves every byte and
//! datagram that is due now (again and again, until nothing more moves at this instant), then
//! sets the clock to the earliest wake-up of either side — the server core's and the client
//! core's `poll_timeout` (a packet to send, a frame to release, a report, a time-out) and the
//! links' next delivery. Nothing is simulated between events: a ten-second play takes as many
//! steps as there are events in it, not ten thousand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_client::core::{Client, Command, Config as ClientConfig, Transport};
use hdstream_client::playout::Release;
use hdstream_client::stats::NetStats;
use hdstream_common::course::Dialect;
use hdstream_server::core::{Config as ServerConfig, Server, Socket};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_video::encoder::Restart;

use hdstream_tools::impair::Impairment;

use crate::link::{Link, LinkStats};
use crate::media;

/// How far the clock moves when a side says it is due now but nothing moved when it was asked
/// (a deadline that does not move when handled): never more than the old fixed step.
pub const FALLBACK_STEP: Duration = Duration::from_millis(1);
/// Rounds of moving at one instant before the pair takes the two sides as talking forever.
const MAX_ROUNDS: usize = 10_000;
/// The client's RTP port (RTCP on the next).
pub const CLIENT_RTP_PORT: u16 = 5000;

/// How a pair is made.
#[derive(Debug, Clone)]
pub struct PairConfig {
    /// Frame size of the test media.
    pub size: (u16, u16),
    /// Frames in the test media.
    pub frames: u64,
    /// Play `movie.Mjpeg` in the course's dialect instead of `clip.mjpeg` in standard RTSP.
    pub course: bool,
    /// RTP interleaved on the RTSP connection instead of UDP.
    pub tcp: bool,
    /// The server core's settings.
    pub server: ServerConfig,
    /// The client's prebuffer (the playout's; the rest of the client's settings are defaults).
    pub prebuffer: Duration,
    /// What the link does to datagrams (each direction, RTP and RTCP alike).
    pub link: Impairment,
    /// The client asks for lost packets again when the server offers it (NACK + RTX).
    pub repair: bool,
    /// Restart markers in the test media (the server then aligns packets with them, and the
    /// client conceals lost intervals).
    pub restart: Restart,
    /// The client shows frames that lost packets with the lost restart intervals of the frame
    /// before.
    pub conceal: bool,
    /// The client's user name and password.
    pub credentials: Option<(String, String)>,
    /// Seeds the server's random values and the links.
    pub seed: u64,
}

impl Default for PairConfig {
    /// 30 frames (1 s at 30 fps) of 320x240 over a clean UDP link, the default settings.
    fn default() -> Self {
        PairConfig {
            size: (320, 240),
            frames: 30,
            course: false,
            tcp: false,
            server: ServerConfig::default(),
            prebuffer: Duration::from_millis(500),
            link: Impairment::default(),
            repair: true,
            restart: Restart::None,
            conceal: true,
            credentials: None,
            seed: 1,
        }
    }
}

/// What travels from server to client outside the RTSP connection.
#[derive(Debug, Clone)]
enum Datagram {
    Rtp(Vec<u8>),
    Rtcp(Vec<u8>),
}

/// A server core and a client core on one simulated clock (see the module documentation).
#[derive(Debug)]
pub struct Pair {
    /// The server core.
    pub server: Server,
    /// The client core.
    pub client: Client,
    /// The simulated clock.
    pub now: Instant,
    /// Every frame the client released to its decoder, in order.
    pub released: Vec<Release>,
    /// The file played.
    pub file: PathBuf,
    conn: usize,
    connected: bool,
    rtp: Link<Datagram>,
    rtcp_down: Link<Datagram>,
    rtcp_up: Link<Vec<u8>>,
    client_rtcp: SocketAddr,
    steps: u64,
    /// The client core is no longer driven (see [`Pair::silence_client`]).
    silenced: bool,
    /// What reached a silenced client: datagrams, and the bytes on its connection.
    unheard: Vec<Datagram>,
    unheard_control: Vec<u8>,
    last_rtp: Option<Instant>,
    last_heard: Option<Instant>,
    transcript: Vec<u8>,
}

impl Pair {
    /// A pair whose client has just connected and sent its first request.
    pub fn new(config: PairConfig) -> Pair {
        let dir = media::dir_with(config.size.0, config.size.1, config.frames, config.restart);
        let (catalogue, _skipped) =
            Catalogue::open(&dir, &FpsPolicy::default()).expect("open the test media");
        let now = Instant::now();
        let mut server_config = config.server.clone();
        server_config.server_ports = (6970, 6971);
        let mut server = Server::new(
            server_config,
            Arc::new(catalogue),
            config.seed,
            (now, SystemTime::now()),
        );
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000));
        let conn = 1;
        server.open(conn, peer, now);
        let (dialect, url, name) = if config.course {
            (Dialect::Course, "movie.Mjpeg".to_owned(), "movie.Mjpeg")
        } else {
            let url = "rtsp://127.0.0.1:8554/clip.mjpeg".to_owned();
            (Dialect::Standard, url, "clip.mjpeg")
        };
        let transport = if config.tcp {
            Transport::Tcp
        } else {
            Transport::Udp {
                rtp_port: CLIENT_RTP_PORT,
                rtcp_port: CLIENT_RTP_PORT + 1,
            }
        };
        let mut client_config = ClientConfig::new(url, dialect, transport);
        client_config.pipeline.playout.prebuffer = config.prebuffer;
        client_config.repair = config.repair;
        client_config.pipeline.conceal = config.conceal;
        client_config.credentials = config.credentials.clone();
        let client = Client::new(client_config, now);
        Pair {
            server,
            client,
            now,
            released: Vec::new(),
            file: dir.join(name),
            conn,
            connected: true,
            rtp: Link::new(config.link, config.seed.wrapping_add(1)),
            rtcp_down: Link::new(config.link, config.seed.wrapping_add(2)),
            rtcp_up: Link::new(config.link, config.seed.wrapping_add(3)),
            client_rtcp: SocketAddr::from(([127, 0, 0, 1], CLIENT_RTP_PORT + 1)),
            steps: 0,
            silenced: false,
            unheard: Vec::new(),
            unheard_control: Vec::new(),
            last_rtp: None,
            last_heard: None,
            transcript: Vec::new(),
        }
    }

    /// Moves everything that is due now, then the clock to the next wake-up (see the module
    /// documentation), but not past `limit`.
    pub fn step(&mut self, limit: Instant) {
        self.steps += 1;
        let mut rounds = 0;
        while self.exchange() {
            rounds += 1;
            assert!(
                rounds < MAX_ROUNDS,
                "the pair still moves after {MAX_ROUNDS} rounds at one instant"
            );
        }
        let next = match self.next_wakeup() {
            Some(t) if t > self.now => t,
            // Due now, yet nothing moved when asked: on by the old fixed step.
            Some(_) => self.now + FALLBACK_STEP,
            None => limit,
        };
        self.now = next.min(limit).max(self.now);
    }

    /// The earliest instant either side or a link wants to act: the client's and the server's
    /// next deadline, the next datagram due on each link, or now when the client has a
    /// request to send.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let client = !self.silenced;
        let pending = (client && self.connected && !self.client.control_output().is_empty())
            .then_some(self.now);
        [
            pending,
            self.client.poll_timeout().filter(|_| client),
            self.server.poll_timeout(),
            self.rtp.next_delivery(),
            self.rtcp_down.next_delivery(),
            self.rtcp_up.next_delivery(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How many times the clock has moved.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One round of moving what is due now: whether anything moved (a byte, a datagram, a
    /// released frame), so that another round may find more.
    fn exchange(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        if self.connected && !self.silenced {
            let out = self.client.control_output().to_vec();
            if !out.is_empty() {
                moved = true;
                self.last_heard = Some(now);
                self.client.control_written(out.len());
                self.server.receive(self.conn, &out, now);
            }
        }
        let (rtp, rtcp_down, last_rtp) = (&mut self.rtp, &mut self.rtcp_down, &mut self.last_rtp);
        self.server.transmit_all(now, &mut |socket, _to, bytes| {
            moved = true;
            match socket {
                Socket::Rtp => {
                    *last_rtp = Some(now);
                    rtp.send(Datagram::Rtp(bytes.to_vec()), bytes.len(), now);
                }
                Socket::Rtcp => {
                    rtcp_down.send(Datagram::Rtcp(bytes.to_vec()), bytes.len(), now);
                }
            }
        });
        if self.connected {
            let out = self.server.output(self.conn).to_vec();
            if !out.is_empty() {
                moved = true;
                self.server.written(self.conn, out.len());
                self.transcript.extend_from_slice(&out);
                if self.silenced {
                    self.unheard_control.extend_from_slice(&out);
                } else {
                    self.client.receive_control(&out, now);
                }
            }
            if self.server.poll_close() == Some(self.conn) || self.client.is_done() {
                self.disconnect();
                moved = true;
            }
        }
        while let Some(d) = self.rtp.poll(now).or_else(|| self.rtcp_down.poll(now)) {
            moved = true;
            if self.silenced {
                self.unheard.push(d);
                continue;
            }
            match d {
                Datagram::Rtp(bytes) => self.client.receive_rtp(&bytes, now),
                Datagram::Rtcp(bytes) => self.client.receive_rtcp(&bytes, now),
            }
        }
        if self.silenced {
            return moved;
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        while let Some(d) = self.client.poll_datagram() {
            moved = true;
            let len = d.len();
            self.rtcp_up.send(d, len, now);
        }
        while let Some(d) = self.rtcp_up.poll(now) {
            moved = true;
            self.last_heard = Some(now);
            self.server.receive_rtcp(self.client_rtcp, &d, now);
        }
        while let Some(r) = self.client.poll_release(now) {
            moved = true;
            self.released.push(r);
        }
        moved
    }

    /// Runs for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        while self.now < end {
            self.step(end);
        }
    }

    /// Runs until the client is done (or `limit` of simulated time passed): whether it is.
    pub fn run_until_done(&mut self, limit: Duration) -> bool {
        let end = self.now + limit;
        while self.now < end && !self.client.is_done() {
            self.step(end);
        }
        self.client.is_done()
    }

    /// A user command to the client at the current time.
    pub fn command(&mut self, command: Command) {
        self.client.command(command, self.now);
    }

    /// The RTSP connection closes (either end), as a TCP reset would.
    pub fn disconnect(&mut self) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.server.close(self.conn, self.now);
        self.client.control_closed(self.now);
    }

    /// The client vanishes without closing its connection, as a frozen process would: from now
    /// on the client core is not driven — it sends no request and no RTCP — and what the server
    /// sends it is kept ([`Pair::unheard_rtcp`]). [`Pair::request`] then speaks on its
    /// connection.
    pub fn silence_client(&mut self) {
        self.silenced = true;
    }

    /// The RTCP compounds that reached the client after it was silenced.
    pub fn unheard_rtcp(&self) -> Vec<&[u8]> {
        self.unheard
            .iter()
            .filter_map(|d| match d {
                Datagram::Rtcp(bytes) => Some(bytes.as_slice()),
                Datagram::Rtp(_) => None,
            })
            .collect()
    }

    /// Sends an RTCP compound from a silenced client's RTCP port to the server at the current
    /// time.
    pub fn send_rtcp(&mut self, compound: &[u8]) {
        assert!(
            self.silenced,
            "the client core reports for itself until silenced"
        );
        self.last_heard = Some(self.now);
        self.server
            .receive_rtcp(self.client_rtcp, compound, self.now);
    }

    /// When the server last heard from the client: a request's bytes or an RTCP compound.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// Every byte the server wrote on the RTSP connection, in order.
    pub fn transcript(&self) -> &[u8] {
        &self.transcript
    }

    /// When the server last sent an RTP packet.
    pub fn last_rtp_sent(&self) -> Option<Instant> {
        self.last_rtp
    }

    /// Writes `request` (whole RTSP text) on a silenced client's connection at the current
    /// time and answers every byte the server wrote back.
    pub fn request(&mut self, request: &str) -> Vec<u8> {
        assert!(
            self.silenced,
            "the client core speaks for itself until silenced"
        );
        assert!(self.connected, "a request on a closed connection");
        self.last_heard = Some(self.now);
        self.server.receive(self.conn, request.as_bytes(), self.now);
        let out = self.server.output(self.conn).to_vec();
        self.server.written(self.conn, out.len());
        self.transcript.extend_from_slice(&out);
        self.unheard_control.extend_from_slice(&out);
        std::mem::take(&mut self.unheard_control)
    }

    /// The client's receive-side counters.
    pub fn client_stats(&self) -> NetStats {
        self.client.stats()
    }

    /// What the RTP link did.
    pub fn rtp_link(&self) -> LinkStats {
        self.rtp.stats()
    }

    /// Panics unless every frame released is, pixel for pixel, the file's frame at its NPT
    /// (30 fps), none of them twice.
    pub fn assert_released_intact(&self) {
        let file = media::pictures_of(&self.file);
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.released {
            let k = (r.stamp.npt * 30.0).round() as usize;
            assert!(
                file.get(k).is_some_and(|f| media::pixels(&r.jpeg) == *f),
                "frame {k} released intact"
            );
            assert!(seen.insert(k), "frame {k} released once");
        }
    }

    /// The NPT of every released frame, rounded to the millisecond.
    pub fn released_npt_ms(&self) -> Vec<i64> {
        self.released
            .iter()
            .map(|r| (r.stamp.npt * 1000.0).round() as i64)
            .collect()
    }
}
