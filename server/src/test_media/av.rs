//! Pieces of ffmpeg and GStreamer command lines that the server's and the client's interop tests
//! both run, and what they measure of the sound that comes back.

/// ffmpeg output options: input 0's video copied as it is (the JPEGs unchanged), input 1's sound
/// encoded with `codec` (e.g. `pcm_s16be`, L16 on the wire).
pub fn copy_video_with_sound(codec: &str) -> [&str; 8] {
    ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", codec]
}

/// A GStreamer branch: a live `videotestsrc` ball, 240 frames of 640×360 at 30 fps, JPEG
/// encoded into `pad` (e.g. `s.sink_0` of an `rtspclientsink name=s`).
pub fn ball_jpeg_into(pad: &str) -> [&str; 10] {
    [
        "videotestsrc",
        "pattern=ball",
        "is-live=true",
        "num-buffers=240",
        "!",
        "video/x-raw,format=I420,width=640,height=360,framerate=30/1",
        "!",
        "jpegenc",
        "!",
        pad,
    ]
}

/// The left channel of interleaved stereo `samples`: `frames` sample frames from `skip` in.
pub fn left_channel(samples: &[i16], skip: usize, frames: usize) -> Vec<f64> {
    samples
        .chunks_exact(2)
        .skip(skip)
        .take(frames)
        .map(|s| f64::from(s[0]))
        .collect()
}

/// The frequency of `left` (one channel at 48 kHz) from its upward zero crossings, first to
/// last, interpolated between samples; 0 with fewer than two crossings.
pub fn frequency(left: &[f64]) -> f64 {
    let ups: Vec<f64> = left
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + w[0] / (w[0] - w[1]))
        .collect();
    match (ups.first(), ups.last()) {
        (Some(a), Some(b)) if b > a => (ups.len() - 1) as f64 * 48_000.0 / (b - a),
        _ => 0.0,
    }
}

/// The root mean square of `left`.
pub fn rms(left: &[f64]) -> f64 {
    (left.iter().map(|x| x * x).sum::<f64>() / left.len().max(1) as f64).sqrt()
}
