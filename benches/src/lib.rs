//! hdstream benchmarks.
