//! Issue 2's end-to-end check for frames over 2040 px (RFC 2435 §3.1.5-6): a 2560x1440 frame
//! travels with width = height = 0 in every main JPEG header, its SDP announces the real size
//! with `a=x-dimensions:2560,1440` (GStreamer's convention), and a depacketizer told that size
//! by the parsed SDP rebuilds a 2560x1440 JPEG that decodes to exactly the original's pixels.

use hdstream_common::rfc2435::header::MainHeader;
use hdstream_common::rfc2435::{Depacketizer, Output, Packetizer};
use hdstream_common::rtp;
use hdstream_common::sdp::{MjpegStream, SessionDescription};
use hdstream_video::decoder::{Decoder, Packed};
use hdstream_video::jpeg::Header;
use hdstream_video::pattern::Pattern;

#[test]
fn a_1440p_frame_travels_through_x_dimensions_with_its_pixels() {
    let mut jpeg = Vec::new();
    Pattern::new(2560, 1440)
        .encode(42, 80, &mut jpeg)
        .expect("encode");
    let header = Header::parse(&jpeg).expect("parse");
    let frame = hdstream_video::rfc2435::frame(&header).expect("RFC 2435-ready");

    // The server's SDP, and what a client reads back from it.
    let sdp = SessionDescription::mjpeg(&MjpegStream {
        session_id: 1,
        session_version: 1,
        origin_address: "127.0.0.1",
        session_name: "1440p.mjpeg",
        control: "trackID=0",
        duration: Some(10.0),
        live: false,
        framerate: 30.0,
        width: 2560,
        height: 1440,
        rtx: None,
    })
    .to_string();
    assert!(sdp.contains("a=x-dimensions:2560,1440\r\n"), "{sdp}");
    let parsed = SessionDescription::parse(&sdp).expect("SDP parses");
    let (w, h) = parsed
        .jpeg_video()
        .and_then(|m| m.x_dimensions())
        .expect("x-dimensions");
    assert_eq!((w, h), (2560, 1440));

    let mut depacketizer = Depacketizer::new();
    depacketizer.set_dimensions(w as u16, h as u16);
    let mut buf = vec![0u8; 1500];
    let mut count = 0;
    for (i, fragment) in Packetizer::new(&frame, 1360)
        .expect("packetizer")
        .enumerate()
    {
        let (main, _) = MainHeader::parse(fragment.header()).expect("main header");
        assert_eq!(
            (main.width, main.height),
            (0, 0),
            "over 2040 px: size 0 in every packet"
        );
        let header = rtp::Header {
            marker: fragment.marker,
            payload_type: 26,
            sequence_number: 65_500u16.wrapping_add(i as u16),
            timestamp: 90_000,
            ssrc: 0x1234,
        };
        let n = header
            .write(&[fragment.header(), fragment.data], &mut buf)
            .expect("write");
        depacketizer.push(&rtp::Packet::parse(&buf[..n]).expect("parse"));
        count += 1;
    }
    assert!(count > 50, "a 1440p frame takes many packets, got {count}");
    let rebuilt = match depacketizer.pull() {
        Some(Output::Frame(f)) => f,
        other => panic!("expected the frame, got {other:?}"),
    };
    assert_eq!((rebuilt.width, rebuilt.height), (2560, 1440));
    let mut decoder = Decoder::new();
    let original = decoder
        .decode_packed(&jpeg, Packed::Rgb)
        .expect("decode original");
    let received = decoder
        .decode_packed(&rebuilt.data, Packed::Rgb)
        .expect("decode rebuilt");
    assert_eq!((received.width, received.height), (2560, 1440));
    assert!(original.samples == received.samples, "pixels differ");
}
