//! Interop with GStreamer's RTSP server (gst-rtsp-server through Debian's python3-gi, payloader
//! rtpjpegpay, run by `tools/scripts/gst-rtsp-server.py`): the client plays a 720p and a 1440p
//! stream — the latter with width/height 0 in every RTP/JPEG header and the size only in
//! `a=x-dimensions` — showing every frame, and the pixels of frame k equal zune-jpeg's decoding
//! of frame k of the file; and `filesrc ! jpegparse ! rtpjpegpay`, which stamps every frame
//! alike and sends the whole file at once, played at a frame rate all the same. Fails (does
//! not skip) when the peer is missing.

use crate::common;

use std::ffi::OsStr;
use std::path::Path;

use common::{GstServer, file_checksums, pattern_file, recording, serial};
use hdstream_client::{Target, play};

/// Starts gst-rtsp-server on `file`; returns it and the URL to play.
fn gst_server(file: &Path, fps: u32) -> (GstServer, String) {
    gst_server_with(file, fps, &[])
}

/// Starts gst-rtsp-server on `file` with more of the script's options.
fn gst_server_with(file: &Path, fps: u32, more: &[&str]) -> (GstServer, String) {
    let mut args: Vec<&OsStr> = more.iter().map(OsStr::new).collect();
    args.extend(["--file".as_ref(), file.as_os_str()]);
    GstServer::start(&fps.to_string(), &args)
}

fn plays_every_frame_from_gst(width: u16, height: u16) {
    let _serial = serial();
    let file = pattern_file(width, height, 60);
    let (_server, url) = gst_server(&file, 30);
    let options = recording(Target::Url(url.clone()));
    let report = play(&options).expect("plays from gst-rtsp-server");
    assert_eq!(
        (report.width, report.height),
        (u32::from(width), u32::from(height))
    );
    common::assert_every_frame_delivered(&report, 60, "every frame");
    assert_eq!(report.frames_undecodable, 0);
    // Not faster than the stream (slower is the machine's: four tests on two cores).
    assert!(
        report.fps_displayed < 31.0,
        "shown at the stream's rate, not faster: {}",
        report.fps_displayed
    );
    assert_eq!(
        report.displayed_checksums,
        file_checksums(&file),
        "frame k's pixels are frame k's"
    );
}

#[test]
fn plays_a_720p_stream_from_gst_rtsp_server() {
    plays_every_frame_from_gst(1280, 720);
}

#[test]
fn plays_a_1440p_stream_from_gst_rtsp_server_through_x_dimensions() {
    plays_every_frame_from_gst(2560, 1440);
}

/// A sender that stamps no time (`filesrc ! jpegparse ! rtpjpegpay`): all 300 frames of a
/// 720p file with one RTP timestamp, in a fraction of a second. Each marker still ends a
/// frame; with no `a=framerate` and no pace to follow (a burst), they are shown at the
/// default 30 fps, in order, and the report says the timestamps were unusable. Over TCP, so
/// the kernel's UDP buffer does not decide how many of the burst's packets survive.
#[test]
fn plays_a_sender_whose_frames_carry_no_timestamps() {
    let _serial = serial();
    let file = pattern_file(1280, 720, 300);
    let (_server, url) = gst_server_with(&file, 30, &["--untimed"]);
    let mut options = recording(Target::Url(url));
    options.transport = hdstream_client::LowerTransport::Tcp;
    let report = play(&options).expect("plays from gst-rtsp-server");
    eprintln!("{report}");
    assert!(report.timestamps_unusable, "{report}");
    assert!(
        report.frames_displayed >= 285,
        "{} of 300 frames shown",
        report.frames_displayed
    );
    assert_eq!(report.frames_undecodable, 0);
    // Not in a burst (slower is the machine's: four tests on two cores).
    assert!(
        report.fps_displayed < 31.0,
        "shown at 30 fps, not in a burst: {}",
        report.fps_displayed
    );
    common::assert_shown_in_order(&file, &report, "untimed gst-rtsp-server");
}

/// gst-rtsp-server with retransmission (AVPF, `rtx-time` 1000 ms) behind the relay dropping 2 %
/// of the packets: the client takes the offer up (SETUP in RTP/AVPF, which that server
/// insists on), NACKs what is missing, merges GStreamer's RTX packets (own SSRC, announced
/// nowhere but by their payload type) and shows nearly every frame — far more than without
/// repair on the same seeded loss — each pixel for pixel the file's.
#[test]
fn repairs_loss_from_gst_rtsp_server_with_retransmission() {
    let _serial = serial();
    let file = pattern_file(640, 360, 150);
    let truth = file_checksums(&file);
    let mut shown = Vec::new();
    for repair in [true, false] {
        let (_server, url) = gst_server_with(&file, 30, &["--rtx-time", "1000"]);
        let rest = url.strip_prefix("rtsp://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap();
        let relay = hdstream_tools::relay::start(
            authority.parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            "loss=2%".parse().unwrap(),
            9,
            None,
        )
        .unwrap();
        let mut options = recording(Target::Url(format!("rtsp://{relay}/{path}")));
        options.repair = repair;
        let report = play(&options).expect("plays from gst-rtsp-server through the relay");
        eprintln!("repair {repair}:\n{report}");
        for (npt, sum) in report.displayed_npt.iter().zip(&report.displayed_checksums) {
            let k = (npt * 30.0).round() as usize;
            assert_eq!(Some(sum), truth.get(k), "frame {k} intact");
        }
        if repair {
            assert!(report.packets_repaired > 20, "{report}");
        }
        shown.push(report.frames_displayed);
    }
    eprintln!(
        "gst-rtsp-server through 2 % loss: {} frames with repair, {} without",
        shown[0], shown[1]
    );
    assert!(shown[0] >= 147, "at least 98 % with repair: {shown:?}");
    assert!(shown[0] > shown[1], "{shown:?}");
}
