//! The session description hdstream's server announces for one MJPEG file.

use super::media::{JPEG_PAYLOAD_TYPE, RtpMap, RtxFormat};
use super::{Attribute, Connection, Media, Origin, SessionDescription, Timing};
use crate::rtsp::header::Range;

/// What the server knows about a stream when it answers DESCRIBE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MjpegStream<'a> {
    /// `o=` session id: any number unique to the server (RFC 4566 §5.2 suggests an NTP time).
    pub session_id: u64,
    /// `o=` session version: changes when the description does.
    pub session_version: u64,
    /// The server's address for `o=` (IPv4 or IPv6 literal).
    pub origin_address: &'a str,
    /// `s=`: typically the file name.
    pub session_name: &'a str,
    /// The track's `a=control:`, relative to the Content-Base (e.g. `track1`).
    pub control: &'a str,
    /// Length in seconds, for `a=range:npt=0-D`; `None` for an open-ended stream (`npt=0-`).
    pub duration: Option<f64>,
    /// A live stream (`a=range:npt=now-`, RFC 2326 C.1.5): no seeking, joined where it is.
    pub live: bool,
    /// `a=framerate:`.
    pub framerate: f64,
    /// Frame width in pixels, for `a=x-dimensions:` (left out when 0: not known yet).
    pub width: u32,
    /// Frame height in pixels, for `a=x-dimensions:`.
    pub height: u32,
    /// Retransmission offered (RFC 4588 §8.1): its payload type and `rtx-time`, in the AVPF
    /// profile with `a=rtcp-fb:26 nack` (RFC 4585 §4.2) to ask for generic NACKs.
    pub rtx: Option<RtxFormat>,
}

impl SessionDescription {
    /// The description of one RFC 2435 JPEG video stream, static payload type 26, with
    /// aggregate control `*` and `a=x-dimensions` always present (needed above 2040 px, and
    /// harmless below: players ignore attributes they do not know).
    pub fn mjpeg(stream: &MjpegStream<'_>) -> Self {
        let ip = if stream.origin_address.contains(':') {
            ("IP6", "::")
        } else {
            ("IP4", "0.0.0.0")
        };
        let range = if stream.live {
            Some(Range::now().to_string())
        } else {
            stream
                .duration
                .and_then(|d| Range::between(0.0, d))
                .or_else(|| Range::from_seconds(0.0))
                .map(|r| r.to_string())
        };
        let mut attributes = vec![
            Attribute::new("tool", "hdstream"),
            Attribute::new("type", "broadcast"),
            Attribute::new("control", "*"),
        ];
        attributes.extend(range.map(|r| Attribute::new("range", r)));
        let rtpmap = RtpMap {
            payload_type: JPEG_PAYLOAD_TYPE,
            encoding: "JPEG".into(),
            clock_rate: 90_000,
            encoding_params: None,
        };
        Self {
            origin: Origin {
                username: "-".into(),
                session_id: stream.session_id.to_string(),
                session_version: stream.session_version.to_string(),
                net_type: "IN".into(),
                addr_type: ip.0.into(),
                address: stream.origin_address.into(),
            },
            session_name: stream.session_name.into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: Some(Connection {
                net_type: "IN".into(),
                addr_type: ip.0.into(),
                address: ip.1.into(),
            }),
            bandwidths: Vec::new(),
            times: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            time_zones: None,
            key: None,
            attributes,
            media: vec![Media {
                media: "video".into(),
                port: 0,
                num_ports: None,
                // AVPF (RFC 4585) when feedback is wanted: GStreamer's rtspsrc sends NACKs
                // only for an AVPF offer with an rtx format.
                proto: if stream.rtx.is_some() {
                    "RTP/AVPF"
                } else {
                    "RTP/AVP"
                }
                .into(),
                formats: std::iter::once(JPEG_PAYLOAD_TYPE)
                    .chain(stream.rtx.map(|r| r.payload_type))
                    .map(|pt| pt.to_string())
                    .collect(),
                information: None,
                connections: Vec::new(),
                bandwidths: Vec::new(),
                key: None,
                attributes: [
                    Attribute::new("rtpmap", rtpmap.to_string()),
                    Attribute::new("control", stream.control),
                    Attribute::new("framerate", stream.framerate.to_string()),
                ]
                .into_iter()
                .chain((stream.width > 0 && stream.height > 0).then(|| {
                    Attribute::new(
                        "x-dimensions",
                        format!("{},{}", stream.width, stream.height),
                    )
                }))
                .chain(stream.rtx.into_iter().flat_map(|r| {
                    let nack = Attribute::new("rtcp-fb", format!("{JPEG_PAYLOAD_TYPE} nack"));
                    std::iter::once(nack).chain(r.attributes(90_000))
                }))
                .collect(),
            }],
        }
    }
}
