//! MJPEG media for hdstream.
