//! Helpers the caption parsers' tests share.

use std::time::Duration;

use super::Captions;

/// `ms` milliseconds.
pub(super) fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The texts of the cues, in order.
pub(super) fn texts(c: &Captions) -> Vec<&str> {
    c.cues.iter().map(|c| c.text.as_str()).collect()
}
