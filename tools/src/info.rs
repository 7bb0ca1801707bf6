//! What `mjpeg_info` reports about a file, like ffprobe for our containers.

use hdstream_video::MjpegFile;
use serde::Serialize;

/// One file's description (serialised as a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileInfo {
    /// The path as given.
    pub path: String,
    /// "plain" or "course".
    pub container: &'static str,
    /// Indexed frames.
    pub frames: usize,
    /// Width of the first frame.
    pub width: u16,
    /// Height of the first frame.
    pub height: u16,
    /// Chroma sampling of the first frame ("4:2:0", "4:2:2", "4:4:4", "gray", "other"), or
    /// "mixed" when frames differ.
    pub sampling: String,
    /// Whether frames differ in size.
    pub mixed_sizes: bool,
    /// File size.
    pub bytes: usize,
    /// Mean frame size, SOI through EOI.
    pub mean_frame_bytes: f64,
    /// Largest frame.
    pub max_frame_bytes: usize,
    /// Every frame can travel as RFC 2435 payload.
    pub rfc2435_ready: bool,
    /// The first reason a frame cannot, or null.
    pub not_ready_reason: Option<String>,
    /// Which frame that is, or null.
    pub first_not_ready_frame: Option<usize>,
    /// Stretches of damaged bytes skipped while indexing.
    pub damaged_frames: usize,
    /// The first damage, or null.
    pub first_damage: Option<String>,
}

/// Describes an opened file.
pub fn describe(file: &MjpegFile) -> FileInfo {
    let index = file.index();
    let stats = index.stats();
    let frames = index.frames();
    let first = frames.first();
    let sampling = match first {
        Some(f) if frames.iter().all(|g| g.sampling == f.sampling) => f.sampling.to_string(),
        Some(_) => "mixed".to_owned(),
        None => "none".to_owned(),
    };
    let mixed_sizes = first.is_some_and(|f| {
        frames
            .iter()
            .any(|g| (g.width, g.height) != (f.width, f.height))
    });
    let not_ready = index.first_not_ready();
    FileInfo {
        path: file.path().display().to_string(),
        container: file.container().name(),
        frames: frames.len(),
        width: stats.width,
        height: stats.height,
        sampling,
        mixed_sizes,
        bytes: stats.bytes,
        mean_frame_bytes: (stats.mean_frame_bytes * 10.0).round() / 10.0,
        max_frame_bytes: frames.iter().map(|f| f.len).max().unwrap_or(0),
        rfc2435_ready: not_ready.is_none(),
        not_ready_reason: not_ready.map(|(_, reason)| reason.to_string()),
        first_not_ready_frame: not_ready.map(|(i, _)| i),
        damaged_frames: index.damages().len(),
        first_damage: index.damages().first().map(ToString::to_string),
    }
}
