//! hdstream client.
