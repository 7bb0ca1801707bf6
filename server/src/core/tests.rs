//! The core's unit tests, one file per subject, each on the core alone (the harness in
//! `crate::testing`: the media of `test_media::core_dir`, requests and datagrams as bytes, a
//! fake clock, no sockets). The request handlers' own cases are `control`'s tests.

mod hostile;
mod live;
mod opening;
mod sound;
mod speech;
mod transmit;
