//! The call's window under Xvfb: this side plays the far side's picture (the test pattern)
//! with its own camera's (a red picture) small in the top right corner, a quarter of the
//! window wide; read back from the screen pixel for pixel.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use hdstream_testkit::netns::Killed;
use hdstream_testkit::xvfb::{Xvfb, have, screenshot, wait_until};

/// A one-second MJPEG file of a plain red 640x360 picture: this side's camera.
fn red_camera() -> PathBuf {
    let (w, h) = (640u16, 360u16);
    let rgb: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|_| [230u8, 20, 20])
        .collect();
    let mut jpeg = Vec::new();
    hdstream_video::encoder::encode_rgb(&rgb, w, h, 80, &mut jpeg).unwrap();
    let path = std::env::temp_dir().join(format!("hdstream-call-red-{}.mjpeg", std::process::id()));
    std::fs::write(&path, jpeg.repeat(30)).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn near(p: u32) -> bool {
    let [b, g, r, _] = p.to_le_bytes();
    r > 180 && g < 80 && b < 80
}

#[test]
fn the_window_shows_the_far_side_with_the_near_side_in_the_top_right_corner() {
    let Some(x) = Xvfb::start() else { return };
    if !have("xdotool", "xdotool") {
        return;
    }
    let camera = red_camera();
    let (here, there) = (free_port(), free_port());
    let call = env!("CARGO_BIN_EXE_hdstream-call");
    let far = Command::new(call)
        .args(["--headless", "--duration", "20", "--mic", "none"])
        .args(["--camera", "pattern:640x360"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{there}"))
        .arg(format!("127.0.0.1:{here}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _far = Killed(far);
    let window = Command::new(call)
        .args(["--duration", "20", "--mic", "none", "--camera"])
        .arg(&camera)
        .arg("--listen")
        .arg(format!("127.0.0.1:{here}"))
        .arg(format!("127.0.0.1:{there}"))
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _window = Killed(window);
    let id = wait_until(Duration::from_secs(15), "the call's window", || {
        let out = x.try_xdotool(
            &["search", "--onlyvisible", "--name", "^hdstream"],
            Duration::from_secs(2),
        )?;
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .trim()
            .to_owned();
        (!id.is_empty()).then_some(id)
    });
    let geometry = || {
        let out = x.xdotool(&["getwindowgeometry", "--shell", &id]);
        let value = |key: &str| -> usize {
            out.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        hdstream_testkit::xvfb::Geometry {
            x: value("X"),
            y: value("Y"),
            w: value("WIDTH"),
            h: value("HEIGHT"),
        }
    };
    // The inset: a quarter of the window wide, 8 px from the top and right edges, the near
    // side's aspect (16:9): 160x90 in a 640x360 window.
    let (w, ih) = (160, 90);
    let (ix, iy) = (640 - 8 - w, 8);
    let (red_inside, red_outside) = wait_until(Duration::from_secs(10), "the inset", || {
        let g = geometry();
        if (g.w, g.h) != (640, 360) {
            return None;
        }
        let (_, pixels) = screenshot(&x.screen_file(), Some(g));
        let red_inside = (iy + 4..iy + ih - 4)
            .flat_map(|y| (ix + 4..ix + w - 4).map(move |x| (x, y)))
            .filter(|&(x, y)| near(pixels[y * 640 + x]))
            .count();
        let red_outside = pixels[..640 * 300]
            .iter()
            .enumerate()
            .filter(|&(i, &p)| {
                let (x, y) = (i % 640, i / 640);
                let in_inset =
                    (ix - 2..ix + w + 2).contains(&x) && (iy - 2..iy + ih + 2).contains(&y);
                !in_inset && near(p)
            })
            .count();
        let inset_area = (w - 8) * (ih - 8);
        if red_inside * 100 < inset_area * 98 {
            return None;
        }
        // Left for a person to look at: target/tmp/call-window.ppm.
        let ppm = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("call-window.ppm");
        let mut bytes = b"P6\n640 360\n255\n".to_vec();
        bytes.extend(pixels.iter().flat_map(|&p| {
            let [b, g, r, _] = p.to_le_bytes();
            [r, g, b]
        }));
        std::fs::write(&ppm, bytes).ok()?;
        Some((red_inside, red_outside))
    });
    eprintln!(
        "inset at ({ix}, {iy}) {w}x{ih}: {red_inside} red pixels inside; {red_outside} red \
         pixels of the far side's picture elsewhere"
    );
    // The far side's pattern has a red bar (1/8 of the width, a quarter of the height) and
    // red in its gradient: far fewer red pixels than a whole red picture would have.
    assert!(
        red_outside < 640 * 300 / 4,
        "the far side's picture, not the near side's, fills the window: {red_outside}"
    );
    let _ = std::fs::remove_file(&camera);
}
