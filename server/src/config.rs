//! Settings of the server core (the command line's flags).

use std::time::Duration;

/// Settings of the core (the CLI's flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Path MTU for RTP over UDP (IP + UDP + RTP + payload).
    pub mtu: usize,
    /// A session with no RTSP request or RTCP packet for this long is reclaimed (RFC 2326 §12.37);
    /// an HTTP viewer whose output has not moved for this long is closed.
    pub session_timeout: Duration,
    /// Most sessions at once; SETUP beyond it is answered 503.
    pub max_sessions: usize,
    /// Play files in a loop instead of ending with BYE.
    pub looping: bool,
    /// Highest `Speed` (RFC 2326 §12.35) granted for faster-than-real-time delivery.
    pub max_speed: f64,
    /// A request that has not arrived whole after this long closes its connection (slow loris);
    /// on the HTTP port, counted from the accept.
    pub request_timeout: Duration,
    /// Bytes an interleaved (TCP) session, or an HTTP viewer ([`crate::http`]), may have queued
    /// on its connection before its stream skips whole frames; also the output beyond which a
    /// connection's requests are not read ([`Server::wants_input`]).
    pub tcp_queue_limit: usize,
    /// The course client's requests carry no terminating blank line: they are taken as complete
    /// when the connection has been quiet this long.
    pub quiet_delay: Duration,
    /// Interval of RTCP sender reports.
    pub report_interval: Duration,
    /// The server's RTP and RTCP UDP ports (`server_port=` in SETUP replies).
    pub server_ports: (u16, u16),
    /// How long sent packets can be asked for again (RFC 4588 `rtx-time`); zero: no
    /// retransmission is offered.
    pub rtx_time: Duration,
    /// The RTX payload type offered (dynamic, RFC 4588 §8.1).
    pub rtx_payload_type: u8,
    /// Who may watch and publish (`--users FILE`); `None`: anyone may watch.
    pub users: Option<crate::access::Users>,
    /// How long a Digest nonce stays good; older ones are answered `stale=true`.
    pub nonce_lifetime: Duration,
    /// Connections open at once, RTSP and HTTP, in all; beyond it a new one is answered 503
    /// and closed.
    pub max_connections: usize,
    /// Connections (RTSP and HTTP) open at once from one address (loopback excepted, unless
    /// `limit_loopback`: the machine's own tools and benchmarks); beyond it, 503 and close.
    pub max_connections_per_address: usize,
    /// Apply `max_connections_per_address` to loopback addresses too.
    pub limit_loopback: bool,
    /// A publisher heard from neither by RTP, RTCP nor a request for this long is gone: its
    /// path ends (its viewers get BYE) and its connection closes.
    pub publish_timeout: Duration,
    /// Bytes of published frames all live paths hold together (each its share, at most
    /// 48 MiB; the newest frame of each always stays).
    pub live_memory: usize,
    /// Captions from speech (`--captions-from-speech`): the recogniser run on the sound of
    /// every live path, whose lines become the path's T.140 captions ([`crate::speech`]);
    /// `None`: off.
    pub speech: Option<crate::speech::Recogniser>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 1400,
            session_timeout: Duration::from_secs(60),
            max_sessions: 1000,
            looping: false,
            max_speed: 4.0,
            request_timeout: Duration::from_secs(10),
            tcp_queue_limit: 4 << 20,
            quiet_delay: Duration::from_millis(20),
            report_interval: Duration::from_secs(5),
            server_ports: (0, 0),
            rtx_time: Duration::from_millis(1000),
            rtx_payload_type: 97,
            users: None,
            nonce_lifetime: crate::access::NONCE_LIFETIME,
            max_connections: 4000,
            max_connections_per_address: 64,
            limit_loopback: false,
            publish_timeout: Duration::from_secs(60),
            live_memory: crate::publish::LIVE_MEMORY,
            speech: None,
        }
    }
}
