//! The session description a publisher announces (RFC 2326 §10.3 ANNOUNCE, RFC 4566): a live
//! JPEG video section, and beside it a sound section and a captions section when they go
//! too, each under its own `a=control` ([`Track::control`]).
//!
//! ```text
//! m=video 0 RTP/AVP 26          a=rtpmap:26 JPEG/90000   a=control:trackID=0
//! m=audio 0 RTP/AVP 96          a=rtpmap:96 L16/48000/2  a=control:trackID=1   (or PCMU 0, PCMA 8)
//! m=text 0 RTP/AVP 98           a=rtpmap:98 t140/1000    a=control:trackID=2
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use hdstream_common::audio::Format;
use hdstream_common::sdp::{Media, MjpegStream, SessionDescription};

use crate::track::Track;

/// The dynamic RTP payload type of the captions (RFC 4103 §6): the one the server offers too.
pub const T140_PAYLOAD_TYPE: u8 = hdstream_common::text::t140::PAYLOAD_TYPE;

/// What the publication holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contents {
    /// Frame size, for `a=x-dimensions` (0 × 0 when not known).
    pub size: (u16, u16),
    /// Frames per second, for `a=framerate`.
    pub fps: f64,
    /// The sound's format, when sound goes.
    pub audio: Option<Format>,
    /// Whether captions go.
    pub captions: bool,
}

impl Contents {
    /// The tracks announced, in the SDP's order.
    pub fn tracks(&self) -> Vec<Track> {
        Track::ALL
            .into_iter()
            .filter(|t| match t {
                Track::Video => true,
                Track::Audio => self.audio.is_some(),
                Track::Text => self.captions,
            })
            .collect()
    }
}

/// The SDP of a live publication of `contents` that started at `started` (its `o=` session id,
/// RFC 4566 §5.2: seconds since 1970, which NTP-based ids also are up to an offset).
pub fn description(contents: &Contents, started: SystemTime) -> SessionDescription {
    let mut sdp = SessionDescription::mjpeg(&MjpegStream {
        session_id: started
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        session_version: 1,
        origin_address: "127.0.0.1",
        session_name: "hdstream-publish",
        control: Track::Video.control(),
        duration: None,
        live: true,
        framerate: contents.fps,
        width: u32::from(contents.size.0),
        height: u32::from(contents.size.1),
        rtx: None,
    });
    if let Some(format) = &contents.audio {
        sdp.media.push(Media::audio(format, Track::Audio.control()));
    }
    if contents.captions {
        sdp.media
            .push(Media::t140(T140_PAYLOAD_TYPE, Track::Text.control()));
    }
    sdp
}

#[cfg(test)]
mod tests {
    use hdstream_common::audio::Encoding;

    use super::*;

    fn contents(audio: Option<Format>, captions: bool) -> Contents {
        Contents {
            size: (640, 360),
            fps: 30.0,
            audio,
            captions,
        }
    }

    #[test]
    fn every_track_has_its_own_section_and_control() {
        let l16 = Format {
            encoding: Encoding::L16,
            payload_type: 96,
            clock_rate: 48_000,
            channels: 2,
        };
        let c = contents(Some(l16), true);
        assert_eq!(c.tracks(), [Track::Video, Track::Audio, Track::Text]);
        let text = description(&c, SystemTime::UNIX_EPOCH).to_string();
        let sdp = SessionDescription::parse(&text).unwrap();
        let kinds: Vec<(&str, Option<&str>)> = sdp
            .media
            .iter()
            .map(|m| (m.media.as_str(), m.control()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("video", Some("trackID=0")),
                ("audio", Some("trackID=1")),
                ("text", Some("trackID=2"))
            ]
        );
        assert!(sdp.jpeg_video().is_some());
        assert_eq!(Format::from_sdp(&sdp.media[1]), Ok(l16));
        assert!(text.contains("a=rtpmap:96 L16/48000/2\r\n"), "{text}");
        assert!(text.contains("m=text 0 RTP/AVP 98\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:98 t140/1000\r\n"), "{text}");
        assert!(text.contains("a=range:npt=now-"), "{text}");
    }

    #[test]
    fn static_g711_needs_no_rtpmap_and_video_alone_is_one_section() {
        let pcmu = Format::static_payload(0).unwrap();
        let text = description(&contents(Some(pcmu), false), SystemTime::UNIX_EPOCH).to_string();
        assert!(text.contains("m=audio 0 RTP/AVP 0\r\n"), "{text}");
        assert!(!text.contains("a=rtpmap:0"), "{text}");
        let alone = contents(None, false);
        assert_eq!(alone.tracks(), [Track::Video]);
        assert_eq!(description(&alone, SystemTime::UNIX_EPOCH).media.len(), 1);
    }
}
