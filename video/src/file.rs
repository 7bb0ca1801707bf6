//! [`MjpegFile`]: an MJPEG file mapped into memory and indexed once at open.

use std::path::{Path, PathBuf};

use hdstream_common::rfc2435::Frame;
use memmap2::Mmap;

use crate::container::{self, Kind};
use crate::index::{Container, FrameInfo, Index, IndexError, Stats};
use crate::jpeg::{self, Header};
use crate::rfc2435::NotReady;

/// Why a file cannot be opened as MJPEG. Displays as `movie.mjpeg: truncated frame at byte …`
/// or `clip.mkv: Matroska: element Cluster of 4096 bytes runs past the end … at byte 1234`.
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
    /// Another process has the file open for writing: it is being written (served files are
    /// opened only when nobody writes them, see [`MjpegFile::open_served`]).
    #[error("{}: being written by another process", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not a usable MJPEG stream.
    #[error("{}: {error}", path.display())]
    Index {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset.
        error: IndexError,
    },
    /// A Matroska or AVI file that cannot be read ([`crate::container`]).
    #[error("{}: {error}", path.display())]
    Container {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset.
        error: container::Error,
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

/// How a file's bytes are kept from changing under readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Mapped, nothing held: a truncation under the map is fatal (SIGBUS). For short-lived
    /// readers (the tools) of files nobody writes.
    None,
    /// Mapped under a read lease (Linux `F_SETLEASE`): a process that opens the file for
    /// writing or truncates it waits until the holder lets go, and the holder is told (SIGIO,
    /// then [`MjpegFile::lease_broken`]).
    Lease,
    /// Copied into memory of our own (the file system or the file's owner allows no lease).
    Copy,
}

/// Files larger than this are not copied when no lease can be had: they are mapped unguarded.
pub const MAX_COPY: u64 = 1 << 30;

/// An MJPEG file, memory-mapped, with its frame index. Cheap to share (`Arc<MjpegFile>`): every
/// accessor takes `&self`.
#[derive(Debug)]
pub struct MjpegFile {
    path: PathBuf,
    map: Mmap,
    index: Index,
    guard: Guard,
    /// Held open while leased (the lease belongs to this open file).
    leased: Option<std::fs::File>,
    /// (device, inode) of what was opened.
    identity: (u64, u64),
    /// A container's frame rate and sound (Matroska, AVI); `None` for bare JPEGs.
    timing: Option<Timing>,
}

/// What a container says beside its frames.
#[derive(Debug)]
struct Timing {
    fps: f64,
    sound: Option<container::Sound>,
    sound_refused: Option<String>,
}

impl MjpegFile {
    /// Maps the file and indexes its frames (see [`Index::build`]), unguarded ([`Guard::None`]):
    /// for a reader done before anyone would change the file.
    pub fn open(path: impl AsRef<Path>) -> Result<MjpegFile, OpenError> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens a file to serve for as long as it takes: under a read lease ([`Guard::Lease`]), or
    /// where none can be had, copied into memory ([`Guard::Copy`], up to [`MAX_COPY`] bytes).
    /// A file open for writing elsewhere is [`OpenError::Busy`].
    ///
    /// The caller must handle SIGIO (whose default action ends the process) before calling
    /// this: the kernel signals a lease break with it. Then [`MjpegFile::lease_broken`] says
    /// which file, and dropping it lets the writer go on.
    pub fn open_served(path: impl AsRef<Path>) -> Result<MjpegFile, OpenError> {
        Self::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, served: bool) -> Result<MjpegFile, OpenError> {
        let path = path.to_path_buf();
        let io = |error| OpenError::Io {
            path: path.clone(),
            error,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        let mut guard = Guard::None;
        if served {
            match lease::take(&file) {
                Ok(()) => guard = Guard::Lease,
                Err(e) if e.raw_os_error() == Some(lease::BUSY) => {
                    return Err(OpenError::Busy { path });
                }
                Err(_) => guard = Guard::Copy,
            }
        }
        // Read after the lease: from here on the size cannot change under us.
        let meta = file.metadata().map_err(io)?;
        if meta.len() == 0 {
            return Err(OpenError::Index {
                path,
                error: IndexError::Empty,
            });
        }
        if guard == Guard::Copy && meta.len() > MAX_COPY {
            guard = Guard::None;
        }
        let map = match guard {
            Guard::Copy => copy(&file, meta.len()).map_err(io)?,
            // SAFETY: the map is only ever read, through `&[u8]`. Under a lease nobody can open
            // the file for writing or truncate it until we let go, and we let go (drop the
            // file) only with the map. Unguarded (tools, or a file too large to copy where no
            // lease can be had), a truncation under the map raises SIGBUS on a page past the
            // new end, and a rewrite changes frames under readers (frame parsing re-checks
            // every length, see `header`); neither can be detected in safe Rust.
            _ => unsafe { Mmap::map(&file) }.map_err(io)?,
        };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let index_error = |error| OpenError::Index {
            path: path.clone(),
            error,
        };
        let kind = Kind::sniff(&map).or_else(|| Kind::by_extension(&path));
        let (index, timing) = match kind {
            None => (Index::build(&map).map_err(index_error)?, None),
            Some(kind) => {
                let demuxed = match kind {
                    Kind::Matroska => container::matroska::demux(&map),
                    Kind::Avi => container::avi::demux(&map),
                }
                .map_err(|error| OpenError::Container {
                    path: path.clone(),
                    error,
                })?;
                let container = match kind {
                    Kind::Matroska => Container::Matroska,
                    Kind::Avi => Container::Avi,
                };
                let index =
                    Index::from_frames(&map, container, &demuxed.frames).map_err(index_error)?;
                let timing = Timing {
                    fps: demuxed.fps,
                    sound: demuxed.sound,
                    sound_refused: demuxed.sound_refused,
                };
                (index, Some(timing))
            }
        };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Normal);
        Ok(MjpegFile {
            path,
            map,
            index,
            guard,
            identity: identity(&meta),
            timing,
            leased: (guard == Guard::Lease).then_some(file),
        })
    }

    /// How the bytes are guarded.
    pub fn guard(&self) -> Guard {
        self.guard
    }

    /// Whether another process wants to write or truncate the file (its lease is being
    /// broken): drop every reference to it soon, and do not read it meanwhile longer than
    /// needed (the kernel ends the lease by force after `/proc/sys/fs/lease-break-time`).
    pub fn lease_broken(&self) -> bool {
        self.leased.as_ref().is_some_and(lease::broken)
    }

    /// Whether `meta` (of the path, now) is the file that was opened.
    pub fn is(&self, meta: &std::fs::Metadata) -> bool {
        identity(meta) == self.identity
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

    /// Plain, course, Matroska or AVI.
    pub fn container(&self) -> Container {
        self.index.container()
    }

    /// The frame rate the container gives (Matroska, AVI); `None` for bare JPEGs, which have
    /// none.
    pub fn fps(&self) -> Option<f64> {
        self.timing.as_ref().map(|t| t.fps)
    }

    /// The container's sound (Matroska, AVI), when it has a track this crate reads; its packets
    /// are byte ranges of [`MjpegFile::bytes`].
    pub fn sound(&self) -> Option<&container::Sound> {
        self.timing.as_ref()?.sound.as_ref()
    }

    /// Why the container's sound track is not read (its codec, its sample size), if it has one
    /// that is not.
    pub fn sound_refused(&self) -> Option<&str> {
        self.timing.as_ref()?.sound_refused.as_deref()
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
            Container::Course => Header::parse_record(bytes),
            Container::Plain | Container::Matroska | Container::Avi => Header::parse(bytes),
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

/// (device, inode): what a path names.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        (0, meta.len())
    }
}

/// `len` bytes of `file` in memory of our own.
fn copy(file: &std::fs::File, len: u64) -> std::io::Result<Mmap> {
    use std::io::Read;
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut memory = memmap2::MmapMut::map_anon(len)?;
    let mut reader = file;
    reader.read_exact(&mut memory)?;
    memory.make_read_only()
}

/// Read leases (Linux `fcntl(2)` `F_SETLEASE`, `F_GETLEASE`).
#[cfg(target_os = "linux")]
mod lease {
    use std::os::fd::AsRawFd;

    /// The error of a lease refused because the file is open for writing.
    pub const BUSY: i32 = libc::EAGAIN;

    /// Takes a read lease on `file`, its SIGIO addressed to the whole process: the kernel
    /// addresses it to the thread that takes the lease, and a server that opens files on a
    /// thread of their own (which then ends) would never hear of a lease break.
    pub fn take(file: &std::fs::File) -> std::io::Result<()> {
        // SAFETY: fcntl on a descriptor `file` owns, with integer arguments only.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        if r == -1 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as above; getpid cannot fail.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETOWN, libc::getpid()) };
        if r == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether the lease on `file` is being broken (or gone).
    pub fn broken(file: &std::fs::File) -> bool {
        // SAFETY: fcntl on a descriptor `file` owns, no pointer arguments.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLEASE) };
        r != libc::F_RDLCK
    }
}

/// No leases here: served files are copied.
#[cfg(not(target_os = "linux"))]
mod lease {
    /// Never returned.
    pub const BUSY: i32 = -1;

    pub fn take(_file: &std::fs::File) -> std::io::Result<()> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }

    pub fn broken(_file: &std::fs::File) -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn clip(name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("hdstream-lease-{name}-{}", std::process::id()));
        let jpegs = crate::pattern::frames(64, 48, 3, 80).unwrap();
        std::fs::write(&path, crate::pattern::plain(&jpegs)).unwrap();
        path
    }

    #[test]
    fn a_file_open_for_writing_is_busy() {
        let path = clip("busy");
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let err = MjpegFile::open_served(&path).unwrap_err();
        assert!(matches!(err, OpenError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("being written"));
        drop(writer);
        let file = MjpegFile::open_served(&path).unwrap();
        assert_eq!((file.guard(), file.len()), (Guard::Lease, 3));
        assert!(file.is(&std::fs::metadata(&path).unwrap()));
        drop(file);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_writer_waits_until_the_file_is_dropped_and_the_holder_is_told() {
        // SAFETY: sets SIGIO (the lease-break signal) to be ignored; no handler runs.
        unsafe { libc::signal(libc::SIGIO, libc::SIG_IGN) };
        let path = clip("break");
        let file = MjpegFile::open_served(&path).unwrap();
        assert!(!file.lease_broken());
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, done) = (path.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                std::fs::write(&path, b"truncated").unwrap();
                done.store(true, Ordering::SeqCst);
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !file.lease_broken() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(file.lease_broken(), "the holder is told");
        assert!(!done.load(Ordering::SeqCst), "the writer waits");
        // The bytes are still all there while it waits.
        assert_eq!(file.frame(2).map(|f| &f[..2]), Some(&[0xFF, 0xD8][..]));
        drop(file);
        writer.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
        assert_eq!(std::fs::read(&path).unwrap(), b"truncated");
        std::fs::remove_file(&path).unwrap();
    }

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
}
