//! The speech recognisers' processes, for the mio driver ([`crate::driver`]): one child per
//! live path listened to ([`crate::speech`]), its stdin, stdout and stderr non-blocking pipes
//! registered with the driver's poll.
//!
//! The core decides what runs and what it hears; here the driver only does as told
//! ([`crate::core::Server::poll_speech`]): it spawns the command in a process group of its own
//! (so that a shell command's children go with it), writes the core's sound to its stdin until
//! the pipe is full, reads its stdout no faster than the core takes it
//! ([`crate::core::Server::speech_read_room`] — a flooding child then waits on its own pipe),
//! keeps the last [`STDERR_TAIL`] bytes of its stderr for the log (reading it no faster than
//! [`STDERR_RATE`]: a child that floods it waits on its own pipe), and reports how it ended:
//! "not found" (the spawn's `ENOENT`, or a shell's status 127) or anything else.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mio::unix::pipe;
use mio::{Interest, Registry, Token};

use hdstream_common::pacing::TokenBucket;

use crate::speech::{Command, Exit, ListenerId, Recogniser};

/// Bytes of a child's stderr kept for the log line when it ends.
pub const STDERR_TAIL: usize = 1024;
/// Tokens from here on name the recognisers' pipes: three a listener (stdin, stdout, stderr).
const FIRST_TOKEN: usize = usize::MAX / 2;
/// Bytes of a child's stdout read at most when it has ended.
pub const LAST_OUTPUT: usize = 64 * 1024;
/// How long a child that closed its output may take to exit before it is killed.
pub const EXIT_GRACE: Duration = Duration::from_millis(500);
/// Bytes a second read from a child's stderr at most (twice as many at once: pocketsphinx
/// without `-logfn` logs some 30 kB as it loads).
pub const STDERR_RATE: u64 = 64 * 1024;

/// One recogniser process.
#[derive(Debug)]
struct Running {
    path: String,
    child: Child,
    stdin: Option<pipe::Sender>,
    stdout: pipe::Receiver,
    stderr: Option<pipe::Receiver>,
    tail: Vec<u8>,
    stderr_bucket: TokenBucket,
    /// Readiness seen and not yet used up (edge-triggered: until `WouldBlock`).
    stdin_ready: bool,
    stdout_ready: bool,
    stderr_ready: bool,
    /// It closed its output or its input broke at this instant: it is ending.
    ending: Option<Instant>,
}

/// The recognisers the driver runs.
#[derive(Debug)]
pub struct Recognisers {
    recogniser: Recogniser,
    running: HashMap<ListenerId, Running>,
    /// Killed children not reaped yet.
    reaping: Vec<Child>,
    buf: Vec<u8>,
}

/// Whether `token` names a recogniser's pipe.
pub fn owns(token: Token) -> bool {
    token.0 >= FIRST_TOKEN && token.0 < usize::MAX - 16
}

fn token(id: ListenerId, pipe: usize) -> Token {
    Token(FIRST_TOKEN + (id as usize % (1 << 40)) * 3 + pipe)
}

impl Recognisers {
    /// Recognisers running `recogniser`.
    pub fn new(recogniser: Recogniser) -> Recognisers {
        Recognisers {
            recogniser,
            running: HashMap::new(),
            reaping: Vec::new(),
            buf: vec![0; 16 * 1024],
        }
    }

    /// Does what the core asks at `now`: starts or stops a recogniser. A start that fails
    /// answers how.
    pub fn command(
        &mut self,
        command: Command,
        registry: &Registry,
        now: Instant,
    ) -> Result<(), (ListenerId, Exit)> {
        match command {
            Command::Start { id, path } => self.start(id, path, registry, now).map_err(|e| (id, e)),
            Command::Stop { id } => {
                if let Some(mut r) = self.running.remove(&id) {
                    deregister(&mut r, registry);
                    tracing::info!(path = %r.path, pid = r.child.id(), "speech recogniser stopped");
                    self.kill(r.child);
                }
                Ok(())
            }
        }
    }

    fn start(
        &mut self,
        id: ListenerId,
        path: String,
        registry: &Registry,
        now: Instant,
    ) -> Result<(), Exit> {
        if let Some(mut old) = self.running.remove(&id) {
            deregister(&mut old, registry);
            self.kill(old.child);
        }
        let argv = &self.recogniser.argv;
        let Some((program, args)) = argv.split_first() else {
            return Err(Exit::NotFound("no speech command".into()));
        };
        let spawned = std::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Exit::NotFound(format!("{program}: {e}")));
            }
            Err(e) => return Err(Exit::Ended(format!("cannot start {program}: {e}"))),
        };
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            self.kill(child);
            return Err(Exit::Ended("no pipes to the recogniser".into()));
        };
        let mut stdin = pipe::Sender::from(stdin);
        let mut stdout = pipe::Receiver::from(stdout);
        let mut stderr = pipe::Receiver::from(stderr);
        let set_up = stdin
            .set_nonblocking(true)
            .and_then(|()| stdout.set_nonblocking(true))
            .and_then(|()| stderr.set_nonblocking(true))
            .and_then(|()| registry.register(&mut stdin, token(id, 0), Interest::WRITABLE))
            .and_then(|()| registry.register(&mut stdout, token(id, 1), Interest::READABLE))
            .and_then(|()| registry.register(&mut stderr, token(id, 2), Interest::READABLE));
        if let Err(e) = set_up {
            let _ = registry.deregister(&mut stdin);
            let _ = registry.deregister(&mut stdout);
            let _ = registry.deregister(&mut stderr);
            self.kill(child);
            return Err(Exit::Ended(format!(
                "cannot poll the recogniser's pipes: {e}"
            )));
        }
        tracing::info!(
            path = %path,
            pid = child.id(),
            command = %self.recogniser.describe(),
            "speech recogniser started"
        );
        self.running.insert(
            id,
            Running {
                path,
                child,
                stdin: Some(stdin),
                stdout,
                stderr: Some(stderr),
                tail: Vec::new(),
                stderr_bucket: TokenBucket::new(STDERR_RATE, 2 * STDERR_RATE, now),
                stdin_ready: true,
                stdout_ready: true,
                stderr_ready: true,
                ending: None,
            },
        );
        Ok(())
    }

    /// Readiness of a recogniser's pipe (`token` is one of [`owns`]'s).
    pub fn ready(&mut self, token: Token) {
        let offset = token.0 - FIRST_TOKEN;
        let (key, pipe) = (offset / 3, offset % 3);
        if let Some(r) = self
            .running
            .iter_mut()
            .find(|(id, _)| **id as usize % (1 << 40) == key)
            .map(|(_, r)| r)
        {
            match pipe {
                0 => r.stdin_ready = true,
                1 => r.stdout_ready = true,
                _ => r.stderr_ready = true,
            }
        }
    }

    /// The listeners whose recogniser runs.
    pub fn ids(&self) -> Vec<ListenerId> {
        self.running.keys().copied().collect()
    }

    /// Writes `input` to recogniser `id`'s stdin at `now` as far as the pipe takes it; answers
    /// the bytes written.
    pub fn write(&mut self, id: ListenerId, input: &[u8], now: Instant) -> usize {
        let Some(r) = self.running.get_mut(&id) else {
            return 0;
        };
        let Some(stdin) = r
            .stdin
            .as_mut()
            .filter(|_| r.stdin_ready && r.ending.is_none())
        else {
            return 0;
        };
        let mut written = 0;
        while written < input.len() {
            match stdin.write(&input[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    r.stdin_ready = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // EPIPE: it closed its input, so it is ending.
                    r.ending.get_or_insert(now);
                    break;
                }
            }
        }
        written
    }

    /// Reads recogniser `id`'s stdout at `now`, at most `room` bytes, handing them to `take`;
    /// keeps the tail of its stderr. Answers whether it read all there was (`false`: more
    /// waits, read again when there is room).
    pub fn read(
        &mut self,
        id: ListenerId,
        room: usize,
        now: Instant,
        take: &mut dyn FnMut(&[u8]),
    ) -> bool {
        let Some(r) = self.running.get_mut(&id) else {
            return true;
        };
        read_stderr(r, &mut self.buf, now);
        let mut left = room;
        while r.stdout_ready && r.ending.is_none() {
            if left == 0 {
                return false;
            }
            let want = left.min(self.buf.len());
            match r.stdout.read(&mut self.buf[..want]) {
                Ok(0) => {
                    // It closed its output: it is ending (or already gone).
                    r.ending = Some(now);
                }
                Ok(n) => {
                    left -= n;
                    take(&self.buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => r.stdout_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => r.ending = Some(now),
            }
        }
        true
    }

    /// The recognisers that ended, each with what was left on its stdout (at most
    /// [`LAST_OUTPUT`] bytes: its last lines, which the exit must not lose) and how it went
    /// (the status, the tail of stderr); they are forgotten. One that closed its output but has
    /// not exited after [`EXIT_GRACE`] is killed. Also reaps the children killed earlier.
    pub fn ended(&mut self, now: Instant, registry: &Registry) -> Vec<(ListenerId, Vec<u8>, Exit)> {
        self.reaping
            .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        let mut ended = Vec::new();
        let ids: Vec<ListenerId> = self.running.keys().copied().collect();
        for id in ids {
            let Some(r) = self.running.get_mut(&id) else {
                continue;
            };
            let status = match r.child.try_wait() {
                Ok(Some(status)) => Some(status),
                Ok(None) => match r.ending {
                    Some(since) if now.saturating_duration_since(since) >= EXIT_GRACE => None,
                    _ => continue,
                },
                Err(_) => None,
            };
            let Some(mut r) = self.running.remove(&id) else {
                continue;
            };
            // What it wrote before it went, whether or not its readiness has been seen.
            let mut last_output = Vec::new();
            while last_output.len() < LAST_OUTPUT {
                let want = (LAST_OUTPUT - last_output.len()).min(self.buf.len());
                match r.stdout.read(&mut self.buf[..want]) {
                    Ok(0) => break,
                    Ok(n) => last_output.extend_from_slice(&self.buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            r.stderr_ready = true;
            read_stderr(&mut r, &mut self.buf, now);
            deregister(&mut r, registry);
            let last_words = last_line(&r.tail);
            let exit = match status {
                Some(s) if s.code() == Some(127) => Exit::NotFound(format!(
                    "{}: the shell found no such command ({last_words})",
                    self.recogniser.describe()
                )),
                Some(s) => Exit::Ended(format!("{}; stderr: {last_words:?}", describe(s))),
                None => Exit::Ended(format!(
                    "closed its output and did not exit: killed; stderr: {last_words:?}"
                )),
            };
            if status.is_none() {
                self.kill(r.child);
            }
            ended.push((id, last_output, exit));
        }
        ended
    }

    /// Kills `child`'s process group; reaps it now or later.
    fn kill(&mut self, mut child: Child) {
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) touches no memory; the group is the child's own (process_group(0)
        // made its id the group's), so nothing else is signalled.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.kill();
        if matches!(child.try_wait(), Ok(None)) {
            self.reaping.push(child);
        }
    }
}

impl Drop for Recognisers {
    fn drop(&mut self) {
        let running: Vec<Running> = self.running.drain().map(|(_, r)| r).collect();
        for r in running {
            self.kill(r.child);
        }
        for mut child in self.reaping.drain(..) {
            // Killed: the wait is short.
            let _ = child.wait();
        }
    }
}

fn deregister(r: &mut Running, registry: &Registry) {
    if let Some(mut stdin) = r.stdin.take() {
        let _ = registry.deregister(&mut stdin);
    }
    let _ = registry.deregister(&mut r.stdout);
    if let Some(mut stderr) = r.stderr.take() {
        let _ = registry.deregister(&mut stderr);
    }
}

/// Reads what waits on `r`'s stderr (no faster than [`STDERR_RATE`]), keeping the last
/// [`STDERR_TAIL`] bytes.
fn read_stderr(r: &mut Running, buf: &mut [u8], now: Instant) {
    let Some(stderr) = r.stderr.as_mut() else {
        return;
    };
    while r.stderr_ready {
        let room = usize::try_from(r.stderr_bucket.available(now)).unwrap_or(0);
        if room == 0 {
            // Read again on a later pass (the loop wakes at least every 100 ms).
            return;
        }
        let want = room.min(buf.len());
        match stderr.read(&mut buf[..want]) {
            Ok(0) => {
                r.stderr_ready = false;
            }
            Ok(n) => {
                r.stderr_bucket.take(n, now);
                r.tail.extend_from_slice(&buf[..n]);
                let excess = r.tail.len().saturating_sub(STDERR_TAIL);
                r.tail.drain(..excess);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => r.stderr_ready = false,
        }
    }
}

/// The last non-empty line of `tail`, for the log.
fn last_line(tail: &[u8]) -> String {
    let text = String::from_utf8_lossy(tail);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    line.chars().take(200).collect()
}

/// An exit status in words.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}
