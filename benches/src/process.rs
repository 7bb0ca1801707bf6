//! Child processes measured as a whole: wall time, CPU time (user + system) and peak resident
//! memory, read from the kernel's `wait4` accounting when the child ends.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What a finished child cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// User + system CPU time.
    pub cpu: Duration,
    /// Peak resident set size, bytes: the largest `VmHWM` seen in `/proc/<pid>/status` while
    /// it ran (`wait4`'s `ru_maxrss` would include the memory of the benchmark process it
    /// was forked from).
    pub max_rss: u64,
    /// Exit code (`None`: ended by a signal).
    pub code: Option<i32>,
}

impl Usage {
    /// CPU time as a percentage of one core over the wall time.
    pub fn cpu_percent(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
        }
    }
}

/// A running child whose usage is collected when it ends.
#[derive(Debug)]
pub struct Measured {
    /// The child (stdout/stderr as configured by the caller).
    pub child: Child,
    started: Instant,
    name: String,
}

impl Measured {
    /// Spawns `command`, with stdin closed.
    pub fn spawn(name: &str, command: &mut Command) -> Result<Measured> {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
        Ok(Measured {
            child,
            started: Instant::now(),
            name: name.to_owned(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGINT`).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we spawned and have not reaped; no memory is shared.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Waits for the child to end; at `deadline` it gets SIGINT, then SIGKILL 3 s later.
    pub fn wait_until(self, deadline: Instant) -> Result<Usage> {
        self.wait_until_with(|| (deadline, Duration::from_secs(3)))
    }

    /// [`Measured::wait_until`] with a deadline that may move while the child runs, and the
    /// time from SIGINT to SIGKILL: `stop` is asked every 10 ms until its deadline has passed.
    pub fn wait_until_with(self, stop: impl Fn() -> (Instant, Duration)) -> Result<Usage> {
        let pid = self.child.id() as libc::pid_t;
        let mut interrupted = false;
        let mut kill_at = None;
        let mut peak = 0u64;
        loop {
            peak = peak.max(high_water_mark(self.child.id()).unwrap_or(0));
            let mut status = 0;
            // SAFETY: an all-zero rusage is a valid value of this plain C struct.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 on our own child, writing into the two locals above.
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if r == pid {
                let code = if libc::WIFEXITED(status) {
                    Some(libc::WEXITSTATUS(status))
                } else {
                    None
                };
                let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
                // The std Child must not wait again: the pid is reaped. Forget it.
                std::mem::forget(self.child);
                return Ok(Usage {
                    wall: self.started.elapsed(),
                    cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
                    max_rss: peak,
                    code,
                });
            }
            if r < 0 {
                anyhow::bail!(
                    "wait4 on {} failed: {}",
                    self.name,
                    std::io::Error::last_os_error()
                );
            }
            let now = Instant::now();
            if !interrupted {
                let (deadline, kill_after) = stop();
                if now >= deadline {
                    self.signal(libc::SIGINT);
                    interrupted = true;
                    kill_at = Some(now + kill_after);
                }
            }
            if kill_at.is_some_and(|k| now >= k) {
                self.signal(libc::SIGKILL);
                kill_at = None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asks the child to stop (SIGTERM) and waits for it (SIGKILL after 5 s).
    pub fn stop(self) -> Result<Usage> {
        self.signal(libc::SIGTERM);
        self.wait_until(Instant::now() + Duration::from_secs(5))
    }
}

/// `VmHWM` (peak resident set) of a live process, bytes.
fn high_water_mark(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Where the release binaries live: beside the running executable (`target/release`).
pub fn bin_dir() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    Ok(exe
        .parent()
        .context("executable has no directory")?
        .to_path_buf())
}

/// A free TCP port on 127.0.0.1 (bound and released: another process could take it first, so
/// callers retry on failure).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `port`, or `timeout` passes.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// CPU time (user + system, all threads) a live process has used so far, from
/// `/proc/<pid>/stat`; `None` once it is gone. For the share of a window: read it at both ends.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as u64 } else { 100 };
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks as f64,
    ))
}

/// The CPU a set of processes used over a window: read at its start, then [`CpuWindow::percent`]
/// at its end.
#[derive(Debug, Clone)]
pub struct CpuWindow {
    started: Instant,
    at_start: Vec<Option<Duration>>,
    pids: Vec<u32>,
}

impl CpuWindow {
    /// Starts a window over `pids`.
    pub fn start(pids: &[u32]) -> CpuWindow {
        CpuWindow {
            started: Instant::now(),
            at_start: pids.iter().map(|&p| cpu_time(p)).collect(),
            pids: pids.to_vec(),
        }
    }

    /// Each process's CPU since the start, as a percentage of one core over the window (`None`
    /// for a process that was gone at either end).
    pub fn percent(&self) -> Vec<Option<f64>> {
        let wall = self.started.elapsed().as_secs_f64().max(1e-3);
        self.pids
            .iter()
            .zip(&self.at_start)
            .map(|(&pid, start)| {
                let (start, end) = ((*start)?, cpu_time(pid)?);
                Some(100.0 * end.saturating_sub(start).as_secs_f64() / wall)
            })
            .collect()
    }
}
