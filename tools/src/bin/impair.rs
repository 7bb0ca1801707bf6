//! `impair`: an RTSP-aware relay that puts a bad network between an RTSP client and server.
//!
//! It accepts RTSP connections, forwards them to the upstream server, and rewrites each UDP
//! SETUP's `client_port` to a port pair of its own; RTP from the server then passes through a
//! seeded [`Link`] (loss, bursts, reordering, duplication, delay, jitter, rate) on its way to
//! the client. RTCP and interleaved (TCP) media pass unharmed. Every packet it drops or
//! duplicates is logged as a JSON line (`--log`), so tests can compare what the client reports
//! with what was really done.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Result;
use clap::Parser;
use hdstream_tools::impair::Impairment;
use hdstream_tools::relay;

/// Relays RTSP sessions from clients to an upstream server through an impaired link:
///
///   impair --upstream 127.0.0.1:8554 --listen 127.0.0.1:9554 --spec loss=2%,jitter=20ms --seed 7
///   hdstream-client rtsp://127.0.0.1:9554/clip.mjpeg
///
/// Impairments (--spec, comma-separated): loss=P%, burst=p%:r%:good%:bad% (Gilbert–Elliott),
/// reorder=P% (reorder-delay=2ms), dup=P%, delay=D, jitter=D (order kept), rate=50mbit.
/// Only RTP over UDP is impaired; RTCP and TCP-interleaved media pass unharmed.
#[derive(Debug, Parser)]
#[command(name = "impair", version, verbatim_doc_comment)]
struct Args {
    /// The RTSP server to relay to.
    #[arg(long)]
    upstream: SocketAddr,
    /// Where clients connect (port 0: any; the address is printed as `LISTEN addr`).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// What the link does to RTP packets.
    #[arg(long, default_value = "none")]
    spec: Impairment,
    /// Seed of the link's random choices (session k uses seed + k).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write one JSON line per dropped or duplicated RTP packet here.
    #[arg(long)]
    log: Option<std::path::PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let addr = relay::start(
        args.upstream,
        args.listen,
        args.spec,
        args.seed,
        args.log.as_deref(),
    )?;
    println!("LISTEN {addr}");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
