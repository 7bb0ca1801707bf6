//! The window under Xvfb, driven like a user drives it: the client binary plays into a minifb
//! window on a virtual X display whose framebuffer Xvfb keeps in an XWD file (`-fbdir`), and
//! xdotool presses its keys, clicks its control bar's buttons and seek bar, and resizes it.
//!
//! The picture on screen is read back from that file. At the stream's own size (640×360, one
//! screen pixel per picture pixel) it is exactly the client's decoding of one frame of the file,
//! so the tests name the frame on screen by its pixels (the test pattern numbers every frame
//! differently); seeks and pauses are checked on screen and in the client's `--stats-json`
//! report, and the TEARDOWN in the server's own log.
//!
//! Needs Debian's `xvfb` and `xdotool`: under CI (`CI` set) the tests fail when they are
//! missing; elsewhere they are skipped with a message.

use crate::common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use common::{Server, cached, media_dir, pattern_file, serial, sound};
use hdstream_client::controls::Layout;
use hdstream_client::overlay::{self, BAR_HEIGHT};
use hdstream_client::present::pixel_checksum;
use hdstream_testkit::xvfb::{Geometry, Xvfb, have, run_bounded, screenshot, wait_until};
use hdstream_video::decoder::{Decoder, Packed};
use hdstream_video::pattern::BARS;

/// The stream the key and click tests play: 30 s at 20 fps, 640×360 (the window's own size).
const WIDTH: usize = 640;
const HEIGHT: usize = 360;
const FPS: f64 = 20.0;
const FRAMES: u64 = 600;
const SECONDS: f64 = FRAMES as f64 / FPS;
/// Rows of the picture above the control bar (the bar is drawn over the picture's bottom).
const ROWS: usize = HEIGHT - BAR_HEIGHT;

fn rgb(p: u32) -> [i32; 3] {
    [
        (p >> 16) as i32 & 255,
        (p >> 8) as i32 & 255,
        p as i32 & 255,
    ]
}

/// The file the key and click tests play, and each frame's number by the checksum of its
/// decoded picture above the progress bar (built once per test process).
fn stream() -> (PathBuf, &'static HashMap<u64, u64>) {
    static FRAME_OF: OnceLock<HashMap<u64, u64>> = OnceLock::new();
    let file = pattern_file(WIDTH as u16, HEIGHT as u16, FRAMES);
    let map = FRAME_OF.get_or_init(|| {
        let media = hdstream_video::MjpegFile::open(&file).unwrap();
        let mut decoder = Decoder::new();
        let mut pixels = Vec::new();
        let map: HashMap<u64, u64> = (0..media.len())
            .map(|i| {
                decoder
                    .decode_0rgb(media.frame(i).unwrap(), &mut pixels)
                    .unwrap();
                (pixel_checksum(&pixels[..WIDTH * ROWS]), i as u64)
            })
            .collect();
        assert_eq!(map.len() as u64, FRAMES, "every frame looks different");
        map
    });
    (file, map)
}

/// Frame `n` of `file` as the client decodes it (RGBA pixels, which the window scales).
fn decoded(file: &Path, n: u64) -> Vec<u32> {
    let media = hdstream_video::MjpegFile::open(file).unwrap();
    let mut pixels = Vec::new();
    Decoder::new()
        .decode_rgba(media.frame(n as usize).unwrap(), &mut pixels)
        .unwrap();
    pixels
}

// ---------------------------------------------------------------------------------------------
// The server's log: it names every request it answered and every session that ended.

static SERVER_LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        SERVER_LOG
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Collects the in-process server's info lines (the test process's only subscriber: nextest
/// runs each test in a process of its own).
fn capture_server_log() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::level_filters::LevelFilter::TRACE)
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .finish()
            .with(hdstream_common::logs::parse("hdstream_server=info").unwrap_or_default())
            .try_init();
    });
}

fn server_log() -> String {
    String::from_utf8_lossy(&SERVER_LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// The value of `key=` in a log line (quotes removed).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let value = line[at..].split(' ').next()?;
    Some(value.trim_matches('"'))
}

// ---------------------------------------------------------------------------------------------
// The player: the client binary in a window, driven with xdotool.

/// `hdstream-client` playing into a window on `x`, killed on drop.
struct Player<'x> {
    x: &'x Xvfb,
    child: Option<Child>,
    window: String,
    stats: PathBuf,
    stderr: PathBuf,
}

impl Drop for Player<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.stats);
        let _ = std::fs::remove_file(&self.stderr);
    }
}

impl<'x> Player<'x> {
    /// Starts playing `url` and waits for its window.
    fn start(x: &'x Xvfb, url: &str, name: &str) -> Player<'x> {
        Player::start_with(x, url, name, &[])
    }

    /// [`Player::start`] with more arguments for the client.
    fn start_with(x: &'x Xvfb, url: &str, name: &str, more: &[&str]) -> Player<'x> {
        let tmp = std::env::temp_dir();
        let id = format!("hdstream-window-{}-{name}", std::process::id());
        let stats = tmp.join(format!("{id}.json"));
        let stderr = tmp.join(format!("{id}.stderr"));
        let _ = std::fs::remove_file(&stats);
        let child = Command::new(env!("CARGO_BIN_EXE_hdstream-client"))
            .arg(url)
            // A ceiling: every test quits long before.
            .args(["--duration", "25", "--stats-json"])
            .arg(&stats)
            // The sound is checked in the --audio-out WAV; the machine stays silent.
            .arg("--no-audio-device")
            .args(more)
            .env("DISPLAY", &x.display)
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut player = Player {
            x,
            child: Some(child),
            window: String::new(),
            stats,
            stderr,
        };
        let search = ["search", "--sync", "--onlyvisible", "--name", "^hdstream"];
        let found = x
            .try_xdotool(&search, Duration::from_secs(10))
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        let Some(window) = found.lines().next() else {
            let stderr = std::fs::read_to_string(&player.stderr).unwrap_or_default();
            panic!("no window within 10 s; the client said:\n{stderr}");
        };
        player.window = window.trim().to_owned();
        player
    }

    /// Presses and releases `key` (an X keysym name) in the window, as xdotool types: a tap
    /// of a few milliseconds.
    fn key(&self, key: &str) {
        self.x.xdotool(&["key", "--window", &self.window, key]);
    }

    /// [`Player::key`] for a key that closes the window: the release may find it gone
    /// (xdotool then fails with BadWindow), which is no error.
    fn last_key(&self, key: &str) {
        let tap = ["key", "--window", &self.window, key];
        let _ = self.x.try_xdotool(&tap, Duration::from_secs(5));
    }

    /// A left click at window coordinates (`x`, `y`), held for 100 ms (see
    /// `a_click_on_the_seek_bar_seeks_there`).
    fn click(&self, x: usize, y: usize) {
        let (x, y) = (x.to_string(), y.to_string());
        self.x.xdotool(&[
            "mousemove",
            "--window",
            &self.window,
            &x,
            &y,
            "mousedown",
            "1",
        ]);
        std::thread::sleep(Duration::from_millis(100));
        self.x.xdotool(&["mouseup", "1"]);
    }

    fn resize(&self, w: usize, h: usize) {
        let (w, h) = (w.to_string(), h.to_string());
        self.x.xdotool(&["windowsize", &self.window, &w, &h]);
    }

    fn title(&self) -> String {
        self.x
            .xdotool(&["getwindowname", &self.window])
            .trim()
            .to_owned()
    }

    /// Where the window is on the screen, and its size.
    fn geometry(&self) -> Geometry {
        let out = self
            .x
            .xdotool(&["getwindowgeometry", "--shell", &self.window]);
        let value = |key: &str| -> usize {
            out.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{key} in {out}"))
        };
        Geometry {
            x: value("X"),
            y: value("Y"),
            w: value("WIDTH"),
            h: value("HEIGHT"),
        }
    }

    /// The window's pixels now.
    fn picture(&self) -> (Geometry, Vec<u32>) {
        screenshot(&self.x.screen_file(), Some(self.geometry()))
    }

    /// The number of the frame on screen (the window at the stream's size), if one whole
    /// frame is there.
    fn frame(&self, frame_of: &HashMap<u64, u64>) -> Option<u64> {
        let (g, pixels) = self.picture();
        assert_eq!(
            (g.w, g.h),
            (WIDTH, HEIGHT),
            "the window at the stream's size"
        );
        frame_of
            .get(&pixel_checksum(&pixels[..WIDTH * ROWS]))
            .copied()
    }

    /// Waits for a frame on screen that `accept` accepts.
    fn wait_frame(
        &self,
        frame_of: &HashMap<u64, u64>,
        what: &str,
        accept: impl Fn(u64) -> bool,
    ) -> u64 {
        wait_until(Duration::from_secs(5), what, || {
            self.frame(frame_of).filter(|&n| accept(n))
        })
    }

    /// Waits (at most 5 s) for the stream to play: frame 10 or later on screen, which it
    /// answers.
    fn wait_playing(&self, frame_of: &HashMap<u64, u64>) -> u64 {
        self.wait_frame(frame_of, "playing", |n| n >= 10)
    }

    /// Waits (at most 2 s) for the title to say paused, or, with `paused` false, not to;
    /// `what` names the wait in a failure.
    fn wait_paused(&self, paused: bool, what: &str) {
        wait_until(Duration::from_secs(2), what, || {
            (self.title().ends_with("| paused") == paused).then_some(())
        });
    }

    /// Waits for the client to end (at most `timeout`): its exit status and its report.
    fn finish(&mut self, timeout: Duration) -> (ExitStatus, serde_json::Value) {
        let child = self.child.as_mut().unwrap();
        let status = wait_until(timeout, "the client exits", || child.try_wait().unwrap());
        self.child = None;
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        eprintln!("{stderr}");
        let report = std::fs::read_to_string(&self.stats)
            .unwrap_or_else(|e| panic!("the stats JSON at exit ({e}); stderr:\n{stderr}"));
        (status, serde_json::from_str(&report).unwrap())
    }

    /// Q, then the report of a clean exit.
    fn quit(&mut self) -> serde_json::Value {
        self.last_key("q");
        let (status, report) = self.finish(Duration::from_secs(5));
        assert!(status.success(), "{status}");
        report
    }
}

/// The report's one pause (asserted the only one): the last frame before it and the frame it
/// resumed with, in seconds.
#[track_caller]
fn the_pause(report: &serde_json::Value) -> (f64, f64) {
    let pauses = report["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 1, "{report}");
    (
        seconds(&pauses[0]["last_frame_s"]),
        seconds(&pauses[0]["resumed_frame_s"]),
    )
}

fn seconds(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// Sets up one key test: Xvfb, the server of [`stream`], the player at its first frames.
macro_rules! setup {
    ($x:ident, $server:ident, $frame_of:ident) => {
        let _one_at_a_time = serial();
        let Some($x) = Xvfb::start() else { return };
        if !have("xdotool", "xdotool") {
            return;
        }
        let (file, $frame_of) = stream();
        capture_server_log();
        let $server = Server::start(&file, FPS);
    };
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn the_window_shows_the_stream_scaled_to_fit() {
    let _one_at_a_time = serial();
    let Some(x) = Xvfb::start() else { return };
    let file = pattern_file(1920, 1080, 300);
    let server = Server::start(&file, 30.0);
    let client = Command::new(env!("CARGO_BIN_EXE_hdstream-client"))
        .args([&server.url, "--duration", "4"])
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (screen_size, screen) = screenshot(&x.screen_file(), None);
    let (sw, sh) = (screen_size.w, screen_size.h);
    let output = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("playing headless"),
        "a window was opened: {stderr}"
    );

    // The window's picture: the bounding box of what is not the black root window.
    let (mut left, mut top, mut right, mut bottom) = (sw, sh, 0, 0);
    for y in 0..sh {
        for x in 0..sw {
            if screen[y * sw + x] != 0 {
                left = left.min(x);
                right = right.max(x);
                top = top.min(y);
                bottom = bottom.max(y);
            }
        }
    }
    assert!(right > left && bottom > top, "the screen is all black");
    let (w, h) = (right - left + 1, bottom - top + 1);
    // 1920x1080 scaled to fit 1280x720 (the progress bar is part of the picture area).
    assert_eq!((w, h), (1280, 720), "window content at ({left}, {top})");

    // The top quarter is the pattern's colour bars; compare with the decoded frame, scaled.
    let jpeg = hdstream_video::MjpegFile::open(&file)
        .unwrap()
        .frame(0)
        .unwrap()
        .to_vec();
    let decoded = Decoder::new().decode_packed(&jpeg, Packed::Rgb).unwrap();
    let mut total = 0i64;
    let mut n = 0i64;
    for (i, bar) in BARS.iter().enumerate() {
        let x = left + (2 * i + 1) * w / 16;
        let y = top + h / 8;
        let shown = rgb(screen[y * sw + x]);
        let fx = (x - left) * 1920 / w;
        let fy = (y - top) * 1080 / h;
        let expected = decoded.pixel(fx, fy).unwrap();
        for c in 0..3 {
            let d = (shown[c] - i32::from(expected[c])).abs();
            assert!(
                d < 24,
                "bar {i}: screen {shown:?}, frame {expected:?}, pattern {bar:?}"
            );
            total += i64::from(d);
            n += 1;
        }
    }
    eprintln!(
        "bars: mean difference {:.1} per channel",
        total as f64 / n as f64
    );
    // Most of the picture is not black.
    let lit = (top..=bottom)
        .flat_map(|y| (left..=right).map(move |x| (x, y)))
        .filter(|&(x, y)| screen[y * sw + x] != 0)
        .count();
    assert!(lit * 10 > w * h * 8, "{lit} of {} pixels lit", w * h);
}

/// Space pauses: the picture stands still (and no frame is shown meanwhile); Space again
/// plays on from the next frame.
#[test]
fn space_pauses_the_picture_and_space_again_resumes_it() {
    setup!(x, server, frame_of);
    let mut player = Player::start(&x, &server.url, "space");
    player.wait_playing(frame_of);

    player.key("space");
    player.wait_paused(true, "the title says paused");
    let (_, before) = player.picture();
    let held_from = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    let (_, after) = player.picture();
    let held = held_from.elapsed();
    let differ = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} pixels changed while paused");
    let paused_on = player.frame(frame_of).expect("a whole frame on screen");

    player.key("space");
    let next = player.wait_frame(frame_of, "playing again", |n| n > paused_on);
    player.wait_paused(false, "the title says playing");
    // Played on from where it stood, not from where the server's clock would be.
    assert!(next <= paused_on + 20, "paused on {paused_on}, then {next}");
    let report = player.quit();

    let (last, resumed) = the_pause(&report);
    assert!(
        (last - paused_on as f64 / FPS).abs() < 1e-6,
        "the client's last frame before the pause ({last} s) is the one on screen ({paused_on})"
    );
    assert!(
        (resumed - last - 1.0 / FPS).abs() < 1e-6,
        "resumed with the next frame: {last} then {resumed}"
    );
    // No picture at all while paused: one interval between two pictures spans the pause.
    let longest = seconds(&report["display_interval_ms"]["max"]);
    assert!(
        longest >= held.as_secs_f64() * 1000.0,
        "the longest time without a new picture, {longest} ms, covers the {held:?} watched"
    );
}

/// Right, Left and Home seek +10 s, −10 s and to the start: the frame on screen jumps there,
/// and the client's report shows each seek's target and its first frame.
#[test]
fn right_left_and_home_seek() {
    setup!(x, server, frame_of);
    let mut player = Player::start(&x, &server.url, "seek");
    let mut on = player.wait_playing(frame_of);
    // The frame on screen before each key; the seek starts from there or a frame or two on.
    let mut before = Vec::new();
    let steps_per_10s = (10.0 * FPS) as u64;
    for (key, delta) in [("Right", 10), ("Right", 10), ("Left", -10), ("Home", 0)] {
        before.push(on);
        let target = match delta {
            10 => on + steps_per_10s,
            -10 => on.saturating_sub(steps_per_10s),
            _ => 0,
        };
        player.key(key);
        // Until the seek lands the screen shows frames just after `on`, outside this range.
        on = player.wait_frame(frame_of, &format!("{key} on screen"), |n| {
            (target..target + 40).contains(&n)
        });
        eprintln!("{key}: frame {} then {on}", before.last().unwrap());
    }
    let report = player.quit();

    let seeks = report["seeks"].as_array().unwrap();
    assert_eq!(seeks.len(), 4, "{report}");
    for (i, (seek, delta)) in seeks.iter().zip([10.0, 10.0, -10.0, 0.0]).enumerate() {
        let target = seconds(&seek["target_s"]);
        if delta == 0.0 {
            assert_eq!(target, 0.0, "Home: {seek}");
        } else {
            let from = before[i] as f64 / FPS;
            assert!(
                (from + delta - 1e-6..from + delta + 1.0).contains(&target),
                "{delta:+} s from frame {}: {seek}",
                before[i]
            );
        }
        let first = seconds(&seek["first_frame_s"]);
        assert!(
            (first - target).abs() <= 1.0 / FPS + 1e-6,
            "the first frame after the seek is the target's: {seek}"
        );
    }
}

/// A click on the seek bar at x % of its width seeks to x % of the stream; a click on the
/// picture above it does nothing.
///
/// The button is held for 100 ms, as a hand holds it: minifb reports only whether the button
/// is down when the window is updated (every 16 ms at most), so a shorter click can fall
/// between two updates and be missed.
#[test]
fn a_click_on_the_seek_bar_seeks_there() {
    setup!(x, server, frame_of);
    let mut player = Player::start(&x, &server.url, "click");
    player.wait_playing(frame_of);
    // The picture, well above the bar.
    player.click(WIDTH / 2, HEIGHT / 2);
    std::thread::sleep(Duration::from_millis(300));

    let bar = Layout::new((WIDTH, HEIGHT));
    let mut shown = Vec::new();
    let mut fractions = Vec::new();
    for wanted in [0.75, 0.25] {
        let x = bar.seek.x + (wanted * bar.seek.w as f64) as usize;
        // The fraction of the seek bar at that pixel.
        let fraction = bar.fraction(x);
        fractions.push(fraction);
        player.click(x, bar.seek.y + bar.seek.h / 2);
        let target = (fraction * FRAMES as f64) as u64;
        let n = player.wait_frame(frame_of, "the clicked place on screen", |n| {
            (target..target + 30).contains(&n)
        });
        shown.push(n);
    }
    let report = player.quit();

    let seeks = report["seeks"].as_array().unwrap();
    assert_eq!(seeks.len(), 2, "only the clicks on the bar seek: {report}");
    for (seek, fraction) in seeks.iter().zip(fractions) {
        let target = seconds(&seek["target_s"]);
        assert!(
            (target - fraction * SECONDS).abs() < 1e-6,
            "a click at {fraction} of the bar: {seek}"
        );
        let first = seconds(&seek["first_frame_s"]);
        assert!((first - target).abs() <= 1.0 / FPS + 1e-6, "{seek}");
    }
    eprintln!("after the clicks, frames {shown:?} on screen");
}

/// S puts the statistics overlay over the picture's top left (the picture darkened, white
/// text on it) and S again takes it away.
#[test]
fn s_toggles_the_statistics_overlay() {
    setup!(x, server, frame_of);
    let mut player = Player::start(&x, &server.url, "overlay");
    player.wait_playing(frame_of);
    // Paused, the picture stands still: what changes is the overlay.
    player.key("space");
    player.wait_paused(true, "paused");
    std::thread::sleep(Duration::from_millis(200));
    // The picture above the progress bar (the bar shows the position as of the last redraw).
    let above_bar = || {
        let (_, mut pixels) = player.picture();
        pixels.truncate(WIDTH * ROWS);
        pixels
    };
    let plain = above_bar();
    assert!(player.frame(frame_of).is_some(), "no overlay at first");

    player.key("s");
    let with = wait_until(Duration::from_secs(2), "the overlay on screen", || {
        Some(above_bar()).filter(|now| *now != plain)
    });
    let (mut right, mut bottom, mut white) = (0, 0, 0);
    for (i, (&was, &is)) in plain.iter().zip(&with).enumerate() {
        if was == is {
            continue;
        }
        let (x, y) = (i % WIDTH, i / WIDTH);
        right = right.max(x);
        bottom = bottom.max(y);
        if is == 0x00FF_FFFF {
            white += 1;
        } else {
            assert_eq!(
                is,
                (was >> 2) & 0x003F_3F3F,
                "at ({x}, {y}) the overlay darkens the picture"
            );
        }
    }
    // Five lines of text at scale 2, 4-pixel padding: a box from the top left corner.
    let panel_rows = 5 * overlay::line_height(2) + 2 * 4 * 2;
    assert_eq!(bottom + 1, panel_rows, "the overlay's height");
    assert!(right >= 200, "the overlay is {} pixels wide", right + 1);
    assert!(white > 500, "{white} pixels of white text");

    player.key("s");
    wait_until(Duration::from_secs(2), "the overlay gone", || {
        (above_bar() == plain).then_some(())
    });
    player.quit();
}

/// Q and Esc end the session with a TEARDOWN and quit at once, with exit status 0 and the
/// statistics written.
#[test]
fn q_and_esc_tear_down_and_quit() {
    setup!(x, server, frame_of);
    let port = format!(":{}/", server.addr().port());
    for key in ["q", "Escape"] {
        let mut player = Player::start(&x, &server.url, key);
        player.wait_playing(frame_of);
        let pressed = Instant::now();
        player.last_key(key);
        let (status, report) = player.finish(Duration::from_secs(5));
        let took = pressed.elapsed();
        assert!(status.success(), "{key}: {status}");
        assert!(took < Duration::from_secs(3), "{key}: quit after {took:?}");
        assert!(seconds(&report["frames_displayed"]) >= 10.0, "{report}");
        // Our server answered a TEARDOWN for this session and ended it for that reason.
        let log = server_log();
        let teardowns: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&port) && field(l, "method") == Some("TEARDOWN"))
            .collect();
        let Some(last) = teardowns.last() else {
            panic!("{key}: no TEARDOWN in the server's log:\n{log}")
        };
        assert_eq!(field(last, "status"), Some("200"), "{last}");
        let session = field(last, "session").unwrap();
        assert!(
            log.lines().any(|l| l.contains("session ended")
                && field(l, "session") == Some(session)
                && field(l, "reason") == Some("teardown")),
            "{key}: session {session} ended by its TEARDOWN:\n{log}"
        );
    }
    assert_eq!(
        server_log()
            .lines()
            .filter(|l| l.contains(&port) && field(l, "method") == Some("TEARDOWN"))
            .count(),
        2,
        "one TEARDOWN per quit"
    );
}

/// A resize while paused redraws the paused picture at the new size (letterboxed when the
/// aspect differs), not a blank window until the next frame.
#[test]
fn a_resize_while_paused_redraws_the_picture_at_the_new_size() {
    setup!(x, server, frame_of);
    let (file, _) = stream();
    let mut player = Player::start(&x, &server.url, "resize");
    player.wait_playing(frame_of);
    player.key("space");
    player.wait_paused(true, "paused");
    std::thread::sleep(Duration::from_millis(200));
    let paused_on = player.frame(frame_of).expect("a whole frame on screen");
    let source = decoded(&file, paused_on);

    for (w, h) in [(960, 540), (400, 300), (WIDTH, HEIGHT)] {
        player.resize(w, h);
        // The client's own scaling of the frame, above the progress bar.
        let mut expected = vec![0; w * h];
        let rect = overlay::fit((WIDTH, HEIGHT), (w, h));
        overlay::scale_into(
            &source,
            (WIDTH, HEIGHT),
            &mut expected,
            (w, h),
            rect,
            &mut Vec::new(),
        );
        let above_bar = w * (h - BAR_HEIGHT);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let (g, pixels) = player.picture();
            let (differ, black) = if (g.w, g.h) == (w, h) {
                let differ = pixels[..above_bar]
                    .iter()
                    .zip(&expected[..above_bar])
                    .filter(|(a, b)| a != b)
                    .count();
                let black = pixels[..above_bar].iter().filter(|&&p| p == 0).count();
                (differ, black)
            } else {
                (usize::MAX, 0)
            };
            if differ == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{w}x{h}: the paused frame {paused_on} is not redrawn at the window's size \
                 ({g:?}: {differ} of {above_bar} pixels differ, {black} black)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(player.title().ends_with("| paused"), "still paused");
    assert_eq!(player.frame(frame_of), Some(paused_on), "the same frame");
    player.quit();
}

// ---------------------------------------------------------------------------------------------
// The control bar's buttons.

/// The caption of the controls test: on screen for the whole stream.
const CAPTION: &str = "Controls caption";
/// The caption's letters' colour (`overlay::caption`).
const CAPTION_TEXT: u32 = 0x00FF_FF60;

/// The key tests' stream with `controls.wav` (the ramp of `common::sound`, 48 kHz stereo, the
/// stream's length) and `controls.vtt` (one caption from start to end) beside it; returns the
/// MJPEG.
fn controls_stream() -> PathBuf {
    let (pattern, _) = stream();
    let dir = media_dir().join("window-controls");
    std::fs::create_dir_all(&dir).unwrap();
    let mjpeg = cached(dir.join("controls.mjpeg"), || {
        std::fs::read(&pattern).unwrap()
    });
    cached(dir.join("controls.wav"), || {
        let frames = (SECONDS as u32) * sound::RATE;
        let samples: Vec<i16> = (0..frames).flat_map(sound::frame).collect();
        let mut bytes =
            hdstream_common::audio::wav::header(sound::RATE, 2, (samples.len() * 2) as u32)
                .to_vec();
        bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        bytes
    });
    cached(dir.join("controls.vtt"), || {
        format!("WEBVTT\n\n00:00:00.000 --> 00:00:30.000\n{CAPTION}\n\n").into_bytes()
    });
    mjpeg
}

/// The screen as a picture under `target/` (ImageMagick's `import`, else a PPM of the window
/// written here); its path.
fn save_screenshot(player: &Player, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let g = player.geometry();
    let png = dir.join(format!("{name}.png"));
    let crop = format!("{}x{}+{}+{}", g.w, g.h, g.x, g.y);
    let mut import = Command::new("import");
    import
        .args(["-window", "root", "-crop", &crop, "+repage"])
        .arg(&png)
        .env("DISPLAY", &player.x.display);
    if Path::new("/usr/bin/import").exists()
        && run_bounded(&mut import, Duration::from_secs(10)).is_some_and(|o| o.status.success())
    {
        return png;
    }
    let (_, pixels) = player.picture();
    let ppm = dir.join(format!("{name}.ppm"));
    let mut bytes = format!("P6\n{} {}\n255\n", g.w, g.h).into_bytes();
    bytes.extend(pixels.iter().flat_map(|&p| {
        let [r, g, b] = rgb(p);
        [r as u8, g as u8, b as u8]
    }));
    std::fs::write(&ppm, bytes).unwrap();
    ppm
}

/// Runs of silent sample frames (both channels 0) at least `min` frames long: (first frame,
/// length).
fn silences(samples: &[i16], min: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    let frames = samples.len() / 2;
    for i in 0..=frames {
        let silent = i < frames && samples[2 * i] == 0 && samples[2 * i + 1] == 0;
        match (silent, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= min {
                    runs.push((s, i - s));
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// Each button of the control bar does what its key does, clicked with the mouse: CC hides the
/// caption and shows it again, the level button mutes the sound (the `--audio-out` WAV is
/// silent for the muted span, the sound going on beneath) and unmutes it, play/pause pauses and
/// resumes (the report's pause), and the seek bar seeks to where it was clicked (the report's
/// seek and its first frame). A screenshot of the bar is left under `target/tmp/`.
#[test]
fn the_control_bar_buttons_do_what_their_keys_do() {
    let _one_at_a_time = serial();
    let Some(x) = Xvfb::start() else { return };
    if !have("xdotool", "xdotool") {
        return;
    }
    let file = controls_stream();
    capture_server_log();
    let server = Server::start(&file, FPS);
    let wav = std::env::temp_dir().join(format!("hdstream-controls-{}.wav", std::process::id()));
    let wav_arg = wav.display().to_string();
    let mut player = Player::start_with(&x, &server.url, "controls", &["--audio-out", &wav_arg]);
    let bar = Layout::new((WIDTH, HEIGHT));
    let centre = |r: overlay::Rect| (r.x + r.w / 2, r.y + r.h / 2);
    let caption_pixels = |player: &Player| {
        let (_, pixels) = player.picture();
        pixels[..WIDTH * ROWS]
            .iter()
            .filter(|&&p| p == CAPTION_TEXT)
            .count()
    };

    // CC: the caption goes, and comes back.
    let shown = wait_until(Duration::from_secs(5), "the caption on screen", || {
        Some(caption_pixels(&player)).filter(|&n| n > 100)
    });
    let (cx, cy) = centre(bar.captions);
    player.click(cx, cy);
    wait_until(Duration::from_secs(2), "CC hides the caption", || {
        (caption_pixels(&player) == 0).then_some(())
    });
    eprintln!("CC click at ({cx}, {cy}): caption hidden ({shown} caption pixels, then 0)");
    player.click(cx, cy);
    let again = wait_until(Duration::from_secs(2), "CC shows the caption", || {
        Some(caption_pixels(&player)).filter(|&n| n > 100)
    });
    eprintln!("CC click at ({cx}, {cy}): caption shown again ({again} caption pixels)");

    // Mute for a while, then unmute.
    let (mx, my) = centre(bar.mute);
    player.click(mx, my);
    let muted_from = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    player.click(mx, my);
    let muted_for = muted_from.elapsed();
    eprintln!("mute clicks at ({mx}, {my}): muted for about {muted_for:?}");

    // Play/pause: pause, then resume.
    let (px, py) = centre(bar.play);
    player.click(px, py);
    player.wait_paused(true, "the title says paused");
    std::thread::sleep(Duration::from_millis(500));
    player.click(px, py);
    player.wait_paused(false, "the title says playing");
    eprintln!("play/pause clicks at ({px}, {py}): paused, then playing");

    // The seek bar, at three quarters.
    let sx = bar.seek.x + 3 * bar.seek.w / 4;
    let fraction = bar.fraction(sx);
    let sy = bar.seek.y + bar.seek.h / 2;
    player.click(sx, sy);
    wait_until(Duration::from_secs(3), "the position past the seek", || {
        // The title's `m:ss / m:ss`.
        let title = player.title();
        let at = title.split(" | ").find(|p| p.contains(" / "))?.to_owned();
        let (m, s) = at.split(" / ").next()?.split_once(':')?;
        let seconds = m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
        (seconds >= (fraction * SECONDS).floor()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let picture = save_screenshot(&player, "window-controls");
    eprintln!("screenshot of the bar: {}", picture.display());
    let report = player.quit();

    let (last, resumed) = the_pause(&report);
    assert!(
        (resumed - last - 1.0 / FPS).abs() < 1e-6,
        "resumed with the next frame: {last} then {resumed}"
    );
    eprintln!("report: paused after the frame at {last} s, resumed with {resumed} s");
    let seeks = report["seeks"].as_array().unwrap();
    assert_eq!(seeks.len(), 1, "{report}");
    let (target, first) = (
        seconds(&seeks[0]["target_s"]),
        seconds(&seeks[0]["first_frame_s"]),
    );
    assert!(
        (target - fraction * SECONDS).abs() < 1e-6,
        "a click at {fraction:.4} of the seek bar: {}",
        seeks[0]
    );
    assert!((first - target).abs() <= 1.0 / FPS + 1e-6, "{}", seeks[0]);
    eprintln!(
        "seek bar click at ({sx}, {sy}) = {fraction:.4} of it: seek to {target:.3} s, first \
         frame {first:.3} s"
    );

    // The WAV: one long silence, the muted span, with the sound going on beneath it.
    let (rate, samples) = sound::read_wav(&wav);
    let _ = std::fs::remove_file(&wav);
    let long = silences(&samples, rate as usize / 2);
    let s = |frames: usize| frames as f64 / f64::from(rate);
    eprintln!(
        "WAV: {:.2} s, silences over 0.5 s (start s, length s): {:?}",
        s(samples.len() / 2),
        long.iter().map(|&(a, n)| (s(a), s(n))).collect::<Vec<_>>()
    );
    assert_eq!(long.len(), 1, "one long silence, the muted span: {long:?}");
    let (start, length) = long[0];
    let muted = muted_for.as_secs_f64();
    assert!(
        (s(length) - muted).abs() < 0.3,
        "silent for {:.3} s, muted for {muted:.3} s",
        s(length)
    );
    let position = |i: usize| sound::position(samples[2 * i], samples[2 * i + 1]);
    let (before, after) = (position(start - 1), position(start + length));
    assert_eq!(
        after - before,
        length as u32 + 1,
        "the sound went on while muted, not held"
    );
    let loud = samples[..2 * start]
        .iter()
        .filter(|s| s.unsigned_abs() > 16384)
        .count();
    assert!(loud > 0, "at full level before the mute");
}

// ---------------------------------------------------------------------------------------------
// Captions on screen at their times.

/// The captions test's cues: (text, start, end) in seconds; the last stays for the `C` toggle.
const CUES: [(&str, f64, f64); 3] = [("One", 2.0, 3.0), ("Two", 4.5, 5.25), ("Three", 6.0, 30.0)];

/// The key tests' stream with `cues.vtt` ([`CUES`]) beside it; returns the MJPEG.
fn captions_stream() -> PathBuf {
    let (pattern, _) = stream();
    let dir = media_dir().join("window-captions");
    std::fs::create_dir_all(&dir).unwrap();
    let mjpeg = cached(dir.join("cues.mjpeg"), || std::fs::read(&pattern).unwrap());
    cached(dir.join("cues.vtt"), || {
        let time = |s: f64| {
            let ms = (s * 1000.0).round() as u64;
            format!("00:00:{:02}.{:03}", ms / 1000, ms % 1000)
        };
        let mut vtt = String::from("WEBVTT\n\n");
        for (text, start, end) in CUES {
            vtt += &format!("{} --> {}\n{text}\n\n", time(start), time(end));
        }
        vtt.into_bytes()
    });
    mjpeg
}

/// The frame number box of the pattern above the control bar, which no short centred caption
/// reaches: the frame on screen is named by its pixels even while a caption is drawn.
fn number_area() -> Geometry {
    let b = hdstream_video::pattern::Pattern::new(WIDTH as u16, HEIGHT as u16).number_box(5);
    Geometry {
        x: b.x,
        y: b.y,
        w: b.w,
        h: ROWS - b.y,
    }
}

fn area_checksum(pixels: &[u32], width: usize, area: Geometry) -> u64 {
    let rows = (area.y..area.y + area.h).flat_map(|y| &pixels[y * width + area.x..][..area.w]);
    pixel_checksum(&rows.copied().collect::<Vec<_>>())
}

/// Each frame's number by the checksum of its [`number_area`].
fn frames_by_number_area() -> HashMap<u64, u64> {
    let (file, _) = stream();
    let media = hdstream_video::MjpegFile::open(&file).unwrap();
    let mut decoder = Decoder::new();
    let mut pixels = Vec::new();
    let area = number_area();
    (0..media.len())
        .map(|i| {
            decoder
                .decode_0rgb(media.frame(i).unwrap(), &mut pixels)
                .unwrap();
            (area_checksum(&pixels, WIDTH, area), i as u64)
        })
        .collect()
}

/// Which caption is on screen: a checksum of where its letters' pixels are (0: none). The
/// pattern beneath moves; the letters' colour is the caption's own.
fn caption_signature(pixels: &[u32]) -> u64 {
    let at = pixels[..WIDTH * ROWS]
        .iter()
        .enumerate()
        .filter(|&(_, &p)| p == CAPTION_TEXT)
        .map(|(i, _)| i as u32);
    let positions: Vec<u32> = at.collect();
    if positions.len() < 50 {
        return 0;
    }
    pixel_checksum(&positions)
}

/// Captions from a WebVTT file beside the media come on screen with the frame of their start
/// time (± one frame), read off the screen every few milliseconds: the frame by its number's
/// pixels, the caption by its letters'. (A T.140 caption carries its start only, RFC 4103: it
/// shows until the next or for 3 s.) `C` hides the caption showing and shows it again.
#[test]
fn captions_appear_at_their_times_and_c_toggles_them() {
    let _one_at_a_time = serial();
    let Some(x) = Xvfb::start() else { return };
    if !have("xdotool", "xdotool") {
        return;
    }
    let file = captions_stream();
    let by_number = frames_by_number_area();
    capture_server_log();
    let server = Server::start(&file, FPS);
    let mut player = Player::start(&x, &server.url, "captions");
    let area = number_area();
    // (frame on screen, caption on screen) every few ms until the last cue has shown a while.
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let until = (CUES[2].1 + 1.0) * FPS;
    wait_until(Duration::from_secs(15), "the third cue's frames", || {
        let (_, pixels) = player.picture();
        if let Some(&n) = by_number.get(&area_checksum(&pixels, WIDTH, area)) {
            seen.push((n, caption_signature(&pixels)));
            if n as f64 >= until {
                return Some(());
            }
        }
        None
    });
    for (i, (text, start, _)) in CUES.iter().enumerate() {
        let first = (start * FPS).round() as u64;
        // The caption as it shows a few frames in.
        let inside: Vec<u64> = seen
            .iter()
            .filter(|(n, _)| (first + 2..first + 6).contains(n))
            .map(|&(_, sig)| sig)
            .collect();
        let shown = inside.first().copied().unwrap_or(0);
        assert!(
            shown != 0 && inside.iter().all(|&s| s == shown),
            "{text}: one caption on the frames after its start: {inside:?}"
        );
        let appeared = seen
            .iter()
            .find(|&&(_, sig)| sig == shown)
            .map(|&(n, _)| n)
            .unwrap();
        let before: Vec<u64> = seen
            .iter()
            .filter(|&&(n, sig)| n + 1 < first && sig == shown)
            .map(|&(n, _)| n)
            .collect();
        eprintln!(
            "{text:?} at {start} s (frame {first}): first seen on frame {appeared}; \
             {} screens read around it",
            seen.iter().filter(|(n, _)| n.abs_diff(first) <= 5).count()
        );
        assert!(
            before.is_empty(),
            "{text}: on screen early, frames {before:?}"
        );
        assert!(
            appeared.abs_diff(first) <= 1,
            "{text}: appeared on frame {appeared}, its start is frame {first}"
        );
        if i > 0 {
            assert_ne!(shown, 0, "{text}");
        }
    }
    // C: the third caption goes and comes back while frames go on.
    let showing = || caption_signature(&player.picture().1);
    assert_ne!(showing(), 0, "the third caption on screen");
    player.key("c");
    wait_until(Duration::from_secs(2), "C hides the caption", || {
        (showing() == 0).then_some(())
    });
    player.key("c");
    wait_until(Duration::from_secs(2), "C shows the caption", || {
        (showing() != 0).then_some(())
    });
    let picture = save_screenshot(&player, "window-captions");
    eprintln!("screenshot with a caption: {}", picture.display());
    player.quit();
}
