//! Sample-rate conversion for the speech recogniser: a streaming polyphase resampler with a
//! Kaiser-windowed sinc low-pass, for any rational ratio `out/in` (RFC 3551 §4.5 clock rates:
//! 8000, 16000, 44100, 48000 Hz…).
//!
//! Conceptually the input is upsampled by `L`, low-pass filtered at `F = L · in_rate`, and
//! decimated by `M` (`out/in = L/M`, reduced). The filter runs only where an output sample is
//! taken: output `n` lies at input time `t = n·M/L = i + p/L` and is
//!
//! ```text
//!   y[n] = Σ_{d=-K..K} x[i + d] · h_p[d],    h_p[d] = h((p − d·L) / F)
//! ```
//!
//! with `h` the windowed sinc centred on `t`, so output sample `n` stands exactly for input
//! time `n·M/L` (no group delay to correct for: the caption times depend on that). Each phase
//! `h_p` is normalised to unit DC gain. The cut-off is 0.45 × the lower of the two rates with a
//! transition band of 0.1 × it and 80 dB of stopband (Kaiser's design formulas), so for 48 kHz →
//! 16 kHz everything above 8 kHz (which would fold into the band) is attenuated by 80 dB.

/// Stopband attenuation, dB.
const ATTENUATION_DB: f64 = 80.0;
/// The largest upsampling factor `L` accepted (11025 Hz → 16 kHz is 640/441).
pub const MAX_UP: u32 = 640;
/// The largest decimation factor `M` accepted (192 kHz → 8 kHz is 24).
pub const MAX_DOWN: u32 = 4096;

/// Why a conversion cannot be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// A rate of zero.
    #[error("a sample rate of 0 Hz")]
    Zero,
    /// The reduced ratio needs too large a filter bank.
    #[error("{from} Hz to {to} Hz is a ratio of {up}/{down}: beyond {MAX_UP}/{MAX_DOWN}")]
    Ratio {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// `L`.
        up: u32,
        /// `M`.
        down: u32,
    },
}

/// A streaming resampler from one rate to another, mono `f32` in, `i16` out.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// `L`.
    up: usize,
    /// `M`.
    down: usize,
    /// `K`: each phase has `2K + 1` taps, input `i − K ..= i + K`.
    half: usize,
    /// The filter bank: phase `p`'s taps at `p·(2K+1) ..`, for `d = −K..=K`.
    taps: Vec<f32>,
    /// Input kept: `history[0]` is input sample `base` (negative before the start: zeros).
    history: Vec<f32>,
    base: i64,
    /// Input samples taken.
    fed: u64,
    /// The next output's position: input index `i` and phase `p`.
    next_i: u64,
    next_p: usize,
    /// Output samples made.
    made: u64,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The zeroth-order modified Bessel function of the first kind (Kaiser window), by its series.
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..200 {
        let f = half / f64::from(k);
        term *= f * f;
        sum += term;
        if term < sum * 1e-16 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Resampler, RateError> {
        if from == 0 || to == 0 {
            return Err(RateError::Zero);
        }
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        if up > MAX_UP || down > MAX_DOWN {
            return Err(RateError::Ratio { from, to, up, down });
        }
        let (up, down) = (up as usize, down as usize);
        if up == 1 && down == 1 {
            return Ok(Resampler {
                up,
                down,
                half: 0,
                taps: vec![1.0],
                history: Vec::new(),
                base: 0,
                fed: 0,
                next_i: 0,
                next_p: 0,
                made: 0,
            });
        }
        // Kaiser's formulas (Oppenheim & Schafer §7.6): length for the attenuation and the
        // transition width, both relative to the upsampled rate F.
        let lower = f64::from(from.min(to));
        let rate = f64::from(from) * up as f64;
        let cutoff = 0.45 * lower / rate;
        let transition = 0.1 * lower / rate;
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        let order = (ATTENUATION_DB - 7.95) / (14.36 * transition);
        let half = (order / 2.0 / up as f64).ceil().max(1.0) as usize;
        let span = (half * up) as f64;
        let width = 2 * half + 1;
        let i0_beta = bessel_i0(beta);
        let mut taps = vec![0f32; up * width];
        for p in 0..up {
            let row = &mut taps[p * width..(p + 1) * width];
            let mut sum = 0.0;
            let mut values = vec![0f64; width];
            for (k, value) in values.iter_mut().enumerate() {
                let d = k as f64 - half as f64;
                // Distance from the output's time, in units of the upsampled rate.
                let m = p as f64 - d * up as f64;
                if m.abs() > span {
                    continue;
                }
                let x = 2.0 * cutoff * m;
                let sinc = if x == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let r = m / span;
                let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
                *value = sinc * window;
                sum += *value;
            }
            for (tap, value) in row.iter_mut().zip(&values) {
                *tap = (value / sum) as f32;
            }
        }
        Ok(Resampler {
            up,
            down,
            half,
            taps,
            history: vec![0.0; half],
            base: -(half as i64),
            fed: 0,
            next_i: 0,
            next_p: 0,
            made: 0,
        })
    }

    /// Output samples per input sample, as `(L, M)`.
    pub fn ratio(&self) -> (usize, usize) {
        (self.up, self.down)
    }

    /// Taps of each phase (`2K + 1`).
    pub fn taps_per_phase(&self) -> usize {
        2 * self.half + 1
    }

    /// Output samples made so far.
    pub fn made(&self) -> u64 {
        self.made
    }

    /// Takes `input` and appends every output sample it completes to `out`, rounded and
    /// clamped to 16 bits. Output lags input by `K` input samples (the filter's half length).
    pub fn push(&mut self, input: &[f32], out: &mut Vec<i16>) {
        self.history.extend_from_slice(input);
        self.fed += input.len() as u64;
        let width = 2 * self.half + 1;
        let to_i16 = |v: f32| v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
        // Output n needs input up to i + K.
        while self.next_i + (self.half as u64) < self.fed {
            let start = (self.next_i as i64 - self.half as i64 - self.base) as usize;
            let window = &self.history[start..start + width];
            let taps = &self.taps[self.next_p * width..(self.next_p + 1) * width];
            let y: f32 = window.iter().zip(taps).map(|(x, h)| x * h).sum();
            out.push(to_i16(y));
            self.made += 1;
            self.next_p += self.down;
            self.next_i += (self.next_p / self.up) as u64;
            self.next_p %= self.up;
        }
        // Forget what no later output needs (in large steps, so it is cheap).
        let needed = self.next_i as i64 - self.half as i64;
        let drop = needed - self.base;
        if drop > 4096 && drop as usize <= self.history.len() {
            self.history.drain(..drop as usize);
            self.base = needed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `seconds` of a sine at `hz`, amplitude `amp`, sampled at `rate`.
    fn sine(hz: f64, amp: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amp * (2.0 * std::f64::consts::PI * hz * t).sin()) as f32
            })
            .collect()
    }

    fn resample(from: u32, to: u32, input: &[f32], chunk: usize) -> Vec<i16> {
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            r.push(piece, &mut out);
        }
        out
    }

    fn rms(x: impl Iterator<Item = f64>) -> f64 {
        let (sum, n) = x.fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
        (sum / n.max(1) as f64).sqrt()
    }

    fn db(ratio: f64) -> f64 {
        20.0 * ratio.log10()
    }

    /// The frequency and amplitude of the sine in `x` (sampled at `rate`), from a least-squares
    /// fit at the frequency where the DFT of `x` peaks (refined by parabolic interpolation).
    fn measure(x: &[i16], rate: f64) -> (f64, f64) {
        let n = x.len();
        let power = |hz: f64| {
            let w = 2.0 * std::f64::consts::PI * hz / rate;
            let (mut re, mut im) = (0.0, 0.0);
            for (k, &v) in x.iter().enumerate() {
                re += f64::from(v) * (w * k as f64).cos();
                im -= f64::from(v) * (w * k as f64).sin();
            }
            (re * re + im * im).sqrt() * 2.0 / n as f64
        };
        // A coarse scan, then golden-section refinement around the peak.
        let (mut best, mut at) = (0.0, 0.0);
        let mut hz = 50.0;
        while hz < rate / 2.0 {
            let p = power(hz);
            if p > best {
                (best, at) = (p, hz);
            }
            hz += 5.0;
        }
        let (mut lo, mut hi) = (at - 5.0, at + 5.0);
        for _ in 0..40 {
            let a = lo + (hi - lo) * 0.382;
            let b = lo + (hi - lo) * 0.618;
            if power(a) > power(b) {
                hi = b;
            } else {
                lo = a;
            }
        }
        let f = (lo + hi) / 2.0;
        (f, power(f))
    }

    #[test]
    fn a_1_khz_sine_at_48_khz_keeps_its_frequency_and_amplitude_at_16_khz() {
        let amp = 10_000.0;
        let input = sine(1000.0, amp, 48_000, 1.0);
        let out = resample(48_000, 16_000, &input, 960);
        // One output per three inputs, less the filter's half length still held back.
        let r = Resampler::new(48_000, 16_000).unwrap();
        assert_eq!(r.ratio(), (1, 3));
        assert!(out.len() >= 16_000 - r.taps_per_phase());
        // Away from the start (the filter fills with the zeros before the stream).
        let steady = &out[200..];
        let (hz, got) = measure(steady, 16_000.0);
        let gain = db(got / amp);
        eprintln!("1 kHz at 48 kHz → 16 kHz: {hz:.3} Hz, gain {gain:+.4} dB");
        assert!((hz - 1000.0).abs() < 0.5, "{hz} Hz");
        assert!(gain.abs() < 1.0, "{gain} dB");
        // And sample by sample: output n is input time 3n (no delay).
        for (n, &y) in steady.iter().enumerate().step_by(97) {
            let t = (n + 200) as f64 / 16_000.0;
            let want = amp * (2.0 * std::f64::consts::PI * 1000.0 * t).sin();
            assert!(
                (f64::from(y) - want).abs() < 5.0,
                "sample {n}: {y} vs {want:.1}"
            );
        }
    }

    #[test]
    fn a_10_khz_sine_at_48_khz_is_attenuated_40_db_or_more() {
        let amp = 20_000.0;
        let input = sine(10_000.0, amp, 48_000, 1.0);
        let out = resample(48_000, 16_000, &input, 441);
        let steady = out[200..].iter().map(|&v| f64::from(v));
        // Below the 16-bit output's rounding noise (1/√12 LSB) nothing can be measured.
        let level = rms(steady).max(1.0 / 12f64.sqrt()) / (amp / 2f64.sqrt());
        let attenuation = -db(level);
        eprintln!("10 kHz at 48 kHz → 16 kHz: attenuated ≥ {attenuation:.1} dB");
        assert!(attenuation >= 40.0, "only {attenuation:.1} dB");
    }

    #[test]
    fn other_rates_keep_a_1_khz_tone() {
        for (from, chunk) in [(44_100, 441), (8000, 160), (22_050, 1000), (96_000, 7)] {
            let amp = 8000.0;
            let input = sine(1000.0, amp, from, 1.0);
            let out = resample(from, 16_000, &input, chunk);
            let (hz, got) = measure(&out[400..], 16_000.0);
            let gain = db(got / amp);
            eprintln!("1 kHz at {from} Hz → 16 kHz: {hz:.3} Hz, {gain:+.4} dB");
            assert!((hz - 1000.0).abs() < 0.5, "{from}: {hz} Hz");
            assert!(gain.abs() < 1.0, "{from}: {gain} dB");
            // As many outputs as the ratio says, less the held-back tail.
            let expected = 16_000.0;
            assert!(
                (out.len() as f64 - expected).abs() < 400.0,
                "{from}: {}",
                out.len()
            );
        }
    }

    #[test]
    fn the_same_rate_passes_samples_through() {
        let input: Vec<f32> = (0..100).map(|i| i as f32 * 10.0).collect();
        let out = resample(16_000, 16_000, &input, 7);
        assert_eq!(out, (0..100).map(|i| i * 10).collect::<Vec<i16>>());
    }

    #[test]
    fn impossible_ratios_are_refused() {
        assert_eq!(Resampler::new(0, 16_000).unwrap_err(), RateError::Zero);
        assert!(matches!(
            Resampler::new(44_101, 16_000),
            Err(RateError::Ratio { .. })
        ));
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let input = sine(440.0, 5000.0, 44_100, 0.3);
        let whole = resample(44_100, 16_000, &input, input.len());
        let bits = resample(44_100, 16_000, &input, 13);
        assert_eq!(whole, bits);
    }
}
