//! tools's integration tests, one binary (`cargo nextest run -p hdstream-tools`): one module per
//! subject, each the file of its name beside this one; what they share is in `common`.
//! One binary instead of one per file: each linked the whole dependency tree and compiled
//! `common` again (docs/benchmarks.md, "The README's two commands on a fresh clone").

mod common;

mod cli;
mod lip_sync;
mod publish_inputs;
