//! An RTSP session (RFC 2326 §3.6, state machine of Appendix A.2): the stream it controls, where
//! its packets go, and when it was last heard from.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_common::rtcp::ReportBlock;

use crate::delivery::Delivery;
use crate::media::Media;
use crate::sender::Counters;
use crate::stream::Stream;
use crate::tally::Rate;
use crate::track::Track;

/// Identifies a TCP connection in the core; the driver chooses the numbers.
pub type ConnId = usize;

/// RFC 2326 Appendix A.2 server states. A session exists from its SETUP, so there is no Init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Set up (or paused, or at the end of the file): nothing is sent.
    Ready,
    /// PLAY in force.
    Playing,
}

/// What a session plays.
#[derive(Debug, Clone)]
pub enum Program {
    /// A file (shared with every session playing it).
    File(Arc<Media>),
    /// A published path (`live/<name>`), whose frames the core's
    /// [`crate::publish::Publishing`] holds.
    Live(String),
}

impl Program {
    /// The file's name or the path.
    pub fn name(&self) -> &str {
        match self {
            Program::File(media) => &media.name,
            Program::Live(path) => path,
        }
    }

    /// The file, if it is one.
    pub fn file(&self) -> Option<&Arc<Media>> {
        match self {
            Program::File(media) => Some(media),
            Program::Live(_) => None,
        }
    }

    /// Whether two are the same (the same file, not merely an equal one).
    pub fn same(&self, other: &Program) -> bool {
        match (self, other) {
            (Program::File(a), Program::File(b)) => Arc::ptr_eq(a, b),
            (Program::Live(a), Program::Live(b)) => a == b,
            _ => false,
        }
    }
}

/// One session.
#[derive(Debug)]
pub struct Session {
    /// The session identifier (RFC 2326 §12.37): digits, so the course client can read it too.
    pub id: String,
    /// The connection that set it up; requests naming it from elsewhere are refused (454).
    pub conn: ConnId,
    /// The RTSP peer.
    pub peer: SocketAddr,
    /// What it plays.
    pub program: Program,
    /// Where packets go.
    pub delivery: Delivery,
    /// The course client's dialect: whole JPEGs, line-position replies.
    pub course: bool,
    /// Ready or Playing.
    pub state: State,
    /// The RTP stream.
    pub stream: Stream,
    /// The last RTSP request or RTCP packet from the client.
    pub last_heard: Instant,
    /// When the next RTCP sender report is due.
    pub next_report: Instant,
    /// When the session was set up.
    pub created: Instant,
    /// When PLAY first took effect (for the end-of-session summary).
    pub first_play: Option<Instant>,
    /// Whether the end of the file was reached (BYE sent).
    pub ended: bool,
    /// RTCP packets received from the client.
    pub rtcp_received: u64,
    /// RTCP NACK packets (RFC 4585 §6.2.1) received about its video.
    pub nacks: u64,
    /// The client's latest reception report block about its video (RFC 3550 §6.4.2): loss and
    /// jitter as the client sees them.
    pub reported: Option<ReportBlock>,
    /// Its octets sent over the last seconds, for its bitrate ([`crate::ops`]).
    pub rate: Rate,
    /// The URL the session was set up with (`RTP-Info: url=`).
    pub control_url: String,
    /// Its other tracks (sound), each set up by its own SETUP.
    pub tracks: Vec<Track>,
}

impl Session {
    /// Where each of its tracks goes: the video's first.
    pub fn deliveries(&self) -> impl Iterator<Item = Delivery> + '_ {
        std::iter::once(self.delivery).chain(self.tracks.iter().map(|t| t.delivery))
    }

    /// Counters of its video and its other tracks together.
    pub fn counters(&self) -> Counters {
        self.tracks
            .iter()
            .map(|t| t.stream.counters())
            .fold(self.stream.counters, |a, b| Counters {
                frames: a.frames + b.frames,
                packets: a.packets + b.packets,
                octets: a.octets + b.octets,
                skipped: a.skipped + b.skipped,
                unsendable: a.unsendable + b.unsendable,
            })
    }

    /// When the session expires without news from the client.
    pub fn expires(&self, timeout: Duration) -> Instant {
        self.last_heard + timeout
    }
}
