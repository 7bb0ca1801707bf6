//! Interop with sound: GStreamer's RTSP server (gst-rtsp-server through Debian's python3-gi,
//! `tools/scripts/gst-rtsp-server.py --wav`: rtpjpegpay and rtpL16pay in one media, dynamic
//! payload type 96, packets cut at the MTU rather than by time) serving the pattern clip and
//! its WAV. The
//! client must show every frame and write the sound sample for sample, with the track placed
//! by GStreamer's `RTP-Info` (`url=…/stream=1;seq=…;rtptime=…`). Fails (does not skip) when
//! the peer is missing.

use crate::common;

use common::sound;
use common::{GstServer, logs, media_dir, recording, serial};
use hdstream_client::{Target, play};

/// Starts gst-rtsp-server on the clip and its sound; returns it and the URL to play.
fn gst_server() -> (GstServer, String) {
    let mjpeg = sound::talk();
    let wav = mjpeg.with_extension("wav");
    let args = [
        "--file".as_ref(),
        mjpeg.as_os_str(),
        "--wav".as_ref(),
        wav.as_os_str(),
    ];
    GstServer::start(&sound::FPS.to_string(), &args)
}

#[test]
fn plays_sound_and_pictures_from_gst_rtsp_server() {
    logs();
    let _serial = serial();
    let (_server, url) = gst_server();
    let out = media_dir().join(format!("played-gst-{}.wav", std::process::id()));
    let mut options = recording(Target::Url(url));
    options.audio_out = Some(out.clone());
    let report = play(&options).expect("plays from gst-rtsp-server");
    eprintln!("{report}");
    let (rate, samples) = sound::read_wav(&out);
    let _ = std::fs::remove_file(&out);
    sound::assert_clean_run(&report, &samples, rate, "gst-rtsp-server");
    assert_eq!(
        report.audio.audio_format.as_deref(),
        Some("L16/48000/2 (PT 96)")
    );
}
