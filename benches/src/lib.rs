//! hdstream's playback benchmark (the `playback` binary) and its parts; the criterion
//! micro-benchmarks live in `benches/`.
//!
//! - [`media`]: test files per resolution, made on first use under `target/media/`;
//! - [`load`]: many light receivers at once, for the server's capacity (and the live
//!   benchmark's receive-only viewers);
//! - [`av`]: `playback --av`, the lip-sync benchmark (a flash and a click each second);
//! - [`call`]: `playback --call`, two `hdstream-call`s calling each other, latency each way;
//! - [`live`]: `playback --live`, a publisher, our server and N viewers of a live path;
//! - [`process`]: child processes measured by the kernel (CPU time, peak RSS);
//! - [`peers`]: our server and client and the peers (GStreamer, ffmpeg, gst-rtsp-server);
//! - [`report`]: the table, `results.json`, `results.csv`; [`plot`]: PNG and SVG plots.

pub mod av;
pub mod call;
pub mod live;
pub mod load;
pub mod media;
pub mod peers;
pub mod plot;
pub mod process;
pub mod report;
