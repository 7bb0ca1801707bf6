//! `--audio-out FILE.wav`: the record of what the audio output played — a canonical 44-byte
//! header (16-bit PCM, `hdstream_common::audio::wav`) whose format and sizes are written by
//! [`Recording::finish`] at the end of the run (after a quit or a signal too, as the statistics
//! are), then the samples, little-endian. A run that dies before that leaves a header that
//! says no data; `wav::parse` (and ffmpeg) then read to the end of the file.
//!
//! The file is written on a thread of its own: the network thread hands it the samples and
//! never waits for the disk (a busy disk — a build beside — can hold a `write` for tens of
//! milliseconds, longer than the sound written ahead).

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, unbounded};
use hdstream_common::audio::wav;

/// Samples for the writer: rate, channels, interleaved samples.
type Chunk = (u32, u16, Vec<i16>);

/// A WAV file being written.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    chunks: Option<Sender<Chunk>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    /// Sample frames handed to the writer, and their rate.
    frames: u64,
    rate: u32,
}

impl Recording {
    /// Creates (or truncates) `path` with a header that says no data yet, and starts its
    /// writer.
    pub fn create(path: &Path) -> io::Result<Recording> {
        let mut file = BufWriter::with_capacity(1 << 16, File::create(path)?);
        file.write_all(&wav::header(0, 0, 0))?;
        let (chunks, rx) = unbounded::<Chunk>();
        let writer = std::thread::Builder::new()
            .name("hdstream-wav".into())
            .spawn(move || write(file, rx))?;
        Ok(Recording {
            path: path.to_owned(),
            chunks: Some(chunks),
            writer: Some(writer),
            frames: 0,
            rate: 0,
        })
    }

    /// Where it is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seconds of sound handed over.
    pub fn seconds(&self) -> f64 {
        if self.rate == 0 {
            return 0.0;
        }
        self.frames as f64 / f64::from(self.rate)
    }

    /// Appends interleaved samples of `rate` Hz and `channels`; the format of the first call
    /// is the file's. Does not wait for the disk; fails only when the writer has stopped (its
    /// error comes from [`Recording::finish`]).
    pub fn write(&mut self, rate: u32, channels: u16, samples: &[i16]) -> io::Result<()> {
        let gone = || io::Error::new(io::ErrorKind::BrokenPipe, "the WAV writer stopped");
        let chunks = self.chunks.as_ref().ok_or_else(gone)?;
        chunks
            .send((rate, channels, samples.to_vec()))
            .map_err(|_| gone())?;
        if self.rate == 0 {
            self.rate = rate;
        }
        self.frames += (samples.len() / usize::from(channels.max(1))) as u64;
        Ok(())
    }

    /// Waits for the samples to be written, then writes the header's format and sizes (RIFF
    /// and `data`; past 4 GiB they saturate). Without any sound the header says 8 kHz mono and
    /// no data.
    pub fn finish(mut self) -> io::Result<()> {
        self.chunks = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the WAV writer panicked")),
            None => Ok(()),
        }
    }
}

/// The writer thread: samples until the channel closes, then the header.
fn write(mut file: BufWriter<File>, chunks: crossbeam_channel::Receiver<Chunk>) -> io::Result<()> {
    let mut format = None;
    let mut data_len = 0u64;
    let mut bytes = Vec::new();
    for (rate, channels, samples) in chunks {
        format.get_or_insert((rate, channels));
        bytes.clear();
        bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        file.write_all(&bytes)?;
        data_len += bytes.len() as u64;
    }
    let (rate, channels) = format.unwrap_or((8000, 1));
    let data_len = u32::try_from(data_len).unwrap_or(u32::MAX);
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&wav::header(rate, channels, data_len))?;
    file.flush()?;
    file.get_ref().sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_written_at_the_end() {
        let dir = std::env::temp_dir().join(format!("hdstream-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.wav");
        let mut r = Recording::create(&path).unwrap();
        r.write(48_000, 2, &[1, -1, 300, -300]).unwrap();
        r.write(48_000, 2, &[i16::MAX, i16::MIN]).unwrap();
        assert!((r.seconds() - 3.0 / 48_000.0).abs() < 1e-12);
        r.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let w = wav::parse(&bytes).unwrap();
        assert_eq!((w.sample_rate, w.channels, w.frames()), (48_000, 2, 3));
        let mut samples = Vec::new();
        w.read_samples(&bytes, &mut samples);
        assert_eq!(samples, [1, -1, 300, -300, i16::MAX, i16::MIN]);

        // Nothing played: a valid file with no sound.
        Recording::create(&path).unwrap().finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(wav::parse(&bytes).unwrap().frames(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
