//! Arbitrary text as SDP: parsing must not panic, and whatever parses must serialize to text
//! that parses back to an equal description. The accessors a player uses must not panic either.

#![no_main]

use hdstream_common::sdp::SessionDescription;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sd = match SessionDescription::parse(text) {
        Ok(sd) => sd,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = SessionDescription::parse(&sd.to_string())
        .unwrap_or_else(|e| panic!("own output of {sd:?} does not parse: {e}"));
    assert_eq!(again, sd);

    let _ = (
        sd.control(),
        sd.range(),
        sd.duration(),
        sd.aggregate_url("rtsp://h/a"),
    );
    for m in &sd.media {
        let _ = (
            m.control_url("rtsp://h:554/a"),
            m.control_url(""),
            m.jpeg_payload_type(),
            m.framerate(),
            m.x_dimensions(),
            m.rtpmaps().count(),
        );
        if let Some(pt) = m.jpeg_payload_type() {
            let _ = (m.rtx_for(pt), m.accepts_nack(pt), m.fmtp(pt).count());
            let _ = m.clock_rate(pt);
        }
    }
    let _ = sd.jpeg_video();
});
