//! hdstream tools: making and inspecting MJPEG test files.
//!
//! - [`generate`]: what `encode_mjpeg` does (test patterns or conversion, on all cores), callable
//!   from the benchmark harness without spawning the binary.
//! - [`info`]: what `mjpeg_info` prints about a file.
//! - [`parallel`]: ordered parallel production with a bounded reorder window.

pub mod generate;
pub mod info;
pub mod parallel;
