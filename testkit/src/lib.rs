//! hdstream's test kit: the sans-IO server core and client core joined in memory on a simulated
//! clock and link, as quinn's `Pair` does (the clock jumps to the next wake-up of either side),
//! so protocol behaviour — seeking, pausing, timeouts, the course's dialect, loss accounting —
//! is tested in milliseconds, deterministically, with no socket, no thread and no sleep.
//!
//! - [`media`]: test files (numbered pattern frames) made once into `target/test-media/`
//!   (the server's `test_media`, re-exported), their decoded pixels once per process;
//! - [`link`]: a one-way datagram link with MTU, seeded loss, duplication, reordering, delay and
//!   jitter, and a record of what it did;
//! - [`pair`]: one server core, one client core, the RTSP connection between them (reliable,
//!   as TCP is) and a [`link`] each way for RTP and RTCP;
//! - [`netns`]: network namespaces for the tests where the kernel's network matters (nftables
//!   loss, two hosts joined by a veth pair); [`xvfb`]: a virtual X display for window tests,
//!   driven by xdotool and read back pixel for pixel.
//!
//! Real-socket tests stay where the kernel matters: interop with ffmpeg and GStreamer,
//! batching and GSO, nftables loss, the window.

pub mod link;
pub mod media;
pub mod netns;
pub mod pair;
pub mod xvfb;

pub use hdstream_tools::impair::Impairment;
pub use hdstream_video::encoder::Restart;
pub use link::Link;
pub use pair::{Pair, PairConfig};
