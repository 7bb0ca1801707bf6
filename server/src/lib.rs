//! hdstream server.
