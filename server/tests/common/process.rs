//! Tools on `PATH` and child processes bounded in time: the external players and publishers,
//! and the `hdstream-server` binary (its log watched as it runs); `/proc` readings of a process.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- tools and child processes

/// The path of `name` on `PATH`; panics (the test fails, it is not skipped) when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed, and this test needs it. On Debian: apt-get install ffmpeg \
         gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
         gstreamer1.0-plugins-bad (.ci/run does this)"
    );
}

/// A child process that is killed if it is still running when this is dropped (a test that
/// panics leaves nothing behind).
#[derive(Debug)]
pub struct Bounded {
    name: String,
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// How a bounded child ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// Whether it had to be sent SIGINT at the deadline.
    pub interrupted: bool,
}

impl Finished {
    /// stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = from.read_to_end(&mut out);
        out
    })
}

/// Starts `cmd` with stdout and stderr captured (stdin closed).
pub fn spawn(cmd: &mut Command) -> Bounded {
    spawn_watching(cmd, |_| {})
}

/// [`spawn`], with each line of stderr also handed to `watch` as it comes.
pub fn spawn_watching(cmd: &mut Command, mut watch: impl FnMut(&str) + Send + 'static) -> Bounded {
    use std::io::BufRead;
    let name = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(|err| {
        std::thread::spawn(move || {
            // Bytes, not `lines()`: a line that is not UTF-8 must not stop the reading (the
            // child would block on a full pipe).
            let mut reader = std::io::BufReader::new(err);
            let mut all = Vec::new();
            loop {
                let start = all.len();
                match reader.read_until(b'\n', &mut all) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => watch(&String::from_utf8_lossy(&all[start..])),
                }
            }
            all
        })
    });
    Bounded {
        name,
        child,
        stdout,
        stderr,
    }
}

/// Sends SIGINT to process `pid` (with the shell's built-in `kill`, present even where procps
/// is not installed).
pub fn interrupt(pid: u32) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill -INT {pid} failed");
}

impl Bounded {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(mut self, status: ExitStatus, interrupted: bool) -> Finished {
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Finished {
            status,
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            interrupted,
        }
    }

    fn kill_and_report(mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let name = self.name.clone();
        let status = self.child.try_wait().ok().flatten();
        let finished = status.map(|s| self.finish(s, false));
        let stderr = finished.as_ref().map_or("", |f| f.stderr.as_str());
        let tail: String = stderr
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("{name} {why}; killed. stderr tail:\n{tail}");
    }

    /// Waits at most `timeout` for it to exit; kills it and fails the test if it overruns.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        match self.wait_until(Instant::now() + timeout) {
            Some(status) => self.finish(status, false),
            None => self.kill_and_report(&format!("ran longer than {timeout:?}")),
        }
    }

    /// Waits at most `timeout`; then sends SIGINT and waits `grace` more (a clean stop, e.g.
    /// `gst-launch-1.0 -e` sending EOS); kills it and fails the test if it still runs.
    pub fn wait_or_interrupt(mut self, timeout: Duration, grace: Duration) -> Finished {
        if let Some(status) = self.wait_until(Instant::now() + timeout) {
            return self.finish(status, false);
        }
        interrupt(self.pid());
        match self.wait_until(Instant::now() + grace) {
            Some(status) => self.finish(status, true),
            None => self.kill_and_report(&format!("did not stop {grace:?} after SIGINT")),
        }
    }
}

impl Bounded {
    /// Like [`Bounded::wait_or_interrupt`], for a peer that may not end cleanly (a player on
    /// a lossy link that keeps asking for the packet after the last): killed, not failed, if it
    /// ignores SIGINT; what it printed until then is kept.
    pub fn stop_after(mut self, timeout: Duration, grace: Duration) -> Finished {
        if let Some(status) = self.wait_until(Instant::now() + timeout) {
            return self.finish(status, false);
        }
        interrupt(self.pid());
        if let Some(status) = self.wait_until(Instant::now() + grace) {
            return self.finish(status, true);
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for the killed child");
        self.finish(status, true)
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion within `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Finished {
    spawn(cmd).wait(timeout)
}

// ---------------------------------------------------------------- the server binary

/// Starts the `hdstream-server` binary on loopback, port 0, with `args`; returns it once it
/// listens, and its RTSP address (read from its log).
pub fn server_binary(args: &[&str]) -> (Bounded, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hdstream-server"));
    cmd.args(["--bind", "127.0.0.1", "--port", "0"])
        .args(args)
        .env("RUST_LOG", "info");
    let (tx, rx) = std::sync::mpsc::channel();
    let bounded = spawn_watching(&mut cmd, move |line| {
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("rtsp="))
        {
            let _ = tx.send(addr.to_owned());
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(addr) => {
            let addr = addr
                .parse()
                .unwrap_or_else(|e| panic!("bad rtsp= address {addr:?}: {e}"));
            (bounded, addr)
        }
        Err(_) => bounded.kill_and_report("did not report its RTSP address"),
    }
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // proc(5): field 3 is the state (after "pid (comm)"), 14 utime, 15 stime, in clock ticks.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

// ---------------------------------------------------------------- /proc

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `RssAnon`…), in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Resident set size of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// Open file descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/fd: {e}"))
        .count()
}

/// Polls `fd_count(pid)` until it is at most `target` or `deadline` passes; the last count.
pub fn wait_fds_at_most(pid: u32, target: usize, deadline: Instant) -> usize {
    loop {
        let n = fd_count(pid);
        if n <= target || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// This process's (soft, hard) limits on open files (`u64::MAX`: unlimited).
pub fn fd_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default();
    // "Max open files            1024                 4096                 files"
    let mut values = line
        .split_whitespace()
        .skip(3)
        .map(|v| v.parse().unwrap_or(u64::MAX));
    (
        values.next().unwrap_or(u64::MAX),
        values.next().unwrap_or(u64::MAX),
    )
}

/// Raises this process's soft limit on open files to its hard limit (util-linux `prlimit`),
/// best effort; the soft limit after.
pub fn raise_fd_limit() -> u64 {
    let (soft, hard) = fd_limits();
    if soft < hard {
        let hard = if hard == u64::MAX {
            "unlimited".to_owned()
        } else {
            hard.to_string()
        };
        let _ = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={hard}:{hard}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    fd_limits().0
}

// ---------------------------------------------------------------- the server binary

/// The `hdstream-server` binary running as a child, its log collected line by line as it
/// comes; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Its RTSP address.
    pub rtsp: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts the binary on loopback, port 0, with `args`, and waits until it listens.
    pub fn start(args: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hdstream-server"))
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hdstream-server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|err| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            })
        });
        let mut server = ServerProcess {
            child,
            rtsp: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            reader,
        };
        let line = server
            .wait_log(Instant::now() + Duration::from_secs(20), |l| {
                l.contains("listening")
            })
            .unwrap_or_else(|| {
                panic!(
                    "hdstream-server did not start listening; log:\n{}",
                    server.log_text()
                )
            });
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("rtsp="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no rtsp= address in {line:?}"));
        server.rtsp = addr;
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first log line (from the start) matching `pred`, waiting until `deadline`.
    pub fn wait_log(&self, deadline: Instant, pred: impl Fn(&str) -> bool) -> Option<String> {
        loop {
            if let Some(line) = self
                .log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|l| pred(l))
            {
                return Some(line.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it with SIGINT and waits (at most 10 s) for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        interrupt(self.pid());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop within 10 s of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
