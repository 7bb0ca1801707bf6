//! Where a session's RTP and RTCP go (RFC 2326 §12.39): UDP unicast to the client's ports or
//! interleaved in its RTSP connection (§10.12). Every track of a session sends the same way.

use std::net::SocketAddr;

/// Where a session's RTP and RTCP go (RFC 2326 §12.39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// UDP unicast to the RTSP peer's address at the client ports (RTCP: `None` for the course
    /// client, which has no RTCP port).
    Udp {
        /// The client's RTP address.
        rtp: SocketAddr,
        /// The client's RTCP address.
        rtcp: Option<SocketAddr>,
    },
    /// Interleaved in the RTSP connection (RFC 2326 §10.12).
    Tcp {
        /// Channel of RTP packets.
        rtp: u8,
        /// Channel of RTCP packets.
        rtcp: u8,
    },
}
