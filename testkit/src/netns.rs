//! Network namespaces a test makes for itself (`ip netns`), for tests where the kernel's
//! network matters: loss by an nftables rule, or two hosts with their own addresses joined by
//! a veth pair. Each is deleted when dropped. They need root (CI runs as root) and Debian's
//! `iproute2` (and `nftables` for rules); [`skip_without_root`] lets a developer's machine
//! without root skip such a test with a message, while CI fails it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A network namespace with its loopback up, deleted on drop.
#[derive(Debug)]
pub struct Namespace(String);

impl Namespace {
    /// `hdstream-<what>-<pid>`, loopback up.
    pub fn create(what: &str) -> Namespace {
        let name = format!("hdstream-{what}-{}", std::process::id());
        // One left behind by a killed run of the same process id.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        run(&["ip", "netns", "add", &name]);
        let ns = Namespace(name);
        run(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// A command run inside it.
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(args);
        c
    }

    /// Loads an nftables script inside it.
    pub fn nft(&self, script: &str) {
        let mut child = self
            .exec(&["nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft runs");
        std::io::Write::write_all(child.stdin.as_mut().expect("piped"), script.as_bytes())
            .expect("nft reads its script");
        drop(child.stdin.take());
        assert!(
            child.wait().expect("nft ends").success(),
            "nft accepted:\n{script}"
        );
    }

    /// Joins `self` and `other` by a veth pair, `self` at `a`, `other` at `b` (IPv4 addresses
    /// in one /24), both up.
    pub fn join(&self, a: &str, other: &Namespace, b: &str) {
        let (va, vb) = (format!("{}-a", veth_base()), format!("{}-b", veth_base()));
        run(&[
            "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
        ]);
        run(&["ip", "link", "set", &va, "netns", &self.0]);
        run(&["ip", "link", "set", &vb, "netns", &other.0]);
        for (ns, dev, addr) in [(self, &va, a), (other, &vb, b)] {
            run(&[
                "ip",
                "-n",
                &ns.0,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                dev,
            ]);
            run(&["ip", "-n", &ns.0, "link", "set", dev, "up"]);
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth ends in it.
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A veth name unique to the process (interface names are at most 15 bytes).
fn veth_base() -> String {
    format!("hv{}", std::process::id() % 10_000_000)
}

/// Runs a set-up command; a failure fails the test with what was run.
pub fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "{args:?} failed (needs root and iproute2)"
    );
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// True (after a message naming `what`) when a namespace test cannot run here: not root, and
/// not CI (under CI the test runs, and fails if it cannot make its namespaces).
pub fn skip_without_root(what: &str) -> bool {
    let skip = !is_root() && std::env::var_os("CI").is_none();
    if skip {
        eprintln!("{what}: needs root for network namespaces; skipped outside CI");
    }
    skip
}

/// Starts `cmd` (an `hdstream-server` in a namespace, say) and waits, at most 20 s, for the line
/// on its stderr that says it is listening; the rest of its stderr is read and dropped on a
/// thread of its own. Killed when the result is dropped.
pub fn start_listening(cmd: &mut Command) -> Killed {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts in its namespace");
    let stderr = child.stderr.take().expect("piped stderr");
    let child = Killed(child);
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "the server did not start listening"
        );
        match lines.next() {
            Some(Ok(l)) if l.contains("listening") => break,
            Some(Ok(_)) => {}
            _ => panic!("the server exited before listening"),
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// A child process killed when dropped (a failed assertion leaves nothing running).
#[derive(Debug)]
pub struct Killed(pub Child);

impl Killed {
    /// Waits up to `limit` for it to end by itself; `None` if it did not.
    pub fn wait_for(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
