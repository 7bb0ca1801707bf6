//! The near side of a call: this side's camera and microphone published as a live path (into
//! the server the call embeds, or one both sides use), and its pictures decoded small for the
//! window's corner.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use hdstream_client::inset::Inset;
use hdstream_server::config::Config;
use hdstream_server::driver::{self, Listen};
use hdstream_server::media::Catalogue;
use hdstream_tools::publish::{self, Input};

use crate::{PATH, Publish, Settings};

/// The inset is decoded at most this often (the corner needs no more, and the machine's time
/// goes to the far side's pictures).
const INSET_EVERY: Duration = Duration::from_millis(66);
/// The inset's width as kept (it is drawn a quarter of the window wide).
const INSET_WIDTH: usize = 480;

/// This side's camera and microphone, being published.
pub struct Near {
    server: Option<driver::Handle>,
    publisher: JoinHandle<Result<publish::Report>>,
    inset: Option<(Arc<Inset>, JoinHandle<()>)>,
}

impl std::fmt::Debug for Near {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Near")
            .field("server", &self.server.as_ref().map(|s| s.rtsp))
            .finish_non_exhaustive()
    }
}

impl Near {
    /// Starts the embedded server (if the call has one) and the publisher; with a window, a
    /// thread that decodes the camera's pictures for the inset. The publisher runs until
    /// `stop` is raised.
    pub fn start(settings: &Settings, stop: &Arc<AtomicBool>) -> Result<Near> {
        let (server, url) = match &settings.publish {
            Publish::Embedded(addr) => {
                let listen = Listen {
                    bind: addr.ip(),
                    port: addr.port(),
                    rtp_port: None,
                };
                let handle =
                    driver::spawn(Config::default(), Arc::new(Catalogue::default()), listen)
                        .with_context(|| format!("cannot listen on {addr}"))?;
                // Published over loopback when the server listens on every address.
                let host = match handle.rtsp.ip() {
                    ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    ip => ip,
                };
                let url = format!(
                    "rtsp://{}/{PATH}",
                    std::net::SocketAddr::new(host, handle.rtsp.port())
                );
                tracing::info!(rtsp = %handle.rtsp, path = PATH, "the far side watches this side here");
                (Some(handle), url)
            }
            Publish::To(url) => (None, url.clone()),
        };
        let mut publishing = publish::Settings::new(settings.camera.clone(), url);
        publishing.fps = settings.fps;
        publishing.quality = settings.quality;
        publishing.audio = settings.mic.clone();
        publishing.audio_codec = settings.audio_codec;
        publishing.flash = matches!(settings.camera, Input::Pattern { .. })
            && settings.mic == Some(publish::AudioInput::Tone);
        let inset = if settings.headless {
            None
        } else {
            let (tx, rx) = sync_channel(2);
            publishing.tap = Some(tx);
            let inset = Arc::new(Inset::new());
            let feeder = {
                let inset = Arc::clone(&inset);
                std::thread::Builder::new()
                    .name("call-inset".into())
                    .spawn(move || feed(&rx, &inset))
                    .context("cannot start the inset thread")?
            };
            Some((inset, feeder))
        };
        let stop = Arc::clone(stop);
        let publisher = std::thread::Builder::new()
            .name("call-publish".into())
            .spawn(move || publish::run(&publishing, &stop))
            .context("cannot start the publisher")?;
        Ok(Near {
            server,
            publisher,
            inset,
        })
    }

    /// The picture for the window's corner (none when headless).
    pub fn inset(&self) -> Option<Arc<Inset>> {
        self.inset.as_ref().map(|(i, _)| Arc::clone(i))
    }

    /// Waits for the publisher (stopped by the flag it was started with), then stops the
    /// server: what was sent.
    pub fn finish(self) -> Result<publish::Report> {
        let sent = self
            .publisher
            .join()
            .map_err(|_| anyhow!("the publisher panicked"))?;
        if let Some((_, feeder)) = self.inset {
            let _ = feeder.join();
        }
        if let Some(server) = self.server {
            server.stop().context("the embedded server")?;
        }
        sent
    }
}

/// Decodes the camera's frames into `inset`, at most one per [`INSET_EVERY`], until the
/// publisher goes (the channel closes).
fn feed(frames: &Receiver<Vec<u8>>, inset: &Inset) {
    let mut decoder = hdstream_video::decoder::Decoder::new();
    let mut pixels = Vec::new();
    let mut last: Option<Instant> = None;
    while let Ok(jpeg) = frames.recv() {
        if last.is_some_and(|t| t.elapsed() < INSET_EVERY) {
            continue;
        }
        last = Some(Instant::now());
        match decoder.decode_0rgb(&jpeg, &mut pixels) {
            Ok(d) => inset.put(&pixels, d.width, d.height, INSET_WIDTH),
            Err(e) => tracing::debug!(error = %e, "a camera frame does not decode for the inset"),
        }
    }
}
