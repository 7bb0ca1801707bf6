//! Arbitrary bytes as an AVI file (`hdstream_video::container::avi`): demuxing must not
//! panic; every frame and sound packet it finds must lie inside the file, and an error must name
//! an offset inside it. The frames then go through the JPEG index as the server's open does
//! (the checks are `shared/container.rs`, the same for every container).

#![no_main]

#[path = "shared/container.rs"]
mod container;

use hdstream_video::Container;
use hdstream_video::container::avi;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    container::check(data, avi::demux(data), Container::Avi);
});
