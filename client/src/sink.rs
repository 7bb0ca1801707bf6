//! The sink, on the caller's (main) thread: decoded pictures go on the window, or into the null
//! sink when headless, each at its time; keys, clicks and script steps become commands for the
//! network thread.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::audio::Playhead;
use crate::clock::Clock;
use crate::core::Command;
use crate::decode::{Buffers, Decoded, Picture};
use crate::options::Step;
use crate::overlay::Hud;
use crate::present::{Next, Presenter, SinkStats};
use crate::window::Window;

/// How often the window is serviced when no picture is due.
const PUMP: Duration = Duration::from_millis(16);

/// What the network thread publishes for the title and the overlay.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Presentation length, seconds.
    pub duration: Option<f64>,
    /// Stream frame rate.
    pub fps: Option<f64>,
    /// Packets lost over expected.
    pub loss_rate: f64,
    /// Receive rate, Mbit/s.
    pub mbps: f64,
    /// Media in the cache, seconds.
    pub cache_s: f64,
    /// Frames in the cache.
    pub cache_frames: usize,
    /// Frames lost so far.
    pub frames_lost: u64,
    /// Rebuffers so far.
    pub rebuffers: u64,
    /// Live: the NPT range kept for timeshift, oldest to newest (the live edge).
    pub window: Option<(f64, f64)>,
}

impl Live {
    /// Where the progress bar runs: the file, or what a live stream keeps.
    pub fn range(&self) -> Option<(f64, f64)> {
        self.window
            .or(self.duration.filter(|d| *d > 0.0).map(|d| (0.0, d)))
            .filter(|(a, b)| b > a)
    }
}

/// The sink's ends of the channels.
#[derive(Debug)]
pub struct Ends {
    /// Decoded pictures.
    pub pictures: Receiver<Decoded>,
    /// Where pixel buffers go back.
    pub buffers: Arc<Buffers>,
    /// Commands to the network thread.
    pub commands: Sender<Command>,
    /// Wakes the network thread.
    pub waker: Arc<mio::Waker>,
    /// The playout clock (pause, seek epoch, lateness), shared with the network thread.
    pub clock: Arc<Clock>,
    /// What the audio output plays at a moment (for the audio/video offset).
    pub playhead: Arc<Playhead>,
    /// Live numbers from the network thread.
    pub live: Arc<Mutex<Live>>,
    /// The captions received, drawn at each picture's media time.
    pub captions: crate::captions::Board,
    /// A picture drawn small in the window's corner (a call's near side).
    pub inset: Option<Arc<crate::inset::Inset>>,
}

struct Sink {
    ends: Ends,
    presenter: Presenter,
    window: Option<Window>,
    want_window: bool,
    quit_sent: bool,
    shown_at: VecDeque<Instant>,
    size: (usize, usize),
}

/// Runs the sink until the decoders are done; returns what it measured.
pub fn run(
    ends: Ends,
    want_window: bool,
    mut script: Vec<(Duration, Step)>,
    record: bool,
) -> SinkStats {
    script.sort_by_key(|a| a.0);
    let mut script: VecDeque<(Duration, Step)> = script.into();
    let mut sink = Sink {
        presenter: Presenter::new(Arc::clone(&ends.clock), record)
            .with_playhead(Arc::clone(&ends.playhead)),
        ends,
        window: None,
        want_window,
        quit_sent: false,
        shown_at: VecDeque::new(),
        size: (0, 0),
    };
    let mut first_shown: Option<Instant> = None;
    let mut disconnected = false;
    loop {
        let now = Instant::now();
        let mut steps = Vec::new();
        if let Some(t0) = first_shown {
            while script.front().is_some_and(|(at, _)| now >= t0 + *at) {
                if let Some((_, step)) = script.pop_front() {
                    steps.push(step);
                }
            }
        }
        let range = sink.live().range();
        let paused = sink.presenter.is_paused();
        if let Some(w) = sink.window.as_mut() {
            steps.extend(w.actions(paused, range));
        }
        for step in steps {
            sink.act(step, now);
        }
        let buffers = Arc::clone(&sink.ends.buffers);
        let wait_until = match sink.presenter.poll(now, |p| buffers.give(p.pixels)) {
            Next::Show(picture) => {
                sink.show(picture);
                first_shown.get_or_insert(now);
                continue;
            }
            Next::Wait(t) => t,
            Next::Idle => now + Duration::from_millis(100),
        };
        // Input over (quit, the end, or the network gone): stop once nothing is left to
        // show — and at once while paused, when the pictures held would wait for ever.
        if disconnected && (sink.presenter.queued() == 0 || sink.presenter.is_paused()) {
            break;
        }
        let mut until = wait_until;
        if sink.window.is_some() {
            until = until.min(now + PUMP);
        }
        if let (Some(t0), Some((at, _))) = (first_shown, script.front()) {
            until = until.min(t0 + *at);
        }
        let timeout = until.saturating_duration_since(now);
        if disconnected {
            std::thread::sleep(timeout.min(PUMP));
        } else {
            match sink.ends.pictures.recv_timeout(timeout) {
                Ok(decoded) => {
                    sink.take(decoded);
                    while let Ok(more) = sink.ends.pictures.try_recv() {
                        sink.take(more);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => disconnected = true,
            }
        }
        if sink.window.is_some() {
            let hud = sink.hud(None);
            if let Some(w) = sink.window.as_mut() {
                w.pump(&hud);
            }
        }
    }
    sink.ends.buffers.close();
    sink.presenter.into_stats()
}

impl Sink {
    fn live(&self) -> Live {
        match self.ends.live.lock() {
            Ok(l) => l.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }

    fn take(&mut self, decoded: Decoded) {
        if let Some(p) = self.presenter.push(decoded) {
            self.ends.buffers.give(p.pixels);
        }
    }

    fn send(&mut self, command: Command) {
        if self.quit_sent {
            return;
        }
        self.quit_sent = command == Command::Quit;
        if self.ends.commands.send(command).is_ok() {
            let _ = self.ends.waker.wake();
        }
    }

    fn act(&mut self, step: Step, now: Instant) {
        let live = self.live();
        let duration = live.window.map(|(_, end)| end).or(live.duration);
        match step {
            // The clock stops (and goes on) at once; the network thread then asks the server.
            Step::Pause if !self.ends.clock.is_paused() => {
                self.ends.clock.pause(now);
                self.presenter.pause();
                self.send(Command::Pause);
            }
            Step::Resume if self.ends.clock.is_paused() => {
                self.ends.clock.resume(now);
                self.presenter.resume();
                self.send(Command::Resume);
            }
            Step::Pause | Step::Resume => {}
            Step::SeekBy(delta) => {
                let from = self.presenter.position().unwrap_or(0.0);
                self.seek(from + delta, duration, now);
            }
            Step::SeekTo(to) => self.seek(to, duration, now),
            Step::LiveEdge => {
                let buffers = Arc::clone(&self.ends.buffers);
                let edge = live.window.map_or(f64::MAX, |(_, end)| end);
                self.presenter.seek(edge, now, |p| buffers.give(p.pixels));
                self.send(Command::LiveEdge);
            }
            Step::Quit => self.send(Command::Quit),
        }
    }

    fn seek(&mut self, to: f64, duration: Option<f64>, now: Instant) {
        let to = to.clamp(0.0, duration.unwrap_or(f64::MAX));
        let buffers = Arc::clone(&self.ends.buffers);
        self.presenter.seek(to, now, |p| buffers.give(p.pixels));
        self.send(Command::Seek { to });
    }

    fn show(&mut self, picture: Picture) {
        self.size = (picture.width, picture.height);
        if self.want_window && self.window.is_none() {
            match Window::open(picture.width, picture.height) {
                Ok(w) => self.window = Some(w.with_inset(self.ends.inset.clone())),
                Err(e) => {
                    tracing::warn!("cannot open a window ({e}): playing headless");
                    self.want_window = false;
                }
            }
        }
        if self.window.is_some() {
            let hud = self.hud(Some(picture.stamp.npt));
            if let Some(w) = self.window.as_mut() {
                w.show(&picture, &hud);
            }
        }
        let now = Instant::now();
        self.presenter.shown(&picture, now);
        self.shown_at.push_back(now);
        while self.shown_at.len() > 30 {
            self.shown_at.pop_front();
        }
        self.ends.buffers.give(picture.pixels);
    }

    /// Pictures per second over the last 30 shown.
    fn fps(&self) -> f64 {
        match (self.shown_at.front(), self.shown_at.back()) {
            (Some(a), Some(b)) if b > a => {
                (self.shown_at.len() - 1) as f64 / (*b - *a).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// What the window shows besides the picture; `showing`: the position of the picture about
    /// to be shown (the presenter still holds the one before it).
    fn hud(&self, showing: Option<f64>) -> Hud {
        let live = self.live();
        let stats = self.presenter.stats();
        let position = showing.or(self.presenter.position()).unwrap_or(0.0);
        let clock = |s: f64| format!("{}:{:02}", (s / 60.0) as u64, (s % 60.0) as u64);
        let total = live.duration.map_or_else(|| "?".to_owned(), clock);
        let (w, h) = self.size;
        let title = format!(
            "hdstream - {w}x{h} | {:.1} fps | loss {:.2}% | {:.1} Mbit/s | cache {:.2} s | {} / {}{}",
            self.fps(),
            live.loss_rate * 100.0,
            live.mbps,
            live.cache_s,
            clock(position),
            total,
            if self.presenter.is_paused() {
                " | paused"
            } else {
                ""
            }
        );
        let latency = stats.latency.percentiles();
        let lines = vec![
            format!(
                "{w}x{h}  {:.1} FPS SHOWN  {} STREAM",
                self.fps(),
                live.fps.map_or("?".into(), |f| format!("{f:.1}"))
            ),
            format!(
                "FRAMES SHOWN {}  LATE {}  LOST {}  BAD {}",
                stats.displayed,
                self.ends.clock.late(),
                live.frames_lost,
                stats.undecodable
            ),
            format!(
                "LOSS {:.2}%  {:.1} MBIT/S  CACHE {:.2} S ({} FRAMES)",
                live.loss_rate * 100.0,
                live.mbps,
                live.cache_s,
                live.cache_frames
            ),
            format!(
                "REBUFFERS {}  LATENCY P50 {:.0} MS  P99 {:.0} MS",
                live.rebuffers, latency.p50, latency.p99
            ),
            format!("POSITION {} / {}", clock(position), total),
        ];
        Hud {
            title,
            lines,
            progress: live.range().map(|(a, b)| (position - a) / (b - a)),
            caption: self.ends.captions.text_at(position),
        }
    }
}
