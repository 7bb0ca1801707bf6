//! The media the server offers: files opened, mapped and indexed, and how an RTSP URL names one of
//! them.
//!
//! Only MJPEG files below the media root are ever served — bare JPEGs (`.mjpeg`), or MJPEG video
//! with sound in Matroska (`.mkv`) or AVI (`.avi`) as ffmpeg writes them: `..` segments are
//! refused outright (403), and anything else — absolute paths, symlinks that lead out of the
//! root — is simply not found (404). The files are indexed at start-up, and looked at again when a DESCRIBE or SETUP names one
//! ([`Catalogue::check`]): a file added since is opened, one deleted is no longer offered, one
//! replaced (renamed over) is opened anew — sessions playing the old one go on with it. The
//! server opens those off its loop: `check` only `stat`s and answers a [`Job`], which the driver
//! runs on a thread of its own, and [`Catalogue::install`] takes the result.
//!
//! Files are held under a read lease ([`hdstream_video::file::Guard`]): a process that truncates
//! or rewrites one waits until the server lets go, and the server is told (SIGIO). The driver then
//! calls [`crate::core::Server::media_changed`]: sessions on the file end (RTCP BYE), the file is
//! dropped (the writer goes on), and the next request that names it sees it as it now is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hdstream_video::file::Guard;
use hdstream_video::{Container, MjpegFile};

use hdstream_common::text::Cue;

use crate::captions;
use crate::sound::Sound;

/// Extensions (case-insensitive) the catalogue picks up when it walks a media directory.
const EXTENSIONS: [&str; 5] = ["mjpeg", "mjpg", "mjp", "mkv", "avi"];
/// How deep below the root the walk goes.
const MAX_DEPTH: usize = 8;
/// The longest URL path the server looks up (longer ones are 414-like: we answer 400).
pub const MAX_PATH: usize = 4096;

/// One servable file.
#[derive(Debug)]
pub struct Media {
    /// Its name in URLs: the path below the root, `/`-separated.
    pub name: String,
    /// The mapped, indexed file.
    pub file: MjpegFile,
    /// Frames per second it is played at.
    pub fps: f64,
    /// `None` when every frame can travel as RFC 2435; else the first reason one cannot.
    pub not_ready: Option<String>,
    /// Its sound (the container's, or a WAV file beside it), sent as a second track.
    pub sound: Option<Sound>,
    /// Its captions (a WebVTT or SRT file beside it), sent as T.140 text; `None` without.
    pub captions: Option<Vec<Cue>>,
}

impl Media {
    /// Duration in seconds at its frame rate.
    pub fn duration(&self) -> f64 {
        self.file.len() as f64 / self.fps
    }
}

/// A file under the root that is not served, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it is not served.
    pub reason: String,
}

/// Why a URL names no servable file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The URL cannot be read (bad percent-encoding, NUL byte, too long).
    #[error("malformed URL path: {0}")]
    Malformed(&'static str),
    /// The path tries to climb out of the media root.
    #[error("path leaves the media root")]
    Forbidden,
    /// No such file in the catalogue.
    #[error("no such media: {0}")]
    NotFound(String),
}

/// The files the server offers, by URL name.
#[derive(Debug, Default, Clone)]
pub struct Catalogue {
    entries: BTreeMap<String, Arc<Media>>,
    /// Where names are looked for: the media root directory, or the one file served.
    origin: Option<Origin>,
    fps: FpsPolicy,
}

/// Where a catalogue's files come from.
#[derive(Debug, Clone)]
enum Origin {
    /// Every MJPEG file below this (canonical) directory.
    Root(PathBuf),
    /// One file, served under one name.
    File { name: String, path: PathBuf },
}

/// How frame rates are chosen: a `--fps-for` override, else the container's own rate (Matroska,
/// AVI: their sound is timed by it), else `--fps`, else 30 (the course's rate for its files).
#[derive(Debug, Clone, Default)]
pub struct FpsPolicy {
    /// `--fps`: the rate for every file without a rate of its own, when given.
    pub fps: Option<f64>,
    /// `--fps-for NAME=FPS` overrides, by URL name or file name.
    pub overrides: Vec<(String, f64)>,
}

impl FpsPolicy {
    fn fps_for(&self, name: &str, container: Container, own: Option<f64>) -> f64 {
        let file_name = name.rsplit('/').next().unwrap_or(name);
        self.overrides
            .iter()
            .find(|(n, _)| n == name || n == file_name)
            .map(|&(_, fps)| fps)
            .or(own)
            .or(self.fps)
            .unwrap_or(match container {
                Container::Course => hdstream_common::course::FPS,
                _ => 30.0,
            })
    }
}

impl Catalogue {
    /// Opens `path`: every MJPEG file below it when it is a directory, or the one file (served
    /// under its file name).
    pub fn open(path: &Path, fps: &FpsPolicy) -> std::io::Result<(Catalogue, Vec<Skipped>)> {
        survive_lease_breaks()?;
        let mut catalogue = Catalogue {
            fps: fps.clone(),
            ..Catalogue::default()
        };
        let mut skipped = Vec::new();
        let meta = std::fs::metadata(path)?;
        if meta.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            catalogue.origin = Some(Origin::File {
                name: name.clone(),
                path: path.to_path_buf(),
            });
            catalogue.add(name, path, &mut skipped);
            return Ok((catalogue, skipped));
        }
        let root = path.canonicalize()?;
        let mut files = Vec::new();
        walk(&root, &root, 0, &mut files, &mut skipped);
        files.sort();
        for (name, file) in files {
            catalogue.add(name, &file, &mut skipped);
        }
        catalogue.origin = Some(Origin::Root(root));
        Ok((catalogue, skipped))
    }

    /// Looks again at the file `url` names (DESCRIBE, SETUP): forgets it if it is gone, and
    /// answers the [`Job`] that opens it when it is new or was replaced or dropped since
    /// (`None`: what the catalogue holds is current). Only `stat`s: opening a large file takes
    /// a while, so the driver runs the job away from its loop and the core
    /// [`Catalogue::install`]s what it opened. Sessions keep what they play.
    pub fn check(&mut self, url: &str) -> Option<Job> {
        let Ok(segments) = url_segments(url) else {
            return None;
        };
        // The name with and without a track control at its end.
        let names = [
            segments.join("/"),
            segments[..segments.len().saturating_sub(1)].join("/"),
        ];
        for name in names {
            if name.is_empty() {
                continue;
            }
            let Some(path) = self.path_of(&name) else {
                continue;
            };
            let current = self.entries.get(&name);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    if current.is_some_and(|m| m.file.is(&meta) && !m.file.lease_broken()) {
                        return None;
                    }
                    return Some(Job {
                        name,
                        path,
                        fps: self.fps.clone(),
                    });
                }
                _ => {
                    if self.entries.remove(&name).is_some() {
                        tracing::info!(file = %path.display(), "media file gone: no longer offered");
                    }
                }
            }
        }
        None
    }

    /// Takes in what a [`Job`] opened: the file is offered under its name (replacing what was
    /// there), or, when it could not be opened, no longer offered.
    pub fn install(&mut self, opened: Opened) {
        let Opened { name, path, media } = opened;
        let was = self.entries.remove(&name).is_some();
        match media {
            Ok(media) => {
                if was {
                    tracing::info!(file = %path.display(), "media file changed: opened it again");
                }
                self.entries.insert(name, media);
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "not served");
            }
        }
    }

    /// The file a URL name stands for, when it may be served: the one file, or an MJPEG file
    /// whose real path is inside the root.
    fn path_of(&self, name: &str) -> Option<PathBuf> {
        match self.origin.as_ref()? {
            Origin::File { name: n, path } => (n == name).then(|| path.clone()),
            Origin::Root(root) => {
                let path = root.join(name);
                let is_media = is_media(&path);
                let depth = name.split('/').count();
                let inside = match path.canonicalize() {
                    Ok(real) => real.starts_with(root),
                    // Gone: it names nothing to open, but its entry may need forgetting.
                    Err(_) => true,
                };
                (is_media && inside && depth <= MAX_DEPTH + 1).then_some(path)
            }
        }
    }

    /// Drops the files whose lease is being broken (another process truncates or rewrites
    /// them) and answers their names: end the sessions playing them, so the writer can go on.
    pub fn retire_broken(&mut self) -> Vec<String> {
        let broken: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, m)| m.file.lease_broken())
            .map(|(name, _)| name.clone())
            .collect();
        for name in &broken {
            self.entries.remove(name);
            tracing::info!(name = %name, "media file being changed by another process: let go");
        }
        broken
    }

    fn add(&mut self, name: String, path: &Path, skipped: &mut Vec<Skipped>) {
        match open_media(name.clone(), path, &self.fps) {
            Ok(media) => {
                self.entries.insert(name, Arc::new(media));
            }
            Err(reason) => skipped.push(Skipped {
                path: path.to_path_buf(),
                reason,
            }),
        }
    }

    /// Every servable file, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Media>> {
        self.entries.values()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is served.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The media a request URL names, and the track control that followed its name, if any
    /// (`rtsp://h/a/b.mjpeg/trackID=0` → (`a/b.mjpeg`, `Some("trackID=0")`)). Accepts absolute
    /// `rtsp://` URLs, absolute paths and the course client's bare file names (RFC 2326 §3.2).
    pub fn lookup(&self, url: &str) -> Result<(&Arc<Media>, Option<String>), LookupError> {
        let segments = url_segments(url)?;
        let full = segments.join("/");
        if let Some(media) = self.entries.get(&full) {
            return Ok((media, None));
        }
        if let Some((track, rest)) = segments.split_last()
            && let Some(media) = self.entries.get(&rest.join("/"))
        {
            return Ok((media, Some(track.clone())));
        }
        Err(LookupError::NotFound(full))
    }
}

/// Opening one file for the catalogue, the slow part of taking in a new file: it maps and
/// indexes the whole file, which for a large one takes seconds, so the driver runs it away
/// from its loop ([`Catalogue::check`] says which file) and the core takes the result
/// ([`Catalogue::install`]).
#[derive(Debug, Clone)]
pub struct Job {
    /// The file's URL name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    fps: FpsPolicy,
}

/// What a [`Job`] opened: the media, or why the file is not served.
#[derive(Debug)]
pub struct Opened {
    /// The file's URL name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The media, or why it is not served.
    pub media: Result<Arc<Media>, String>,
}

impl Job {
    /// Opens, maps and indexes the file (blocking: seconds for a large file). A panic while
    /// opening (a bug a file provoked) is an answer too — the file is not served — so the
    /// requests waiting for it are answered and a later one may try again.
    pub fn run(self) -> Opened {
        let media = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            open_media(self.name.clone(), &self.path, &self.fps)
        }))
        .unwrap_or_else(|_| Err("opening it failed (a panic: see the log)".into()))
        .map(Arc::new);
        Opened {
            name: self.name,
            path: self.path,
            media,
        }
    }
}

/// Opens, maps and indexes `path` as the media called `name`, with its sound and captions.
fn open_media(name: String, path: &Path, fps: &FpsPolicy) -> Result<Media, String> {
    let file = MjpegFile::open_served(path).map_err(|e| e.to_string())?;
    if file.guard() == Guard::None {
        tracing::warn!(
            file = %path.display(),
            "no read lease and too large to copy: changing this file while it is \
             served will end the server"
        );
    }
    let fps = fps.fps_for(&name, file.container(), file.fps());
    let not_ready = file
        .index()
        .first_not_ready()
        .map(|(i, why)| format!("frame {i}: {why}"));
    if let Some(why) = file.sound_refused() {
        tracing::warn!(file = %path.display(), %why, "its sound track is not served");
    }
    let own = file.sound().map(|sound| {
        Sound::from_container(file.bytes(), sound)
            .map_err(|why| format!("{}: {why}", path.display()))
    });
    let beside = || Sound::beside(path).map(|wav| Sound::open(&wav));
    let sound = match own.or_else(beside) {
        Some(Ok(sound)) => Some(sound),
        Some(Err(why)) => {
            tracing::warn!(file = %path.display(), %why, "its sound is not served");
            None
        }
        None => None,
    };
    let captions = captions::beside(path).and_then(|file| {
        captions::open(&file)
            .inspect_err(|why| {
                tracing::warn!(file = %path.display(), %why, "its captions are not served");
            })
            .ok()
    });
    Ok(Media {
        name,
        file,
        fps,
        not_ready,
        sound,
        captions,
    })
}

/// Makes SIGIO harmless in this process, once: the kernel sends it when a served file's read
/// lease is being broken, and its default action ends the process. (Drivers also listen for it
/// to let go of the file, see [`crate::driver`].)
fn survive_lease_breaks() -> std::io::Result<()> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGIO, seen)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(std::io::Error::other)
}

/// The decoded path segments of a request URL, with `..` refused.
pub fn url_segments(url: &str) -> Result<Vec<String>, LookupError> {
    if url.len() > MAX_PATH {
        return Err(LookupError::Malformed("path too long"));
    }
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path)?;
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(LookupError::Forbidden),
            s if s.contains('\\') && s.split('\\').any(|p| p == "..") => {
                return Err(LookupError::Forbidden);
            }
            s => segments.push(s.to_owned()),
        }
    }
    Ok(segments)
}

/// RFC 3986 §2.1 percent-decoding into UTF-8; NUL bytes are refused.
fn percent_decode(s: &str) -> Result<String, LookupError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(LookupError::Malformed("truncated %-escape"))?;
            let hex =
                std::str::from_utf8(hex).map_err(|_| LookupError::Malformed("bad %-escape"))?;
            let b =
                u8::from_str_radix(hex, 16).map_err(|_| LookupError::Malformed("bad %-escape"))?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return Err(LookupError::Malformed("NUL byte in path"));
    }
    String::from_utf8(out).map_err(|_| LookupError::Malformed("path is not UTF-8"))
}

/// Whether `path` has one of the [`EXTENSIONS`].
fn is_media(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Collects MJPEG files below `dir` as (URL name, path); symlinks are followed only while they
/// stay inside `root`.
fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    files: &mut Vec<(String, PathBuf)>,
    skipped: &mut Vec<Skipped>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(real) = path.canonicalize() else {
            continue;
        };
        if !real.starts_with(root) {
            skipped.push(Skipped {
                path,
                reason: "leads out of the media root".into(),
            });
            continue;
        }
        if real.is_dir() {
            if depth < MAX_DEPTH && real != *root {
                walk(root, &path, depth + 1, files, skipped);
            }
            continue;
        }
        if !is_media(&path) {
            continue;
        }
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        files.push((name, path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_of_every_url_form() {
        let s = |u| url_segments(u).unwrap();
        assert_eq!(s("rtsp://127.0.0.1:8554/a/b.mjpeg"), ["a", "b.mjpeg"]);
        assert_eq!(s("rtsp://h/b.mjpeg/trackID=0"), ["b.mjpeg", "trackID=0"]);
        assert_eq!(s("movie.Mjpeg"), ["movie.Mjpeg"]);
        assert_eq!(s("/x%20y.mjpeg?foo=1"), ["x y.mjpeg"]);
        assert_eq!(s("rtsp://h"), Vec::<String>::new());
    }

    #[test]
    fn traversal_and_garbage_are_refused() {
        assert_eq!(
            url_segments("rtsp://h/../etc/passwd"),
            Err(LookupError::Forbidden)
        );
        assert_eq!(
            url_segments("rtsp://h/%2e%2e/x"),
            Err(LookupError::Forbidden)
        );
        assert_eq!(
            url_segments("rtsp://h/%2E%2E%2Fx"),
            Err(LookupError::Forbidden)
        );
        assert_eq!(
            url_segments("rtsp://h/a/..\\..\\x"),
            Err(LookupError::Forbidden)
        );
        assert!(matches!(
            url_segments("rtsp://h/a%00b"),
            Err(LookupError::Malformed(_))
        ));
        assert!(matches!(
            url_segments("rtsp://h/a%zz"),
            Err(LookupError::Malformed(_))
        ));
        assert!(matches!(
            url_segments("rtsp://h/a%"),
            Err(LookupError::Malformed(_))
        ));
        assert!(matches!(
            url_segments("rtsp://h/%ff"),
            Err(LookupError::Malformed(_))
        ));
        let long = format!("rtsp://h/{}", "a".repeat(10_000));
        assert!(matches!(
            url_segments(&long),
            Err(LookupError::Malformed(_))
        ));
    }

    #[test]
    fn fps_policy_order() {
        let p = FpsPolicy {
            fps: Some(25.0),
            overrides: vec![("x/a.mjpeg".into(), 60.0)],
        };
        assert_eq!(p.fps_for("x/a.mjpeg", Container::Plain, None), 60.0);
        assert_eq!(p.fps_for("b.mjpeg", Container::Course, None), 25.0);
        assert_eq!(p.fps_for("b.mkv", Container::Matroska, Some(24.0)), 24.0);
        assert_eq!(p.fps_for("x/a.mjpeg", Container::Avi, Some(24.0)), 60.0);
        let d = FpsPolicy::default();
        assert_eq!(
            d.fps_for("b.mjpeg", Container::Course, None),
            hdstream_common::course::FPS
        );
        assert_eq!(d.fps_for("b.mjpeg", Container::Plain, None), 30.0);
    }
}
