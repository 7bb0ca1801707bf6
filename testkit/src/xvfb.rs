//! A virtual X display for tests of windows (Debian's `xvfb`), driven with `xdotool` and read
//! back from the framebuffer file Xvfb keeps (`-fbdir`, XWD): one screen pixel per picture
//! pixel, so a test names the picture on screen by its pixels. Under CI (`CI` set) a missing
//! tool fails the test; elsewhere [`have`] skips it with a message.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether `tool` is installed; under CI a missing tool fails the test, elsewhere it skips it.
pub fn have(tool: &str, package: &str) -> bool {
    let found = ["/usr/bin", "/usr/local/bin", "/bin"]
        .iter()
        .any(|dir| Path::new(dir).join(tool).exists());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing under CI: install the {package} package (tools/scripts/setup-deps.sh)"
        );
        eprintln!("{tool} not found: window test skipped (install the {package} package)");
    }
    found
}

/// Polls `probe` every 50 ms until it answers, for at most `timeout`; panics naming `what`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `command` to its end, or kills it after `timeout` (`None`): a test never hangs on a
/// tool.
pub fn run_bounded(command: &mut Command, timeout: Duration) -> Option<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

/// A running Xvfb on a display it chose itself (`-displayfd`), killed on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// The display, `:N`.
    pub display: String,
    fbdir: PathBuf,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM first: Xvfb then removes its lock file and socket (SIGKILL leaves them).
        let _ = run_bounded(
            Command::new("kill").arg(self.child.id().to_string()),
            Duration::from_secs(2),
        );
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.fbdir);
    }
}

impl Xvfb {
    /// A 1600×900 screen, or `None` (skip) when Xvfb is not installed outside CI.
    pub fn start() -> Option<Xvfb> {
        if !have("Xvfb", "xvfb") {
            return None;
        }
        let fbdir = std::env::temp_dir().join(format!("hdstream-xvfb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&fbdir);
        std::fs::create_dir_all(&fbdir).unwrap();
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1600x900x24", "-br"])
            .args(["-nolisten", "tcp", "-fbdir"])
            .arg(&fbdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        // Xvfb writes the display number when it is ready for clients.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut x = Xvfb {
            child,
            display: String::new(),
            fbdir,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("Xvfb names its display within 10 s");
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb's display number: {line:?}"));
        x.display = format!(":{n}");
        assert!(x.screen_file().exists(), "Xvfb keeps its screen in a file");
        Some(x)
    }

    /// The file Xvfb keeps its screen in (XWD).
    pub fn screen_file(&self) -> PathBuf {
        self.fbdir.join("Xvfb_screen0")
    }

    /// `xdotool args…` on this display (at most `timeout`); its standard output.
    pub fn try_xdotool(&self, args: &[&str], timeout: Duration) -> Option<Output> {
        run_bounded(
            Command::new("xdotool")
                .args(args)
                .env("DISPLAY", &self.display),
            timeout,
        )
    }

    /// `xdotool args…` on this display; its standard output.
    pub fn xdotool(&self, args: &[&str]) -> String {
        let out = self
            .try_xdotool(args, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("xdotool {args:?} did not finish in 5 s"));
        assert!(
            out.status.success(),
            "xdotool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// The screen.

/// A rectangle of the screen, root coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Left edge.
    pub x: usize,
    /// Top edge.
    pub y: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
}

/// Pixels of the screen as `0x00RRGGBB` rows, from Xvfb's XWD framebuffer file: the whole
/// screen, or only `area`.
pub fn screenshot(file: &Path, area: Option<Geometry>) -> (Geometry, Vec<u32>) {
    let bytes = std::fs::read(file).unwrap();
    let word = |i: usize| u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header, width, height) = (word(0), word(4), word(5));
    let (byte_order, bits_per_pixel, bytes_per_line, ncolors) =
        (word(7), word(11), word(12), word(19));
    assert_eq!(bits_per_pixel, 32, "a 24-bit screen stores 32-bit pixels");
    let start = header + ncolors * 12;
    let area = area.unwrap_or(Geometry {
        x: 0,
        y: 0,
        w: width,
        h: height,
    });
    assert!(
        area.x + area.w <= width && area.y + area.h <= height,
        "{area:?} is on the {width}x{height} screen"
    );
    let mut pixels = Vec::with_capacity(area.w * area.h);
    for y in area.y..area.y + area.h {
        let row = start + y * bytes_per_line;
        for p in bytes[row + area.x * 4..row + (area.x + area.w) * 4].chunks_exact(4) {
            let p: [u8; 4] = p.try_into().unwrap();
            let v = if byte_order == 0 {
                u32::from_le_bytes(p)
            } else {
                u32::from_be_bytes(p)
            };
            pixels.push(v & 0x00FF_FFFF);
        }
    }
    (area, pixels)
}
