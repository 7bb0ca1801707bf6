//! The window under Xvfb: the client binary plays 1080p into a minifb window on a virtual X
//! display whose framebuffer Xvfb keeps in an XWD file (`-fbdir`); the picture on that screen
//! must be the stream's, scaled to fit (the test pattern's colour bars where they belong).
//! Skipped, with a message, when Xvfb is not installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, pattern_file, serial};
use hdstream_video::decoder::{Decoder, Packed};
use hdstream_video::pattern::BARS;

/// A running Xvfb, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
    fbdir: PathBuf,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.fbdir);
    }
}

fn xvfb() -> Option<Xvfb> {
    let bin = ["/usr/bin/Xvfb", "/usr/local/bin/Xvfb"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    for n in 90..120 {
        if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let fbdir = std::env::temp_dir().join(format!("hdstream-xvfb-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&fbdir).ok()?;
        let child = Command::new(bin)
            .arg(format!(":{n}"))
            .args([
                "-screen",
                "0",
                "1600x900x24",
                "-br",
                "-nolisten",
                "tcp",
                "-fbdir",
            ])
            .arg(&fbdir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let x = Xvfb {
            child,
            display: format!(":{n}"),
            fbdir,
        };
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if Path::new(&socket).exists() && x.fbdir.join("Xvfb_screen0").exists() {
                return Some(x);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    None
}

/// The screen as 0x00RRGGBB rows, from Xvfb's XWD framebuffer file.
fn screenshot(file: &Path) -> (usize, usize, Vec<u32>) {
    let bytes = std::fs::read(file).unwrap();
    let word = |i: usize| u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header, width, height) = (word(0), word(4), word(5));
    let (byte_order, bits_per_pixel, bytes_per_line, ncolors) =
        (word(7), word(11), word(12), word(19));
    assert_eq!(bits_per_pixel, 32, "a 24-bit screen stores 32-bit pixels");
    let start = header + ncolors * 12;
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let at = start + y * bytes_per_line + x * 4;
            let p: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            let v = if byte_order == 0 {
                u32::from_le_bytes(p)
            } else {
                u32::from_be_bytes(p)
            };
            pixels.push(v & 0x00FF_FFFF);
        }
    }
    (width, height, pixels)
}

fn rgb(p: u32) -> [i32; 3] {
    [
        (p >> 16) as i32 & 255,
        (p >> 8) as i32 & 255,
        p as i32 & 255,
    ]
}

#[test]
fn the_window_shows_the_stream_scaled_to_fit() {
    let Some(x) = xvfb() else {
        eprintln!("Xvfb not found: window test skipped (install the xvfb package)");
        return;
    };
    let file = pattern_file(1920, 1080, 300);
    let _one_at_a_time = serial();
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
    let (sw, sh, screen) = screenshot(&x.fbdir.join("Xvfb_screen0"));
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
