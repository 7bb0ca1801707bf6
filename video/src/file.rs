//! [`MjpegFile`]: an MJPEG file mapped into memory and indexed once at open.

use std::path::{Path, PathBuf};

use hdstream_common::rfc2435::Frame;
use memmap2::Mmap;

use crate::index::{Container, FrameInfo, Index, IndexError, Stats};
use crate::jpeg::{self, Header};
use crate::rfc2435::NotReady;

/// Why a file cannot be opened as MJPEG. Displays as `movie.mjpeg: truncated frame at byte …`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file cannot be opened, its size read, or mapped.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said (in the message, so not also a `source()`).
        error: std::io::Error,
    },
    /// The bytes are not a usable MJPEG stream.
    #[error("{}: {error}", path.display())]
    Index {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset.
        error: IndexError,
    },
}

/// Why one frame cannot be handed to the RFC 2435 packetizer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// There is no frame with that number.
    #[error("no frame {0}")]
    Missing(usize),
    /// The frame's headers cannot be parsed (cannot happen for an indexed frame unless the file
    /// changed under the map).
    #[error("frame {0}: {1}")]
    Header(usize, jpeg::Error),
    /// The frame cannot travel as RFC 2435 payload.
    #[error("frame {0}: {1}")]
    NotReady(usize, NotReady),
}

/// An MJPEG file, memory-mapped, with its frame index. Cheap to share (`Arc<MjpegFile>`): every
/// accessor takes `&self`.
#[derive(Debug)]
pub struct MjpegFile {
    path: PathBuf,
    map: Mmap,
    index: Index,
}

impl MjpegFile {
    /// Maps the file and indexes its frames (see [`Index::build`]).
    pub fn open(path: impl AsRef<Path>) -> Result<MjpegFile, OpenError> {
        let path = path.as_ref().to_path_buf();
        let io = |error| OpenError::Io {
            path: path.clone(),
            error,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            return Err(OpenError::Index {
                path,
                error: IndexError::Empty,
            });
        }
        // SAFETY: the map is only ever read, through `&[u8]`. We assume media files are not
        // modified or truncated while they are served (the media root holds finished files).
        // If one is truncated under us anyway, touching a page past its new end raises SIGBUS
        // and the process dies; if it is rewritten in place, frames change under readers
        // (garbled pictures, and frame parsing re-checks every length, see `header`). Neither
        // can be detected in safe Rust, which is why this is `unsafe`.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let index = Index::build(&map).map_err(|error| OpenError::Index {
            path: path.clone(),
            error,
        })?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Normal);
        Ok(MjpegFile { path, map, index })
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The frame index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Plain or course.
    pub fn container(&self) -> Container {
        self.index.container()
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Never true for an opened file (opening fails without frames).
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Frame `i`'s bytes, SOI through EOI.
    pub fn frame(&self, i: usize) -> Option<&[u8]> {
        self.index.frame(&self.map, i)
    }

    /// Frame `i`'s index entry.
    pub fn info(&self, i: usize) -> Option<&FrameInfo> {
        self.index.get(i)
    }

    /// Frame `i`'s headers, parsed again (cheap: a marker walk).
    pub fn header(&self, i: usize) -> Result<Header<'_>, FrameError> {
        let bytes = self.frame(i).ok_or(FrameError::Missing(i))?;
        let parsed = match self.index.container() {
            Container::Plain => Header::parse(bytes),
            Container::Course => Header::parse_record(bytes),
        };
        parsed.map_err(|e| FrameError::Header(i, e))
    }

    /// Frame `i` as the RFC 2435 packetizer wants it, borrowing the map: sliced by the layout
    /// the index stored, with no parsing (this runs for every frame a server sends).
    pub fn rfc2435_frame(&self, i: usize) -> Result<Frame<'_>, FrameError> {
        let info = self.info(i).ok_or(FrameError::Missing(i))?;
        let layout = info
            .ready
            .as_ref()
            .map_err(|e| FrameError::NotReady(i, *e))?;
        self.frame(i)
            .and_then(|bytes| layout.frame(bytes))
            .ok_or(FrameError::Missing(i))
    }

    /// Sizes across the file.
    pub fn stats(&self) -> Stats {
        self.index.stats()
    }
}
