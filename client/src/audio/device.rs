//! The sound device: the samples the output played (at the user's volume, the same the
//! `--audio-out` recording gets) heard through the machine's output, by `cpal` (ALSA on Linux,
//! CoreAudio on macOS, WASAPI on Windows).
//!
//! ```text
//!  driver ── push(chunk) ──▶ Ring (≤ 1 s, oldest dropped) ──▶ cpal callback ──▶ device
//!    │                        ▲ silence when empty (an underrun)
//!    └── open(format) ──▶ "hdstream-sound" thread: opens / reopens the stream
//! ```
//!
//! [`DeviceSink`] is the network thread's end. The device is opened lazily, when the first
//! samples of a format come, on a thread of its own (an open can take tens of milliseconds,
//! and the network thread must not wait), and opened again when the format changes. Without a
//! device (none on the machine, a name that is not there, a format it refuses) one warning
//! line says so and the samples are dropped: the video plays on.
//!
//! **Timing.** The output writes each sample [`AHEAD`](super::output::AHEAD) (100 ms) of its play time, as into a
//! device's buffer. So that it is heard at that play time, the first callback of a stream
//! starts with [`AHEAD`](super::output::AHEAD) of sound queued (silence in front of what was pushed, or the oldest
//! dropped): from then on ring plus device buffer hold the 100 ms the output writes ahead.
//! The device is asked for 20 ms periods (2 periods buffered, cpal's ALSA default) when it
//! offers them.
//!
//! **Pacing.** A real device calls back when it has room, at its own sample rate. A device
//! that does not wait (ALSA's `null` plugin takes everything at once) would make the callback
//! spin and play the ring out as fast as the CPU goes, with silence in between; so the callback
//! never hands out more than real time since the stream's first callback warrants plus the
//! device's buffer (two callbacks' worth, 5 ms and 0.1 % slack for a device whose clock runs
//! fast): past that it sleeps. A real device never gets that far ahead, so it never waits.
//!
//! When the ring runs dry and sound comes again (a seek, the video rebuffering: the output
//! wrote nothing ahead meanwhile), the lead is queued again the same way. While the playout
//! clock is paused the callback plays silence and leaves the ring as it is, so the sound goes
//! on where it stopped, on time.
//!
//! The ring has one owner (the [`Shared`] mutex, held for a copy); counts of underruns (the
//! ring ran dry while sound was playing: silence written, counted once until sound comes
//! back) and of frames dropped when it overflowed are logged at the end.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(feature = "sound")]
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
#[cfg(feature = "sound")]
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::clock::Clock;
use crate::options::AudioDevice;

/// The ring holds at most this much sound; past it the oldest is dropped.
pub const RING: Duration = Duration::from_secs(1);
/// The period asked of the device (it has two).
pub const PERIOD: Duration = Duration::from_millis(20);
/// [`DeviceSink::finish`] waits at most this long past the sound queued for it to be heard.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// What the device played: the counts logged at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// Sample frames of the track handed to the device.
    pub frames_played: u64,
    /// Times the ring ran dry while sound was playing.
    pub underruns: u64,
    /// Frames of silence written in those underruns.
    pub frames_silent: u64,
    /// Frames dropped because the ring was full (the device stalled or plays slow).
    pub frames_dropped: u64,
    /// Frames of silence put in front at a stream's start, so that [`AHEAD`](super::output::AHEAD) is queued and
    /// what was pushed is heard at its play time (frames dropped there for that are counted
    /// dropped).
    pub frames_lead: u64,
}

/// The ring between the network thread and the device's callback.
#[cfg_attr(not(feature = "sound"), allow(dead_code))]
#[derive(Debug, Default)]
struct Ring {
    samples: VecDeque<i16>,
    /// Samples per frame of what is pushed.
    channels: usize,
    /// The rate of what is pushed.
    rate: u32,
    /// The ring's bound, samples.
    capacity: usize,
    /// The stream's first callback came (the lead was set).
    started: bool,
    /// Frames of lead silence at the front of the ring still to be played.
    lead_pending: usize,
    /// Formats played so far: a stream plays only the ring of its own.
    generation: u64,
    /// In an underrun.
    dry: bool,
    /// No more sound will come: running dry is the end, not an underrun.
    ending: bool,
    /// The device could not be opened for this format: nothing is queued.
    failed: bool,
    /// The device was opened for this format.
    opened: bool,
    /// The device's buffer, frames (two callbacks' worth).
    device_buffer: u64,
    /// The device's rate (the stream's).
    device_rate: u32,
    counters: DeviceCounters,
}

/// What the sink and the callback share.
#[cfg_attr(not(feature = "sound"), allow(dead_code))]
#[derive(Debug, Default)]
struct Shared {
    ring: Mutex<Ring>,
    /// The playout clock: while it is paused the device plays silence and the ring waits.
    clock: Arc<Clock>,
    /// How far ahead of play time the output writes ([`AHEAD`](super::output::AHEAD) unless the caller chose):
    /// the lead queued when the device starts.
    ahead: Duration,
}

/// A message to the thread that owns the stream.
#[cfg_attr(not(feature = "sound"), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
struct Open {
    rate: u32,
    channels: u16,
    /// Which format of the sink's this is ([`Ring::generation`]).
    generation: u64,
}

/// The network thread's end of the sound device.
#[derive(Debug)]
pub struct DeviceSink {
    shared: Arc<Shared>,
    /// The format the device was last asked to play.
    format: Option<(u32, u16)>,
    opens: Option<Sender<Open>>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceSink {
    /// A sink for `device`, paused with `clock`, for sound written `ahead` of play time (the
    /// lead it queues); `None` for [`AudioDevice::None`]. Nothing is opened until
    /// [`DeviceSink::play`].
    pub fn new(device: &AudioDevice, clock: Arc<Clock>, ahead: Duration) -> Option<DeviceSink> {
        let name = match device {
            AudioDevice::None => return None,
            AudioDevice::Default => None,
            AudioDevice::Named(name) => Some(name.clone()),
        };
        let shared = Arc::new(Shared {
            ring: Mutex::default(),
            clock,
            ahead,
        });
        let (opens, rx) = crossbeam_channel::unbounded::<Open>();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hdstream-sound".into())
            .spawn(move || {
                // ALSA writes why an open failed to stderr; this thread's messages go to a
                // buffer instead, and into the one warning line.
                #[cfg(all(target_os = "linux", feature = "sound"))]
                let mut alsa_log = alsa::Output::local_error_handler().ok();
                // Held, never read: the device plays while its stream lives.
                let mut _playing: Option<Stream> = None;
                for open in rx {
                    // The stream of the former format closes before the next opens.
                    _playing = None;
                    let result = open_stream(name.as_deref(), &open, &theirs);
                    #[cfg(all(target_os = "linux", feature = "sound"))]
                    let detail =
                        std::mem::replace(&mut alsa_log, alsa::Output::local_error_handler().ok())
                            .map(|log| log.borrow().to_string())
                            .unwrap_or_default();
                    #[cfg(not(all(target_os = "linux", feature = "sound")))]
                    let detail = String::new();
                    {
                        let mut ring = theirs.ring.lock();
                        ring.failed = result.is_err();
                        ring.opened |= result.is_ok();
                    }
                    match result {
                        Ok(s) => _playing = Some(s),
                        Err(why) => {
                            let device = name.as_deref().unwrap_or("the default device");
                            let alsa = detail.lines().last().unwrap_or("").trim();
                            tracing::warn!(
                                "no sound device: cannot play on {device}: {why}{}{alsa}; \
                                 playing on without sound",
                                if alsa.is_empty() { "" } else { "; ALSA: " },
                            );
                        }
                    }
                }
            });
        let thread = match thread {
            Ok(thread) => thread,
            Err(e) => {
                tracing::warn!(error = %e, "no sound device: cannot start its thread");
                return None;
            }
        };
        Some(DeviceSink {
            shared,
            format: None,
            opens: Some(opens),
            thread: Some(thread),
        })
    }

    /// Plays `samples` (interleaved, `channels` per frame at `rate`): opens the device at the
    /// first call, and again when the format changes.
    pub fn play(&mut self, rate: u32, channels: u16, samples: &[i16]) {
        if rate == 0 || channels == 0 {
            return;
        }
        let mut ring = self.shared.ring.lock();
        if self.format != Some((rate, channels)) {
            self.format = Some((rate, channels));
            *ring = Ring {
                channels: usize::from(channels),
                rate,
                capacity: (RING.as_secs_f64() * f64::from(rate)) as usize * usize::from(channels),
                counters: ring.counters,
                opened: ring.opened,
                generation: ring.generation + 1,
                ..Ring::default()
            };
            if let Some(opens) = &self.opens {
                let _ = opens.send(Open {
                    rate,
                    channels,
                    generation: ring.generation,
                });
            }
        }
        if ring.failed {
            return;
        }
        ring.samples.extend(samples);
        let excess = ring.samples.len().saturating_sub(ring.capacity);
        if excess > 0 {
            // Whole frames: the capacity is a whole number of them.
            ring.samples.drain(..excess);
            ring.counters.frames_dropped += (excess / ring.channels) as u64;
        }
    }

    /// The counts so far.
    pub fn counters(&self) -> DeviceCounters {
        self.shared.ring.lock().counters
    }

    /// The end of the run: lets what is queued be heard (a bounded wait), closes the device and
    /// logs its counts.
    pub fn finish(mut self) {
        let (queued, started, opened) = {
            let mut ring = self.shared.ring.lock();
            ring.ending = true;
            let frames = ring.samples.len() / ring.channels.max(1);
            let queued = frames as f64 / f64::from(ring.rate.max(1));
            (Duration::from_secs_f64(queued), ring.started, ring.opened)
        };
        if started {
            let deadline = Instant::now() + queued + DRAIN_GRACE;
            loop {
                let (empty, buffer) = {
                    let ring = self.shared.ring.lock();
                    let buffer = ring.device_buffer as f64 / f64::from(ring.device_rate.max(1));
                    (ring.samples.is_empty(), Duration::from_secs_f64(buffer))
                };
                if empty {
                    // What the device holds plays out.
                    std::thread::sleep(buffer.min(DRAIN_GRACE));
                    break;
                }
                if Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.close();
        if opened {
            let c = self.counters();
            tracing::info!(
                frames_played = c.frames_played,
                underruns = c.underruns,
                frames_silent = c.frames_silent,
                frames_dropped = c.frames_dropped,
                frames_lead = c.frames_lead,
                "sound device closed"
            );
        }
    }

    fn close(&mut self) {
        drop(self.opens.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DeviceSink {
    fn drop(&mut self) {
        self.close();
    }
}

/// An open output stream: cpal's; none can exist without the `sound` feature.
#[cfg(feature = "sound")]
type Stream = cpal::Stream;
#[cfg(not(feature = "sound"))]
type Stream = std::convert::Infallible;

/// Built without the `sound` feature: no device opens, and the sink says why once.
#[cfg(not(feature = "sound"))]
fn open_stream(_name: Option<&str>, _open: &Open, _shared: &Arc<Shared>) -> Result<Stream, String> {
    Err("this client was built without sound output (cargo feature `sound`)".into())
}

/// The device named `name` (the default without one), as cpal lists it: its id (the ALSA PCM
/// name) or its description's name.
#[cfg(feature = "sound")]
fn find_device(host: &cpal::Host, name: Option<&str>) -> Result<cpal::Device, String> {
    let Some(name) = name else {
        return host
            .default_output_device()
            .ok_or_else(|| "the system has no default output device".to_string());
    };
    let devices: Vec<cpal::Device> = host
        .output_devices()
        .map_err(|e| format!("cannot list the output devices: {e}"))?
        .collect();
    let id = |d: &cpal::Device| d.id().map(|id| id.id().to_string()).ok();
    let described = |d: &cpal::Device| d.description().map(|d| d.name().to_string()).ok();
    if let Some(d) = devices
        .iter()
        .find(|d| id(d).as_deref() == Some(name) || described(d).as_deref() == Some(name))
    {
        return Ok(d.clone());
    }
    let names: Vec<String> = devices.iter().filter_map(id).collect();
    Err(format!(
        "no output device {name:?} (there are: {})",
        names.join(", ")
    ))
}

/// The stream config closest to `rate` and `channels`: the exact format if offered (i16
/// first, then f32), else the nearest rate, then channels. Says so when it is not exact.
#[cfg(feature = "sound")]
fn choose_config(
    device: &cpal::Device,
    rate: u32,
    channels: u16,
) -> Result<cpal::SupportedStreamConfig, String> {
    let ranges: Vec<cpal::SupportedStreamConfigRange> = device
        .supported_output_configs()
        .map_err(|e| format!("cannot read its formats: {e}"))?
        .filter(|r| matches!(r.sample_format(), SampleFormat::I16 | SampleFormat::F32))
        .collect();
    let best = ranges
        .iter()
        .min_by_key(|r| {
            let nearest = rate.clamp(r.min_sample_rate(), r.max_sample_rate());
            (
                nearest.abs_diff(rate),
                r.channels().abs_diff(channels),
                r.sample_format() != SampleFormat::I16,
            )
        })
        .ok_or("it offers neither 16-bit nor float samples")?;
    let nearest = rate.clamp(best.min_sample_rate(), best.max_sample_rate());
    if nearest != rate || best.channels() != channels {
        tracing::warn!(
            "the sound device cannot play {rate} Hz with {channels} channel(s): playing at \
             {nearest} Hz with {} (not resampled: the pitch and speed change)",
            best.channels()
        );
    }
    Ok(best.with_sample_rate(nearest))
}

#[cfg(feature = "sound")]
fn open_stream(
    name: Option<&str>,
    open: &Open,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, String> {
    let host = cpal::default_host();
    let device = find_device(&host, name)?;
    let supported = choose_config(&device, open.rate, open.channels)?;
    let mut config = supported.config();
    let period = (PERIOD.as_secs_f64() * f64::from(config.sample_rate)) as u32;
    if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size()
        && (*min..=*max).contains(&period)
    {
        config.buffer_size = cpal::BufferSize::Fixed(period);
    }
    let stream = match supported.sample_format() {
        SampleFormat::I16 => build::<i16>(&device, &config, open, shared),
        _ => build::<f32>(&device, &config, open, shared),
    }?;
    stream
        .play()
        .map_err(|e| format!("cannot start the stream: {e}"))?;
    let what = device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| "?".into());
    tracing::info!(
        device = %what,
        rate = config.sample_rate,
        channels = config.channels,
        format = %supported.sample_format(),
        buffer = ?config.buffer_size,
        "sound device opened"
    );
    Ok(stream)
}

#[cfg(feature = "sound")]
fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    open: &Open,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<i16>,
{
    let shared = Arc::clone(shared);
    let mut pacer = Pacer::new(config.sample_rate);
    let device_channels = usize::from(config.channels.max(1));
    let track_channels = usize::from(open.channels.max(1));
    let device_rate = config.sample_rate;
    let open = *open;
    let mut errors = 0u64;
    device
        .build_output_stream::<T, _, _>(
            *config,
            move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
                let frames = data.len() / device_channels;
                pacer.pace(frames as u64);
                fill(
                    &shared,
                    data,
                    device_channels,
                    track_channels,
                    device_rate,
                    open.generation,
                );
            },
            move |e| {
                errors += 1;
                if errors == 1 {
                    tracing::warn!(error = %e, "sound device");
                } else {
                    tracing::debug!(error = %e, errors, "sound device");
                }
            },
            None,
        )
        .map_err(|e| format!("cannot open a stream: {e}"))
}

/// Fills the device's buffer from the ring: channel `c` of a device frame is the track's
/// channel `c mod channels`; silence where the ring has no more.
#[cfg(feature = "sound")]
fn fill<T>(
    shared: &Shared,
    data: &mut [T],
    device_channels: usize,
    track_channels: usize,
    rate: u32,
    generation: u64,
) where
    T: Sample + FromSample<i16>,
{
    let frames = data.len() / device_channels;
    let paused = shared.clock.is_paused();
    let mut ring = shared.ring.lock();
    let ring = &mut *ring;
    if ring.generation != generation || paused {
        // A stream of an older format about to be closed; or a pause: what is queued waits.
        data.fill(T::EQUILIBRIUM);
        return;
    }
    let lead = (shared.ahead.as_secs_f64() * f64::from(ring.rate)) as usize * track_channels;
    if !ring.started {
        // The lead: AHEAD of sound queued when the device starts.
        ring.started = true;
        ring.device_rate = rate;
        let have = ring.samples.len();
        if have < lead {
            pad(ring, lead - have, track_channels);
        } else {
            ring.counters.frames_dropped += ((have - lead) / track_channels) as u64;
            ring.samples.drain(..have - lead);
        }
    } else if ring.dry && !ring.samples.is_empty() && ring.samples.len() < lead {
        // Sound again after running dry (a seek, the video rebuffering): queued AHEAD again,
        // as at the start, so it is heard at its play time and not early.
        let missing = lead - ring.samples.len();
        pad(ring, missing, track_channels);
    }
    ring.device_buffer = ring.device_buffer.max(2 * frames as u64);
    let available = (ring.samples.len() / track_channels).min(frames);
    for (i, frame) in data.chunks_exact_mut(device_channels).enumerate() {
        if i < available {
            let start = i * track_channels;
            for (c, out) in frame.iter_mut().enumerate() {
                *out = T::from_sample(ring.samples[start + c % track_channels]);
            }
        } else {
            frame.fill(T::EQUILIBRIUM);
        }
    }
    ring.samples.drain(..available * track_channels);
    let lead = ring.lead_pending.min(available);
    ring.lead_pending -= lead;
    ring.counters.frames_played += (available - lead) as u64;
    let missing = frames - available;
    if missing > 0 && !ring.ending && ring.counters.frames_played > 0 {
        if !ring.dry {
            ring.dry = true;
            ring.counters.underruns += 1;
        }
        ring.counters.frames_silent += missing as u64;
    } else if missing == 0 {
        ring.dry = false;
    }
}

/// Puts `samples` of lead silence in front of the ring.
#[cfg(feature = "sound")]
fn pad(ring: &mut Ring, samples: usize, track_channels: usize) {
    let frames = samples / track_channels;
    ring.lead_pending += frames;
    ring.counters.frames_lead += frames as u64;
    for _ in 0..frames * track_channels {
        ring.samples.push_front(0);
    }
}

/// Keeps a device that does not wait (ALSA's `null`) to real time.
#[cfg(feature = "sound")]
#[derive(Debug)]
struct Pacer {
    rate: u32,
    /// When the stream's frame 0 was asked for (moved on when the device fell behind).
    origin: Option<Instant>,
    /// Frames handed out since `origin`.
    delivered: u64,
    /// The most frames one callback asked for.
    largest: u64,
}

#[cfg(feature = "sound")]
impl Pacer {
    /// Fast device clocks are allowed this far ahead of ours, parts per million.
    const DRIFT_PPM: u64 = 1000;
    const MARGIN: Duration = Duration::from_millis(5);

    fn new(rate: u32) -> Pacer {
        Pacer {
            rate: rate.max(1),
            origin: None,
            delivered: 0,
            largest: 0,
        }
    }

    /// Before handing out `frames`: sleeps while that would put the device further ahead of
    /// real time than its buffer (at most one callback's duration).
    fn pace(&mut self, frames: u64) {
        let now = Instant::now();
        let rate = f64::from(self.rate);
        let origin = *self.origin.get_or_insert(now);
        self.largest = self.largest.max(frames);
        let buffer = 2 * self.largest;
        let real = (now.saturating_duration_since(origin).as_secs_f64() * rate) as u64;
        if self.delivered + buffer < real {
            // Behind (a stall, an xrun): real time starts again from here.
            self.origin = Some(now - Duration::from_secs_f64(self.delivered as f64 / rate));
        } else {
            let allowed = real
                + buffer
                + (Self::MARGIN.as_secs_f64() * rate) as u64
                + real * Self::DRIFT_PPM / 1_000_000;
            let excess = (self.delivered + frames)
                .saturating_sub(allowed)
                .min(frames);
            if excess > 0 {
                std::thread::sleep(Duration::from_secs_f64(excess as f64 / rate));
            }
        }
        self.delivered += frames;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 1000;
    /// One callback: 20 frames (20 ms at 1 kHz), stereo.
    const PERIOD: usize = 20;

    fn shared() -> Shared {
        let shared = Shared {
            ahead: super::super::output::AHEAD,
            ..Shared::default()
        };
        *shared.ring.lock() = Ring {
            channels: 2,
            rate: RATE,
            capacity: 2 * RATE as usize,
            generation: 1,
            ..Ring::default()
        };
        shared
    }

    fn push(shared: &Shared, frames: std::ops::Range<i16>) {
        shared
            .ring
            .lock()
            .samples
            .extend(frames.flat_map(|f| [f, -f]));
    }

    /// One callback's worth, as left channel values.
    fn callback(shared: &Shared) -> Vec<i16> {
        let mut data = [0i16; 2 * PERIOD];
        fill(shared, &mut data, 2, 2, RATE, 1);
        data.chunks_exact(2).map(|f| f[0]).collect()
    }

    #[test]
    fn a_stream_starts_with_the_lead_queued_then_plays_the_samples_in_order() {
        let s = shared();
        push(&s, 1..31);
        // AHEAD (100 frames) queued: 70 of silence, then the 30 pushed.
        let mut heard: Vec<i16> = (0..5).flat_map(|_| callback(&s)).collect();
        assert!(heard[..70].iter().all(|&f| f == 0));
        assert_eq!(heard.split_off(70), (1..31).collect::<Vec<_>>());
        let c = s.ring.lock().counters;
        assert_eq!((c.frames_lead, c.frames_played, c.underruns), (70, 30, 0));
    }

    #[test]
    fn a_dry_ring_is_one_underrun_and_the_sound_after_it_is_queued_ahead_again() {
        let s = shared();
        push(&s, 1..101);
        for _ in 0..5 {
            callback(&s);
        }
        assert_eq!(callback(&s), [0; PERIOD]);
        assert_eq!(callback(&s), [0; PERIOD]);
        push(&s, 101..121);
        // 80 frames of silence in front of the 20 pushed: 100 queued again.
        let heard: Vec<i16> = (0..5).flat_map(|_| callback(&s)).collect();
        assert_eq!(&heard[80..], (101..121).collect::<Vec<_>>());
        let c = s.ring.lock().counters;
        assert_eq!(c.underruns, 1, "{c:?}");
        assert_eq!(c.frames_silent, 2 * PERIOD as u64);
        assert_eq!(c.frames_played, 120);
    }

    #[test]
    fn while_paused_the_device_plays_silence_and_the_ring_waits() {
        let s = shared();
        push(&s, 1..101);
        assert_eq!(callback(&s), (1..21).collect::<Vec<_>>());
        s.clock.pause(Instant::now());
        assert_eq!(callback(&s), [0; PERIOD]);
        assert_eq!(s.ring.lock().samples.len(), 2 * 80);
        s.clock.resume(Instant::now());
        assert_eq!(callback(&s), (21..41).collect::<Vec<_>>());
        assert_eq!(s.ring.lock().counters.underruns, 0);
    }

    #[test]
    fn a_stream_of_an_older_format_plays_nothing_of_the_new_ring() {
        let s = shared();
        push(&s, 1..101);
        let mut data = [7i16; 2 * PERIOD];
        fill(&s, &mut data, 2, 2, RATE, 0);
        assert_eq!(data, [0; 2 * PERIOD]);
        assert_eq!(s.ring.lock().samples.len(), 200);
    }

    #[test]
    fn the_device_channels_take_the_tracks_in_turn() {
        let s = shared();
        push(&s, 1..101);
        s.ring.lock().started = true;
        // A mono device gets the left channel; a 4-channel one L R L R.
        let mut mono = [0i16; 2];
        fill(&s, &mut mono, 1, 2, RATE, 1);
        assert_eq!(mono, [1, 2]);
        let mut four = [0i16; 4];
        fill(&s, &mut four, 4, 2, RATE, 1);
        assert_eq!(four, [3, -3, 3, -3]);
        let mut float = [0f32; 2];
        fill(&s, &mut float, 2, 2, RATE, 1);
        assert_eq!(float, [4.0 / 32768.0, -4.0 / 32768.0]);
    }

    #[test]
    fn a_device_that_does_not_wait_is_held_to_real_time() {
        // 20 ms callbacks at 48 kHz, asked for back to back (as ALSA's null does): 300 ms of
        // frames take about 300 ms less the device's buffer (two callbacks).
        let mut pacer = Pacer::new(48_000);
        let started = Instant::now();
        for _ in 0..15 {
            pacer.pace(960);
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(230) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }
}
