//! server's integration tests, one binary (`cargo nextest run -p hdstream-server`): one module per
//! subject, each the file of its name beside this one; what they share is in `common`.
//! One binary instead of one per file: each linked the whole dependency tree and compiled
//! `common` again (docs/benchmarks.md, "The README's two commands on a fresh clone").

mod common;

mod batching;
mod captions_from_speech;
mod course_client;
mod faults;
mod files_change;
mod hostile;
mod http;
mod http_tunnel;
mod interop_auth;
mod interop_containers;
mod interop_ffmpeg;
mod interop_gstreamer;
mod interop_sound;
mod interop_tls;
mod lipsync;
mod live;
mod live_hostile;
mod live_sound;
mod load;
mod ops;
mod pacing;
mod publish;
mod rtsp_methods;
mod sigint;
