//! `hdstream-server`: RTSP 1.0 (RFC 2326) control and RTP/JPEG (RFC 2435) delivery of MJPEG
//! files, paced, to any number of clients over UDP or TCP-interleaved transport.
//!
//! - [`media`]: the files served and how URLs name them; [`config`]: the settings; [`access`]:
//!   who may watch and publish (Digest authentication);
//! - [`core`]: the sans-IO server (connections, and the transmit pass over the streams, polled
//!   for [`transmit::Transmit`]s); it hands each request to [`control`]'s method handlers,
//!   which see only a [`control::Context`] (settings, media, the [`sessions`] table, who asked,
//!   when) and never the core; [`session`] state and [`stream`] pacing of frames from a
//!   [`source`], cut into packets by [`payload`] as they leave, remembered in [`history`];
//! - [`http`]: the HTTP port's viewers (`/watch` multipart MJPEG, `/snapshot`), sans-IO, on
//!   the same files, live frames and users as RTSP;
//! - [`speech`]: captions from speech on live paths (sound decoded, resampled by
//!   [`resample`], lines of a recogniser turned into T.140 captions), sans-IO;
//! - [`driver`]: the mio event loop, [`datagrams`]: its batched UDP sending (`sendmmsg`,
//!   UDP GSO), and [`recogniser`]: the speech recognisers' processes — the only code that
//!   touches sockets, processes or the clock.

pub mod access;
pub mod captions;
pub mod config;
pub mod connection;
pub mod control;
pub mod core;
pub mod datagrams;
pub mod delivery;
pub mod driver;
pub mod history;
pub mod http;
pub mod live;
pub mod live_track;
pub mod media;
pub mod ops;
pub mod payload;
pub mod publish;
pub mod recogniser;
pub mod resample;
pub mod rtx;
pub mod sender;
pub mod session;
pub mod sessions;
pub mod sound;
pub mod source;
pub mod speech;
pub mod stream;
pub mod tally;
pub mod test_media;
#[cfg(test)]
mod testing;
pub mod tls;
pub mod track;
pub mod transmit;
