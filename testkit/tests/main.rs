//! testkit's integration tests, one binary (`cargo nextest run -p hdstream-testkit`): one module per
//! subject, each the file of its name beside this one.
//! One binary instead of one per file: each linked the whole dependency tree and compiled
//! `common` again (docs/benchmarks.md, "The README's two commands on a fresh clone").

mod auth;
mod conceal;
mod control;
mod course;
mod loss;
mod playback;
mod properties;
mod publish;
mod repair;
mod timeout;
