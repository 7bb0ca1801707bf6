//! The playback benchmark: plays test streams at several resolutions through hdstream's server
//! and client, and through the peers (GStreamer with and without colour conversion, ffmpeg,
//! gst-rtsp-server) on the same files for the same seconds, and reports fps, loss, latency, CPU
//! (also per frame shown) and memory side by side. With `--live`, a publisher, our server and
//! N viewers of a live path instead ([`hdstream_benches::live`]); with `--av`, the lip-sync
//! benchmark ([`hdstream_benches::av`]); with `--call`, two calls calling each other
//! ([`hdstream_benches::call`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use hdstream_benches::media::{self, Resolution};
use hdstream_benches::peers::{self, GstOutput, Received, Transport};
use hdstream_benches::plot;
use hdstream_benches::report::{self, Row};
use hdstream_video::encoder::Restart;

/// Plays MJPEG test streams (made on first use under target/media/) at each resolution through
/// hdstream-server → hdstream-client, and the peers beside them: GStreamer's rtspsrc pipeline
/// (twice: decoding only, and decoding then converting to BGRx pixels as our client does) and
/// ffmpeg against our server, our client against gst-rtsp-server. Prints a table (with each
/// receiver's CPU ms per frame shown) and writes results.json, results.csv and plots
/// (fps.png/svg, latency.png/svg) into --out.
///
/// --live: the live benchmark. hdstream-publish publishes each resolution's test file (looped,
/// real time, 30 fps, TCP) into hdstream-server's rtsp://…/live/bench, and for each --viewers
/// count N, N viewers watch it at once for --seconds: ONE hdstream-client decodes and shows
/// headless (fps, loss, capture-to-display latency p50/p99/max from the publisher's capture
/// clock), the other N-1 are receive-only RTSP sessions that count complete frames (RFC 2435
/// fragments up to the marker bit) and sequence gaps, so "every viewer got every frame" is
/// checked for all N without N decoders. Then, with N = 1, the peers as the viewer (GStreamer,
/// with and without BGRx conversion; ffmpeg up to 2040 px), and a record-only comparison:
/// hdstream-publish into gst-rtsp-server in RECORD mode (which cannot relay to viewers) and
/// into ours, nobody watching. Server and publisher CPU are over the viewing window. Default
/// 720p30,1080p30,1440p30,2160p30 × 1,10,50 viewers, 10 s; --quick: 720p30,1080p30, 3 s.
/// Writes live.json, live.csv, live-record.csv, live-latency.png/svg and live-frames.png/svg
/// into --out:
///
///   playback --live
///   playback --live --resolutions 1080p30 --viewers 1,5,20 --transport tcp
///
/// --av: the lip-sync benchmark. A test file whose picture flashes at each whole second and
/// whose sound (NAME.wav beside it, 48 kHz stereo L16) clicks at each flash — what
/// `encode_mjpeg --flash --tone-wav` makes — is served by hdstream-server and played over each
/// transport by hdstream-client --headless --audio-out (its audio_video_offset_ms over every
/// picture shown, underruns, concealed and lost audio packets, and the clicks in the WAV it
/// played against the flashes' media times), by ffmpeg (-c copy into Matroska) and by
/// GStreamer (rtspsrc, rtpbin, into matroskamux): flash frames' times against click times,
/// as server/tests/lipsync.rs measures them. Positive offsets: the sound comes later. Default
/// 720p30,1080p30, 10 s, udp and tcp; --quick: 720p30, 3 s. Writes av.json, av.csv and
/// av.png/svg into --out:
///
///   playback --av --quick
///   playback --av --resolutions 1080p30 --transport tcp --peers ffmpeg
///
/// --call: the two-way call benchmark. Two hdstream-call processes on loopback call each
/// other (each embeds a server, publishes its camera with the tone and plays the other,
/// headless): per direction, the far side's capture to this screen (p50/p99/max), frames
/// sent, shown, lost and late, the sound against the picture, and each side's CPU. The camera
/// is the resolution's MJPEG test file (as a USB camera delivers MJPEG), and at the first
/// resolution also the pattern encoded live on the host. Default 720p30,1080p30, 10 s;
/// --quick: 720p30, 5 s. Writes call.json, call.csv and call.png/svg into --out:
///
///   playback --call
///   playback --call --resolutions 1080p30 --seconds 30
#[derive(Debug, Parser)]
#[command(name = "playback", version, verbatim_doc_comment)]
struct Args {
    /// Rows to run, e.g. 720p30,1440p60 [default: 360p30,720p30,1080p30,1440p30,1440p60,2160p30;
    /// with --live 720p30,1080p30,1440p30,2160p30].
    #[arg(long, value_delimiter = ',', value_parser = Resolution::parse)]
    resolutions: Vec<Resolution>,
    /// Seconds of video per run.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Lower transport for RTP (--live: the viewers'; the publisher uses TCP) [default: udp;
    /// with --av both].
    #[arg(long, value_enum)]
    transport: Option<Which>,
    /// 3 s per resolution on 720p30, 1080p30 and 1440p30 (--live: 720p30 and 1080p30; --av:
    /// 720p30).
    #[arg(long)]
    quick: bool,
    /// The live benchmark: a publisher, our server and N viewers of a live path (see above).
    #[arg(long, conflicts_with_all = ["clients", "impair", "serial_peers"])]
    live: bool,
    /// The lip-sync benchmark (see above).
    #[arg(long, conflicts_with_all = ["live", "clients", "impair", "serial_peers"])]
    av: bool,
    /// The two-way call benchmark (see above).
    #[arg(long, conflicts_with_all = ["live", "av", "clients", "impair", "serial_peers"])]
    call: bool,
    /// --live: viewer counts, one run each (one decoding viewer, the rest receive-only).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,10,50",
        requires = "live"
    )]
    viewers: Vec<usize>,
    /// Which peers to run beside ours (comma-separated). With --live: gstreamer,
    /// gstreamer-bgrx and ffmpeg watch the live path alone; gst-rtsp-server is the record-only
    /// comparison.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "gstreamer,gstreamer-bgrx,ffmpeg,gst-rtsp-server"
    )]
    peers: Vec<Peer>,
    /// Where results, CSV, JSON and plots go.
    #[arg(long, default_value = "target/playback")]
    out: PathBuf,
    /// Where test media is cached.
    #[arg(long)]
    media_dir: Option<PathBuf>,
    /// Do not (re)build the release binaries the run starts (server and client; the relay with
    /// --impair, the publisher with --live, hdstream-call with --call); by default one `cargo
    /// build` of them runs while the test media is made.
    #[arg(long)]
    no_build: bool,
    /// Server capacity: ramp 1, 2, 4, … up to N concurrent receivers (no decoding) per
    /// resolution and report the highest count at which every receiver got every packet.
    #[arg(long, value_name = "N")]
    clients: Option<usize>,
    /// Play through the impairment relay, e.g. loss=1%,jitter=20ms,reorder=2% (UDP only).
    /// Give it several times for a sweep (e.g. --impair loss=1% --impair loss=2%
    /// --impair loss=5% --impair loss=1%,delay=20ms): every row runs under each, and
    /// loss.png plots the frames shown against the impairment. Adds the rows that show what
    /// repair is worth (ours and GStreamer's without it) and ours on restart-marker media
    /// without repair (what concealment alone is worth).
    #[arg(long, value_name = "SPEC")]
    impair: Vec<String>,
    /// Run the peers one after another instead of side by side (slower; use it to see whether
    /// running them together changed their figures).
    #[arg(long)]
    serial_peers: bool,
    /// Seed of the impairment relay.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Udp,
    Tcp,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Peer {
    /// GStreamer against our server: rtspsrc ! rtpjpegdepay ! jpegdec ! fakesink (JPEG to I420,
    /// no colour conversion).
    Gstreamer,
    /// The same with videoconvert ! video/x-raw,format=BGRx before the sink: JPEG to 32-bit
    /// pixels, the work our client does ("gstreamer (BGRx)" rows).
    GstreamerBgrx,
    /// ffmpeg -f null against our server.
    Ffmpeg,
    /// Our client against gst-rtsp-server (--live: hdstream-publish into gst-rtsp-server in
    /// RECORD mode, beside ours, nobody watching).
    GstRtspServer,
    /// No peers, ours only.
    None,
}

/// The release binaries a run needs, built by one `cargo build` in the background while the
/// test media is made ([`Build::wait`] before the first row). hdstream-benches depends on the
/// server's, client's and tools' libraries, so `cargo run --release -p hdstream-benches` has
/// already compiled them and every crate below them; this build compiles and links only the
/// binaries' own `main`s, with the same features (`-p hdstream-benches` is among the packages,
/// so cargo resolves them as it did for `cargo run`).
#[derive(Debug)]
struct Build {
    /// Waits for cargo; its exit status and when it ended.
    waiter: Option<std::thread::JoinHandle<std::io::Result<(std::process::ExitStatus, Instant)>>>,
    bins: Vec<&'static str>,
    started: Instant,
}

impl Build {
    /// Starts building `bins` (names of binary targets), unless `--no-build`.
    fn start(args: &Args, bins: &[&'static str]) -> Result<Build> {
        let mut build = Build {
            waiter: None,
            bins: bins.to_vec(),
            started: Instant::now(),
        };
        if args.no_build {
            return Ok(build);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // No default features, as hdstream-benches asks for the client (no window, no sound
        // device): with them, naming `-p hdstream-client` would compile its library again.
        cmd.args([
            "build",
            "--release",
            "--quiet",
            "--no-default-features",
            "-p",
            "hdstream-benches",
        ]);
        let mut packages: Vec<&str> = bins.iter().map(|b| package_of(b)).collect();
        packages.dedup();
        for package in packages {
            cmd.args(["-p", package]);
        }
        for bin in bins {
            cmd.args(["--bin", bin]);
        }
        cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdin(std::process::Stdio::null());
        // What `cargo run` told this process about itself is not for the build: ring's build
        // script reruns when CARGO_MANIFEST_DIR differs from the last build's, and with it
        // ring, rustls, the server and the client were compiled again here, and once more by
        // the next `cargo run` (1.5 minutes each time on this machine).
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                ]
                .contains(&name.as_ref())
            {
                cmd.env_remove(name.as_ref());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run cargo to build {}", bins.join(", ")))?;
        build.waiter = Some(std::thread::spawn(move || {
            child.wait().map(|status| (status, Instant::now()))
        }));
        Ok(build)
    }

    /// Waits for the build to finish; an error when it failed.
    fn wait(mut self) -> Result<()> {
        let Some(waiter) = self.waiter.take() else {
            return Ok(());
        };
        let media_done = Instant::now();
        let (status, ended) = waiter
            .join()
            .map_err(|_| anyhow::anyhow!("the thread waiting for cargo panicked"))?
            .context("waiting for cargo")?;
        if !status.success() {
            bail!("building {} failed", self.bins.join(", "));
        }
        eprintln!(
            "built {} in {:.1} s (beside the media; {:.1} s waited for it after them)",
            self.bins.join(", "),
            ended.duration_since(self.started).as_secs_f64(),
            ended.saturating_duration_since(media_done).as_secs_f64()
        );
        Ok(())
    }
}

impl Drop for Build {
    /// A build left running by an early error is waited for (cargo holds the target dir's lock).
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.join();
        }
    }
}

/// The package a binary the benchmark runs belongs to.
fn package_of(bin: &str) -> &'static str {
    match bin {
        "hdstream-server" => "hdstream-server",
        "hdstream-client" => "hdstream-client",
        "hdstream-call" => "hdstream-call",
        _ => "hdstream-tools", // impair, hdstream-publish
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    if args.live {
        return live(&args, started);
    }
    if args.av {
        return av(&args, started);
    }
    if args.call {
        return call(&args, started);
    }
    let (resolutions, seconds) = if args.quick {
        let r = media::QUICK
            .iter()
            .map(|s| Resolution::parse(s).expect("preset"))
            .collect();
        (r, 3)
    } else if args.resolutions.is_empty() {
        (
            media::DEFAULT
                .iter()
                .map(|s| Resolution::parse(s).expect("preset"))
                .collect(),
            args.seconds,
        )
    } else {
        (args.resolutions.clone(), args.seconds)
    };
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    let mut bins = vec!["hdstream-server", "hdstream-client"];
    if !args.impair.is_empty() {
        bins.push("impair");
    }
    let build = Build::start(&args, &bins)?;
    let transports = args.transports(Which::Udp);
    let want = |p: Peer| args.peers.contains(&p);
    let want_gst = want(Peer::Gstreamer) || want(Peer::GstreamerBgrx);
    let have_gst = want_gst && peers::available("gst-launch-1.0");
    let have_ffmpeg = want(Peer::Ffmpeg) && peers::available("ffmpeg");
    let have_gst_server = want(Peer::GstRtspServer) && peers::gst_server_available();
    if want_gst && !have_gst {
        eprintln!(
            "GStreamer client skipped: apt-get install -y gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good"
        );
    }
    if want(Peer::Ffmpeg) && !have_ffmpeg {
        eprintln!("ffmpeg skipped: apt-get install -y ffmpeg");
    }
    if want(Peer::GstRtspServer) && !have_gst_server {
        eprintln!(
            "gst-rtsp-server skipped: apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good ffmpeg"
        );
    }
    let files = plain_files(&args, &resolutions, seconds)?;
    // Under loss, the same pictures with restart markers, for the concealment row.
    let restart_files: Vec<Option<PathBuf>> = if args.impair.is_empty() {
        vec![None; files.len()]
    } else {
        media::ensure_all(
            &args.media_dir(),
            &resolutions,
            seconds,
            media::RESTART_VARIANT,
        )?
        .into_iter()
        .map(Some)
        .collect()
    };
    build.wait()?;
    let mut pairs = vec![(Sender::Ours, Receiver::Ours)];
    for (peer, output) in [
        (Peer::Gstreamer, GstOutput::Decoded),
        (Peer::GstreamerBgrx, GstOutput::Bgrx),
    ] {
        if have_gst && want(peer) {
            pairs.push((Sender::Ours, Receiver::Gstreamer(output)));
        }
    }
    if !args.impair.is_empty() {
        // Under loss: what repair (NACK + RTX) is worth, ours and GStreamer's; and what
        // concealment is worth on its own.
        pairs.push((Sender::Ours, Receiver::OursNoRepair));
        pairs.push((Sender::Ours, Receiver::OursRestartNoRepair));
        if have_gst && want(Peer::Gstreamer) {
            pairs.push((Sender::Ours, Receiver::GstreamerNoRtx));
        }
    }
    if have_ffmpeg {
        pairs.push((Sender::Ours, Receiver::Ffmpeg));
    }
    if have_gst_server {
        pairs.push((Sender::GstServer, Receiver::Ours));
    }
    let mut rows = Vec::new();
    let phases = if pairs.len() > 1 && !args.serial_peers {
        2
    } else {
        pairs.len()
    };
    let impairs: Vec<Option<&str>> = if args.impair.is_empty() {
        vec![None]
    } else {
        args.impair.iter().map(|s| Some(s.as_str())).collect()
    };
    let total = impairs.len() * files.len() * transports.len() * phases;
    let mut done = 0;
    for (&impair, ((res, file), restart_file)) in impairs
        .iter()
        .flat_map(|i| std::iter::repeat(i).zip(files.iter().zip(&restart_files)))
    {
        for &transport in &transports {
            // Ours alone first: the figures that matter most get the machine to themselves.
            // Then the peers, all at once (each pair with its own sender process) unless
            // --serial-peers: each row's CPU and memory are its own processes' either way.
            let mut groups: Vec<Vec<(Sender, Receiver)>> = vec![vec![pairs[0]]];
            if args.serial_peers {
                groups.extend(pairs[1..].iter().map(|&p| vec![p]));
            } else if pairs.len() > 1 {
                groups.push(pairs[1..].to_vec());
            }
            for group in groups {
                done += 1;
                let names: Vec<String> = group
                    .iter()
                    .map(|(s, r)| format!("{} ← {}", r.name(), s.name()))
                    .collect();
                eprintln!(
                    "[{done}/{total}] {} {}{}: {} ({} s, {:.0} s elapsed)",
                    res.name(),
                    transport.name(),
                    impair.map(|i| format!(" {i}")).unwrap_or_default(),
                    names.join(", "),
                    seconds,
                    started.elapsed().as_secs_f64()
                );
                let results: Vec<Result<Row>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = group
                        .iter()
                        .enumerate()
                        .map(|(i, &(sender, receiver))| {
                            let file = match (receiver, restart_file) {
                                (Receiver::OursRestartNoRepair, Some(f)) => f,
                                _ => file,
                            };
                            let link = Link {
                                impair,
                                seed: args.seed,
                            };
                            scope.spawn(move || {
                                run(*res, file, transport, seconds, sender, receiver, link, i)
                            })
                        })
                        .collect();
                    handles.into_iter().filter_map(|h| h.join().ok()).collect()
                });
                for r in results {
                    rows.push(r?);
                }
            }
        }
    }
    println!("{}", report::table(&rows));
    let (capacity, ramps) = match args.clients {
        Some(max) => {
            let (json, ramps) = capacity(&files, max, seconds, have_gst_server)?;
            (Some(json), Some(ramps))
        }
        None => (None, None),
    };
    let extra = serde_json::json!({
        "seconds": seconds,
        "impair": args.impair,
        "seed": args.seed,
        "capacity": capacity,
        "wall_s": started.elapsed().as_secs_f64(),
    });
    report::write(&args.out, &rows, &extra)?;
    plotted("plots", plot::write(&args.out, &rows));
    if let Some((ramps, plain)) = &ramps {
        plotted("capacity plots", plot::capacity(&args.out, ramps, *plain));
    }
    eprintln!(
        "results: {}/results.json, results.csv ({:.0} s in all)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--live`: the live benchmark ([`hdstream_benches::live`]).
fn live(args: &Args, started: Instant) -> Result<()> {
    use hdstream_benches::live;
    let presets = |names: &[&str]| -> Vec<Resolution> {
        names
            .iter()
            .map(|s| Resolution::parse(s).expect("preset"))
            .collect()
    };
    let (resolutions, seconds) = if args.quick {
        (presets(&live::QUICK), 3)
    } else if args.resolutions.is_empty() {
        (presets(&live::DEFAULT), args.seconds)
    } else {
        (args.resolutions.clone(), args.seconds)
    };
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    if args.viewers.is_empty() || args.viewers.contains(&0) {
        bail!("--viewers: counts of at least 1, e.g. 1,10,50");
    }
    let build = Build::start(
        args,
        &["hdstream-server", "hdstream-client", "hdstream-publish"],
    )?;
    let want = |p: Peer| args.peers.contains(&p);
    let gst =
        (want(Peer::Gstreamer) || want(Peer::GstreamerBgrx)) && peers::available("gst-launch-1.0");
    let ffmpeg = want(Peer::Ffmpeg) && peers::available("ffmpeg");
    let gst_record = want(Peer::GstRtspServer) && peers::gst_server_available();
    if want(Peer::GstRtspServer) && !gst_record {
        eprintln!(
            "gst-rtsp-server skipped: apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good"
        );
    }
    let files = plain_files(args, &resolutions, seconds)?;
    build.wait()?;
    let plan = live::Plan {
        files,
        viewers: args.viewers.clone(),
        seconds,
        transports: args.transports(Which::Udp),
        gstreamer: gst && want(Peer::Gstreamer),
        gstreamer_bgrx: gst && want(Peer::GstreamerBgrx),
        ffmpeg,
        gst_record,
    };
    let rows = live::run(&plan, &args.out, started)?;
    plotted("plots", plot::live(&args.out, &rows));
    Ok(())
}

impl Args {
    /// Where the test media are: `--media-dir`, or `target/media/`.
    fn media_dir(&self) -> PathBuf {
        self.media_dir.clone().unwrap_or_else(media::default_dir)
    }

    /// The transports `--transport` asks for, `default` without it.
    fn transports(&self, default: Which) -> Vec<Transport> {
        match self.transport.unwrap_or(default) {
            Which::Udp => vec![Transport::Udp],
            Which::Tcp => vec![Transport::Tcp],
            Which::Both => vec![Transport::Udp, Transport::Tcp],
        }
    }
}

/// The plain test media (no restart markers) of each of `resolutions` lasting `seconds`, made
/// now where missing.
fn plain_files(
    args: &Args,
    resolutions: &[Resolution],
    seconds: u32,
) -> Result<Vec<(Resolution, PathBuf)>> {
    let files = media::ensure_all(&args.media_dir(), resolutions, seconds, Restart::None)?;
    Ok(resolutions.iter().copied().zip(files).collect())
}

/// The rows and seconds of `--av` and `--call`: `--resolutions` (720p30 and 1080p30 by
/// default) for `--seconds`, or with `--quick` 720p30 for `quick_seconds`.
fn sound_rows(args: &Args, quick_seconds: u32) -> (Vec<Resolution>, u32) {
    if args.quick {
        return (
            vec![Resolution::parse("720p30").expect("preset")],
            quick_seconds,
        );
    }
    let resolutions = if args.resolutions.is_empty() {
        ["720p30", "1080p30"]
            .iter()
            .map(|s| Resolution::parse(s).expect("preset"))
            .collect()
    } else {
        args.resolutions.clone()
    };
    (resolutions, args.seconds)
}

/// `playback --av`: the lip-sync benchmark ([`hdstream_benches::av`]).
fn av(args: &Args, started: Instant) -> Result<()> {
    use hdstream_benches::av::{self, Player};
    let (resolutions, seconds) = sound_rows(args, 3);
    if seconds < 2 {
        bail!("--av: --seconds must be at least 2 (a flash each second)");
    }
    let build = Build::start(args, &["hdstream-server", "hdstream-client"])?;
    let transports = args.transports(Which::Both);
    let want = |p: Peer| args.peers.contains(&p);
    let mut players = vec![Player::Ours];
    // Both peers' figures are read back with ffmpeg and ffprobe.
    let have_ffmpeg = peers::available("ffmpeg");
    if !have_ffmpeg {
        eprintln!(
            "ffmpeg and GStreamer skipped (ffmpeg reads their files): apt-get install -y ffmpeg"
        );
    }
    if have_ffmpeg && want(Peer::Ffmpeg) {
        players.push(Player::Ffmpeg);
    }
    if have_ffmpeg && (want(Peer::Gstreamer) || want(Peer::GstreamerBgrx)) {
        if peers::available("gst-launch-1.0") {
            players.push(Player::Gstreamer);
        } else {
            eprintln!(
                "GStreamer skipped: apt-get install -y gstreamer1.0-tools gstreamer1.0-plugins-good"
            );
        }
    }
    let media_dir = args.media_dir();
    let files: Vec<(Resolution, PathBuf)> = resolutions
        .iter()
        .map(|&r| media::ensure_av(&media_dir, r, seconds).map(|p| (r, p)))
        .collect::<Result<_>>()?;
    build.wait()?;
    let work = av::work_dir();
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let total = files.len() * transports.len() * players.len();
    let mut rows = Vec::new();
    for (res, file) in &files {
        for &transport in &transports {
            for &player in &players {
                eprintln!(
                    "[{}/{total}] {} {} {} ({} s, {:.0} s elapsed)",
                    rows.len() + 1,
                    res.name(),
                    transport.name(),
                    player.name(),
                    seconds,
                    started.elapsed().as_secs_f64()
                );
                rows.push(av::run(*res, file, transport, seconds, player, &work));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("{}", av::table(&rows));
    finish(args, started, "av", &rows, seconds, plot::av)
}

/// `playback --call`: the two-way call benchmark ([`hdstream_benches::call`]).
fn call(args: &Args, started: Instant) -> Result<()> {
    use hdstream_benches::call;
    let (resolutions, seconds) = sound_rows(args, 5);
    let build = Build::start(args, &["hdstream-call"])?;
    let work = std::env::temp_dir().join(format!("hdstream-call-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let mut runs: Vec<(Resolution, call::Camera)> = plain_files(args, &resolutions, seconds)?
        .into_iter()
        .map(|(r, p)| (r, call::Camera::File(p)))
        .collect();
    build.wait()?;
    if let Some(&first) = resolutions.first() {
        runs.push((first, call::Camera::Pattern));
    }
    let mut rows = Vec::new();
    for (i, (res, camera)) in runs.iter().enumerate() {
        eprintln!(
            "[{}/{}] call at {}, camera {} ({} s, {:.0} s elapsed)",
            i + 1,
            runs.len(),
            res.name(),
            camera.name(),
            seconds,
            started.elapsed().as_secs_f64()
        );
        rows.extend(call::run(*res, camera, seconds, &work));
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("{}", call::table(&rows));
    finish(args, started, "call", &rows, seconds, plot::call)
}

/// The end of `--av` and `--call`: `stem`.json and `stem`.csv in `--out` (with the seconds
/// and the wall time), then the plots `plot` draws from the rows.
fn finish<T: serde::Serialize>(
    args: &Args,
    started: Instant,
    stem: &str,
    rows: &[T],
    seconds: u32,
    plot: fn(&Path, &[T]) -> Result<Vec<String>>,
) -> Result<()> {
    let extra = serde_json::json!({
        "seconds": seconds,
        "wall_s": started.elapsed().as_secs_f64(),
    });
    report::write_named(&args.out, stem, rows, &extra)?;
    plotted("plots", plot(&args.out, rows));
    Ok(())
}

/// Says on stderr which `what` files a plot wrote, or why it was skipped.
fn plotted(what: &str, drawn: Result<Vec<String>>) {
    match drawn {
        Ok(files) => eprintln!("{what}: {}", files.join(", ")),
        Err(e) => eprintln!("{what} skipped: {e:#}"),
    }
}

/// A row, or a row saying the run failed.
fn row(
    res: Resolution,
    transport: Transport,
    sender: &str,
    receiver: &str,
    seconds: u32,
    rx: Result<Received>,
    server: hdstream_benches::process::Usage,
) -> Row {
    match rx {
        Ok(rx) => Row::new(res, transport, sender, receiver, seconds, &rx, server),
        Err(e) => {
            let failed = Received {
                note: Some(format!("failed: {e:#}")),
                ..Received::default()
            };
            Row::new(res, transport, sender, receiver, seconds, &failed, server)
        }
    }
}

/// What a row plays through: loopback, or the impairment relay.
#[derive(Debug, Clone, Copy)]
struct Link<'a> {
    /// The relay's impairments (`--impair`), or none.
    impair: Option<&'a str>,
    /// The relay's seed.
    seed: u64,
}

/// The impairment relay in front of `url`, when the link has one.
fn impaired(url: &str, link: Link<'_>) -> Result<Option<peers::Relay>> {
    match link.impair {
        Some(spec) => peers::relay(url, spec, link.seed).map(Some),
        None => Ok(None),
    }
}

/// The capacity ramp for each file and each sender (ours, and gst-rtsp-server when `peers`
/// allows): 1, 2, 4, … light receivers until more than 0.1 % of the stream's packets fail to
/// arrive, then a bisection between the last good and the first bad count. A packet that
/// "fails to arrive" is one the receiver's sequence numbers say was lost, or one the stream
/// should have carried but the sender never sent (a sender that falls behind skips whole
/// frames: their packets have no sequence numbers at all), judged against one receiver's count.
/// Reports the highest count with every packet, and the highest with at most 0.1 % missing.
fn capacity(
    files: &[(Resolution, PathBuf)],
    max: usize,
    seconds: u32,
    with_gst: bool,
) -> Result<(serde_json::Value, (Vec<plot::Ramp>, f64))> {
    use hdstream_benches::load;
    let plain = load::plain_udp_rate(1372, 2.0)?;
    eprintln!("plain loopback UDP sender: {plain:.0} datagrams/s of 1372 bytes");
    let mut senders = vec![Sender::Ours];
    if with_gst {
        senders.push(Sender::GstServer);
    }
    let mut out = Vec::new();
    let mut ramps = Vec::new();
    for (res, file) in files {
        for &sender in &senders {
            let mut steps = Vec::new();
            let mut points = Vec::new();
            let mut nominal = 0.0f64;
            let mut step = |n: usize| -> Result<(bool, f64, f64, f64)> {
                let server = match sender {
                    Sender::Ours => peers::our_server_looping(file, res.fps)?,
                    Sender::GstServer => peers::gst_server(file, res.fps, false)?,
                };
                let counts = load::receivers(&server.url, n, f64::from(seconds));
                let usage = server.stop()?;
                let received: u64 = counts.iter().map(|c| c.received).sum();
                let seq_lost: u64 = counts.iter().map(|c| c.lost()).sum();
                let failed = counts.iter().filter(|c| c.failed).count();
                if n == 1 {
                    nominal = received as f64;
                }
                let due = nominal * n as f64;
                let missing = 100.0 * (1.0 - received as f64 / due.max(1.0)).max(0.0);
                let every = seq_lost == 0 && failed == 0 && missing <= 0.1;
                let rate = received as f64 / f64::from(seconds);
                eprintln!(
                    "capacity {} {}: {n} receivers, {received} packets of {due:.0} due ({missing:.2}% missing, {seq_lost} lost by sequence number, {failed} receivers failed), {rate:.0} packets/s, server CPU {:.1}%",
                    res.name(),
                    sender.name(),
                    usage.cpu_percent()
                );
                points.push((n, rate));
                steps.push(serde_json::json!({
                    "clients": n, "packets_received": received, "packets_due": due,
                    "missing_pct": missing, "lost_by_sequence": seq_lost, "failed_receivers": failed,
                    "packets_per_s": rate, "server_cpu_pct": usage.cpu_percent(),
                }));
                Ok((every && seq_lost == 0, missing, rate, usage.cpu_percent()))
            };
            let (mut good, mut bad) = (0usize, None::<usize>);
            let mut best = (0.0, 0.0); // packets/s and server CPU at `good`
            let mut every_packet = 0;
            let mut n = 1;
            while n <= max {
                let (every, missing, rate, cpu) = step(n)?;
                if every && every_packet == good {
                    every_packet = n;
                }
                if missing > 0.1 || rate == 0.0 {
                    bad = Some(n);
                    break;
                }
                good = n;
                best = (rate, cpu);
                if n == max {
                    break;
                }
                n = (n * 2).min(max);
            }
            // Bisect between the last good and the first bad count, to within an eighth.
            if let Some(mut hi) = bad {
                while hi - good > (good / 8).max(1) {
                    let mid = (good + hi) / 2;
                    let (every, missing, rate, cpu) = step(mid)?;
                    if missing > 0.1 || rate == 0.0 {
                        hi = mid;
                    } else {
                        if every && every_packet == good {
                            every_packet = mid;
                        }
                        good = mid;
                        best = (rate, cpu);
                    }
                }
            }
            eprintln!(
                "capacity {} {}: {good} receivers with at most 0.1% missing ({:.0} packets/s, {:.1}% of the plain sender's rate, server CPU {:.1}%); {every_packet} with every packet",
                res.name(),
                sender.name(),
                best.0,
                100.0 * best.0 / plain,
                best.1
            );
            out.push(serde_json::json!({
                "resolution": res.name(), "sender": sender.name(),
                "capacity": good, "capacity_every_packet": every_packet,
                "packets_per_s": best.0, "ratio_to_plain_udp": best.0 / plain,
                "server_cpu_pct": best.1, "steps": steps,
            }));
            ramps.push(plot::Ramp {
                label: format!("{} {}", sender.name(), res.name()),
                steps: points,
            });
        }
    }
    let json = serde_json::json!({ "plain_udp_datagrams_per_s": plain, "rows": out });
    Ok((json, (ramps, plain)))
}

/// Who sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    Ours,
    GstServer,
}

impl Sender {
    fn name(self) -> &'static str {
        match self {
            Sender::Ours => "hdstream-server",
            Sender::GstServer => "gst-rtsp-server",
        }
    }
}

/// Who receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiver {
    Ours,
    /// Ours with `--no-repair` (rows under `--impair`).
    OursNoRepair,
    /// Ours with `--no-repair` on the restart-marker copy of the media (rows under
    /// `--impair`): concealment alone.
    OursRestartNoRepair,
    Gstreamer(GstOutput),
    /// GStreamer (to I420) with `do-retransmission=false` (rows under `--impair`).
    GstreamerNoRtx,
    Ffmpeg,
}

impl Receiver {
    fn name(self) -> &'static str {
        match self {
            Receiver::Ours => "hdstream-client",
            Receiver::OursNoRepair => "hdstream-client --no-repair",
            Receiver::OursRestartNoRepair => "hdstream-client --no-repair, restart media",
            Receiver::GstreamerNoRtx => "gstreamer (no NACK)",
            Receiver::Gstreamer(GstOutput::Decoded) => "gstreamer",
            Receiver::Gstreamer(GstOutput::Bgrx) => "gstreamer (BGRx)",
            Receiver::Ffmpeg => "ffmpeg",
        }
    }
}

/// One playback of `file` from `sender` to `receiver` (through the relay with --impair).
#[allow(clippy::too_many_arguments)]
fn run(
    res: Resolution,
    file: &std::path::Path,
    transport: Transport,
    seconds: u32,
    sender: Sender,
    receiver: Receiver,
    link: Link<'_>,
    slot: usize,
) -> Result<Row> {
    let server = match sender {
        Sender::Ours => peers::our_server(file, res.fps)?,
        // Under loss, gst-rtsp-server offers retransmission (AVPF), as ours does.
        Sender::GstServer => peers::gst_server(file, res.fps, link.impair.is_some())?,
    };
    let relay = impaired(&server.url, link)?;
    let url = relay.as_ref().map_or(server.url.clone(), |r| r.url.clone());
    let json = std::env::temp_dir().join(format!(
        "hdstream-playback-{}-{slot}.json",
        std::process::id()
    ));
    let rx = match receiver {
        Receiver::Ours => peers::our_client(&url, transport, seconds, &json, &[]),
        Receiver::OursNoRepair | Receiver::OursRestartNoRepair => {
            peers::our_client(&url, transport, seconds, &json, &["--no-repair"])
        }
        Receiver::Gstreamer(output) => peers::gst_client(
            &url,
            transport,
            (seconds, res.fps),
            relay.is_some(),
            output,
            true,
        ),
        Receiver::GstreamerNoRtx => peers::gst_client(
            &url,
            transport,
            (seconds, res.fps),
            relay.is_some(),
            GstOutput::Decoded,
            false,
        ),
        Receiver::Ffmpeg => peers::ffmpeg_client(&url, transport, seconds),
    };
    let _ = std::fs::remove_file(&json);
    drop(relay);
    let usage = server.stop()?;
    let mut row = row(
        res,
        transport,
        sender.name(),
        receiver.name(),
        seconds,
        rx,
        usage,
    );
    row.impair = link.impair.unwrap_or_default().to_owned();
    if receiver == Receiver::Ffmpeg
        && row.frames_displayed == 0
        && (res.width > 2040 || res.height > 2040)
    {
        row.note = "ffmpeg's RTP/JPEG depacketizer cannot take frames over 2040 px (RFC 2435 size \
                    fields; it ignores a=x-dimensions)"
            .into();
    }
    Ok(row)
}
