//! client's integration tests, one binary (`cargo nextest run -p hdstream-client`): one module per
//! subject, each the file of its name beside this one; what they share is in `common`.
//! One binary instead of one per file: each linked the whole dependency tree and compiled
//! `common` again (docs/benchmarks.md, "The README's two commands on a fresh clone").

mod common;

mod alsa_output;
mod audio;
mod auth;
mod captions;
mod container_sound;
mod control;
mod course;
mod gst_audio;
mod gst_server;
mod hostile_tracks;
mod http_tunnel;
mod http_tunnel_firewall;
mod impairment;
mod kernel_loss;
mod lip_sync;
mod live;
mod loopback;
mod published_sound;
mod tls;
mod window;
