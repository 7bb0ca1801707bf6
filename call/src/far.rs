//! The far side of a call: its live path played as soon as it is there, at a call's latency —
//! each picture shown as it is whole and the sound [`Settings::sound_ahead`] ahead of play
//! time (a player's default keeps 100 ms and more) — until it hangs up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use hdstream_client::inset::Inset;
use hdstream_client::{Options, Report};

use crate::Settings;

/// Between attempts to reach a far side that is not there yet.
const RETRY: Duration = Duration::from_millis(300);

/// Plays the far side until it hangs up, `stop` is raised or `deadline` passes; until it is
/// first there, tries again every [`RETRY`]. Returns the report of the connection that
/// played, and how many connections did.
pub fn watch(
    settings: &Settings,
    stop: &Arc<AtomicBool>,
    deadline: Option<Instant>,
    inset: Option<Arc<Inset>>,
) -> Result<(Report, u64)> {
    let mut tries = 0u64;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if stop.load(Ordering::SeqCst) || left.is_some_and(|l| l.is_zero()) {
            anyhow::bail!(
                "the far side {} never answered ({tries} attempts)",
                settings.far
            );
        }
        tries += 1;
        let options = options(settings, stop, left, inset.clone());
        match hdstream_client::play(&options) {
            Ok(report) if report.frames_displayed > 0 => {
                tracing::info!(far = %settings.far, "the far side hung up");
                return Ok((report, 1));
            }
            Ok(_) => tracing::debug!(far = %settings.far, "the far side sent nothing yet"),
            Err(e) => {
                if tries == 1 {
                    tracing::info!(far = %settings.far, error = %e, "waiting for the far side");
                } else {
                    tracing::debug!(far = %settings.far, error = %e, "still waiting");
                }
            }
        }
        std::thread::sleep(RETRY);
    }
}

/// The player's options for a call.
fn options(
    settings: &Settings,
    stop: &Arc<AtomicBool>,
    left: Option<Duration>,
    inset: Option<Arc<Inset>>,
) -> Options {
    let mut options = Options::url(&settings.far);
    options.transport = settings.transport;
    options.headless = settings.headless;
    options.live_low_latency = true;
    options.sound_ahead = settings.sound_ahead;
    options.sound_margin = settings.sound_margin;
    options.duration = left;
    options.stop = Some(Arc::clone(stop));
    options.inset = inset;
    options.audio_out.clone_from(&settings.audio_out);
    options.audio_device = if settings.headless {
        hdstream_client::options::AudioDevice::None
    } else {
        settings.audio_device.clone()
    };
    options.record_frames = settings.record_frames;
    options
}
