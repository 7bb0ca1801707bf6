//! Decode threads: JPEG frames in, RGBA pictures out, into pixel buffers that go round and
//! round (bounded: a fixed number of them exists at any time).
//!
//! zune-jpeg decodes one frame on one thread, so more throughput means more threads, each with
//! its own frame. One thread starts and measures every [`SAMPLE`] frames; when decoding takes
//! more than [`BUSY_SHARE`] of the frame interval, it starts a second. One thread busy half the
//! time keeps up on average, but not through the occasional slow frame (measured: at 1440p60,
//! 8.5 ms per frame in the debug build, a single thread let one frame in a few runs be late).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hdstream_video::decoder::Decoder;

use crate::clock::Clock;
use crate::playout::{Release, Stamp};
use crate::stats::Histogram;

/// A second thread starts when decoding (median over [`SAMPLE`] frames) takes more than this
/// share of the frame interval.
pub const BUSY_SHARE: f64 = 0.35;
/// Frames measured for each decision.
pub const SAMPLE: u64 = 15;
/// The largest picture decoded (8K UHD). A larger frame is counted undecodable, so a hostile
/// stream cannot make each pixel buffer take a gigabyte.
pub const MAX_PIXELS: usize = 7680 * 4320;

/// A frame to decode: the playout's release, its [`Stamp`] travelling on unchanged.
pub type Job = Release;

/// A decoded frame.
#[derive(Debug)]
pub struct Picture {
    /// Its times and place, as released.
    pub stamp: Stamp,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// RGBA bytes, one `u32` a pixel, row-major, `width * height` of them (as the decoder
    /// writes them: the window converts what it shows to `0x00RRGGBB` while scaling,
    /// `hdstream_video::decoder::rgba_to_0rgb`).
    pub pixels: Vec<u32>,
}

/// What a decode thread hands on.
#[derive(Debug)]
pub enum Decoded {
    /// A picture to show.
    Picture(Picture),
    /// A frame that did not decode (counted, never shown).
    Failed {
        /// Its epoch.
        epoch: u64,
    },
}

/// The pixel buffers: at most `max` exist; the sink gives them back.
#[derive(Debug)]
pub struct Buffers {
    free: Receiver<Vec<u32>>,
    give_back: Sender<Vec<u32>>,
    allocated: AtomicUsize,
    max: usize,
    closed: AtomicBool,
}

impl Buffers {
    /// A pool that allows `max` buffers.
    pub fn new(max: usize) -> Arc<Buffers> {
        let (give_back, free) = crossbeam_channel::unbounded();
        Arc::new(Buffers {
            free,
            give_back,
            allocated: AtomicUsize::new(0),
            max: max.max(1),
            closed: AtomicBool::new(false),
        })
    }

    /// A buffer: a free one, a new one while fewer than `max` exist, else waits for one.
    /// `None` once the pool is closed.
    pub fn take(&self) -> Option<Vec<u32>> {
        if let Ok(buf) = self.free.try_recv() {
            return Some(buf);
        }
        if self.allocated.fetch_add(1, Ordering::SeqCst) < self.max {
            return Some(Vec::new());
        }
        self.allocated.fetch_sub(1, Ordering::SeqCst);
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            match self.free.recv_timeout(Duration::from_millis(50)) {
                Ok(buf) => return Some(buf),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Gives a buffer back.
    pub fn give(&self, buf: Vec<u32>) {
        let _ = self.give_back.send(buf);
    }

    /// No more buffers will be given back: waiting threads stop waiting.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

/// What the decode threads measured.
#[derive(Debug, Clone, Default)]
pub struct DecodeStats {
    /// Time to decode one frame.
    pub decode: Histogram,
    /// Frames decoded.
    pub decoded: u64,
    /// Frames that failed to decode.
    pub undecodable: u64,
    /// Threads that ran.
    pub threads: usize,
}

/// The running decode threads.
#[derive(Debug)]
pub struct Pool {
    handles: Arc<Mutex<Vec<JoinHandle<DecodeStats>>>>,
}

/// Everything a decode thread needs.
#[derive(Debug, Clone)]
struct Worker {
    jobs: Receiver<Job>,
    out: Sender<Decoded>,
    buffers: Arc<Buffers>,
    jpegs: Sender<Vec<u8>>,
    clock: Arc<Clock>,
    handles: Arc<Mutex<Vec<JoinHandle<DecodeStats>>>>,
    max_threads: usize,
}

impl Pool {
    /// Starts `threads` decode threads, or one that adds a second when needed (`None`).
    /// Jobs of an epoch older than the `clock`'s are skipped; used JPEG buffers go back on
    /// `jpegs`.
    pub fn spawn(
        jobs: Receiver<Job>,
        out: Sender<Decoded>,
        buffers: Arc<Buffers>,
        jpegs: Sender<Vec<u8>>,
        clock: Arc<Clock>,
        threads: Option<usize>,
    ) -> Pool {
        let handles = Arc::new(Mutex::new(Vec::new()));
        let worker = Worker {
            jobs,
            out,
            buffers,
            jpegs,
            clock,
            handles: Arc::clone(&handles),
            max_threads: threads.unwrap_or(2).max(1),
        };
        let start = threads.unwrap_or(1).max(1);
        for _ in 0..start {
            worker.start(threads.is_none());
        }
        Pool { handles }
    }

    /// Waits for every thread (they end when the job channel closes) and adds up what they
    /// measured.
    pub fn join(self) -> DecodeStats {
        let mut total = DecodeStats::default();
        loop {
            let handle = match self.handles.lock() {
                Ok(mut h) => h.pop(),
                Err(_) => None,
            };
            let Some(handle) = handle else { break };
            if let Ok(stats) = handle.join() {
                total.decode.merge(&stats.decode);
                total.decoded += stats.decoded;
                total.undecodable += stats.undecodable;
                total.threads += 1;
            }
        }
        total
    }
}

impl Worker {
    fn start(&self, adaptive: bool) {
        let worker = self.clone();
        let mut handles = match self.handles.lock() {
            Ok(h) => h,
            Err(e) => e.into_inner(),
        };
        let index = handles.len();
        let spawned = std::thread::Builder::new()
            .name(format!("hdstream-decode-{index}"))
            .spawn(move || worker.run(adaptive && index == 0));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => tracing::warn!(error = %e, "cannot start a decode thread"),
        }
    }

    fn run(self, adaptive: bool) -> DecodeStats {
        let mut decoder = Decoder::new().with_max_pixels(MAX_PIXELS);
        let mut stats = DecodeStats::default();
        let mut sample = Histogram::new();
        let mut decided = !adaptive;
        while let Ok(job) = self.jobs.recv() {
            let stamp = job.stamp;
            if stamp.epoch < self.clock.epoch() {
                let _ = self.jpegs.try_send(job.jpeg);
                continue;
            }
            let Some(mut pixels) = self.buffers.take() else {
                break;
            };
            let started = Instant::now();
            // One parse of the frame header, in the decoder, with one size limit.
            let result = decoder
                .decode_rgba(&job.jpeg, &mut pixels)
                .map_err(|e| e.to_string());
            let took = started.elapsed();
            let _ = self.jpegs.try_send(job.jpeg);
            let decoded = match result {
                Ok(dims) => {
                    stats.decoded += 1;
                    stats.decode.record(took);
                    sample.record(took);
                    Decoded::Picture(Picture {
                        stamp,
                        width: dims.width,
                        height: dims.height,
                        pixels,
                    })
                }
                Err(e) => {
                    tracing::warn!(npt = stamp.npt, error = %e, "frame does not decode");
                    stats.undecodable += 1;
                    self.buffers.give(pixels);
                    Decoded::Failed { epoch: stamp.epoch }
                }
            };
            if self.out.send(decoded).is_err() {
                break;
            }
            if !decided && sample.len() >= SAMPLE {
                let p50 = sample.percentiles().p50 / 1000.0;
                sample = Histogram::new();
                let share = p50 / stamp.late_after.as_secs_f64().max(1e-3);
                let threads = self.handles.lock().map_or(1, |h| h.len());
                decided = threads >= self.max_threads;
                if share > BUSY_SHARE && !decided {
                    decided = true;
                    tracing::info!(
                        decode_ms = p50 * 1000.0,
                        frame_ms = stamp.late_after.as_secs_f64() * 1000.0,
                        "decoding takes {:.0}% of the frame interval: starting a second decode thread",
                        share * 100.0
                    );
                    self.start(false);
                }
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(epoch: u64, jpeg: Vec<u8>) -> Job {
        let now = Instant::now();
        Job {
            stamp: Stamp {
                epoch,
                timestamp: 0,
                npt: 0.0,
                due: now,
                arrival: now,
                captured: None,
                late_after: Duration::from_millis(33),
            },
            jpeg,
            concealed: None,
        }
    }

    #[test]
    fn frames_decode_and_bad_ones_are_counted_not_shown() {
        let mut jpeg = Vec::new();
        hdstream_video::pattern::Pattern::new(64, 32)
            .encode(3, 80, &mut jpeg)
            .unwrap();
        let (job_tx, job_rx) = crossbeam_channel::bounded(4);
        let (out_tx, out_rx) = crossbeam_channel::bounded(4);
        let (jpeg_tx, jpeg_rx) = crossbeam_channel::bounded(4);
        let buffers = Buffers::new(2);
        let clock = Arc::new(Clock::new());
        clock.seek(Instant::now());
        let pool = Pool::spawn(
            job_rx,
            out_tx,
            Arc::clone(&buffers),
            jpeg_tx,
            clock,
            Some(1),
        );
        job_tx.send(job(1, jpeg.clone())).unwrap();
        job_tx
            .send(job(1, b"\xFF\xD8 not a jpeg".to_vec()))
            .unwrap();
        job_tx.send(job(0, jpeg.clone())).unwrap();
        drop(job_tx);
        let Decoded::Picture(p) = out_rx.recv().unwrap() else {
            panic!("picture first")
        };
        assert_eq!((p.width, p.height, p.pixels.len()), (64, 32, 64 * 32));
        assert!(matches!(
            out_rx.recv().unwrap(),
            Decoded::Failed { epoch: 1 }
        ));
        let stats = pool.join();
        assert!(out_rx.try_recv().is_err(), "the stale epoch was skipped");
        assert_eq!((stats.decoded, stats.undecodable, stats.threads), (1, 1, 1));
        assert_eq!(jpeg_rx.try_iter().count(), 3, "every JPEG buffer came back");
    }

    #[test]
    fn oversized_frames_are_refused_before_decoding() {
        let mut jpeg = Vec::new();
        hdstream_video::pattern::Pattern::new(64, 32)
            .encode(0, 80, &mut jpeg)
            .unwrap();
        let mut decoder = Decoder::new().with_max_pixels(MAX_PIXELS);
        let mut pixels = Vec::new();
        assert!(decoder.decode_rgba(&jpeg, &mut pixels).is_ok());
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0x27, 0x10, 0x27, 0x10]); // 10000 x 10000
        let mut untouched = Vec::new();
        let refused = decoder.decode_rgba(&jpeg, &mut untouched).unwrap_err();
        assert!(refused.to_string().contains("10000x10000"), "{refused}");
        assert!(untouched.is_empty(), "refused before any pixel memory");
        assert!(decoder.decode_rgba(b"\xFF\xD8", &mut untouched).is_err());
    }

    #[test]
    fn the_buffer_pool_is_bounded() {
        let buffers = Buffers::new(2);
        let a = buffers.take().unwrap();
        let _b = buffers.take().unwrap();
        buffers.give(a);
        assert!(buffers.take().is_some(), "a given-back buffer is reused");
        buffers.close();
        assert!(buffers.take().is_none(), "none left and closed: no wait");
    }
}
