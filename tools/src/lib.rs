//! hdstream tools.
