//! `RTP-Info`, RFC 2326 §12.33.

use std::fmt;

use super::{Error, Header, number, split_list, split_param, syntax, unquote};

/// One stream's entry in [`RtpInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpInfoEntry {
    /// `url=`: the stream's control URL as given in SETUP.
    pub url: String,
    /// `seq=`: sequence number of the first packet sent after PLAY.
    pub seq: Option<u16>,
    /// `rtptime=`: RTP timestamp that corresponds to the start of the Range.
    pub rtptime: Option<u32>,
}

/// `RTP-Info = "RTP-Info" ":" 1#stream-url 1*parameter` (§12.33), sent in the PLAY reply so
/// the client can map RTP timestamps onto the play range:
///
/// ```text
/// RTP-Info: url=rtsp://foo.com/bar.avi/streamid=0;seq=45102;rtptime=12345678,
///           url=rtsp://foo.com/bar.avi/streamid=1;seq=30211;rtptime=2250000
/// ```
///
/// Entries are separated by commas, so a URL containing `,` or `;` is written quoted (RFC 7826
/// style) and read with or without quotes. Unknown parameters (e.g. RTSP 2.0's `ssrc=`) are
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpInfo(pub Vec<RtpInfoEntry>);

impl Header for RtpInfo {
    const NAME: &'static str = "RTP-Info";

    fn parse(value: &str) -> Result<Self, Error> {
        let entries =
            split_list(value, b',').ok_or_else(|| syntax(Self::NAME, "closed quotes", value))?;
        if entries.is_empty() {
            return Err(syntax(Self::NAME, "1#stream-url", value));
        }
        entries
            .into_iter()
            .map(parse_entry)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

fn parse_entry(entry: &str) -> Result<RtpInfoEntry, Error> {
    let header = RtpInfo::NAME;
    let pieces = split_list(entry, b';').ok_or_else(|| syntax(header, "closed quotes", entry))?;
    let mut pieces = pieces.into_iter();
    let url = match pieces.next().map(split_param) {
        Some((name, Some(url))) if name.eq_ignore_ascii_case("url") => url,
        _ => return Err(syntax(header, "url=", entry)),
    };
    let url = unquote(url)
        .filter(|u| !u.is_empty() && !u.bytes().any(|b| b.is_ascii_whitespace()))
        .ok_or_else(|| syntax(header, "a URL", url))?;
    let mut parsed = RtpInfoEntry {
        url: url.to_owned(),
        seq: None,
        rtptime: None,
    };
    for piece in pieces {
        let (name, value) = split_param(piece);
        let value = value.unwrap_or_default();
        if name.eq_ignore_ascii_case("seq") {
            parsed.seq = Some(number(header, "seq=1*DIGIT", value)?);
        } else if name.eq_ignore_ascii_case("rtptime") {
            parsed.rtptime = Some(number(header, "rtptime=1*DIGIT", value)?);
        }
    }
    Ok(parsed)
}

impl fmt::Display for RtpInfoEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.url.contains([',', ';']) {
            write!(f, "url=\"{}\"", self.url)?;
        } else {
            write!(f, "url={}", self.url)?;
        }
        if let Some(seq) = self.seq {
            write!(f, ";seq={seq}")?;
        }
        if let Some(rtptime) = self.rtptime {
            write!(f, ";rtptime={rtptime}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RtpInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, seq: Option<u16>, rtptime: Option<u32>) -> RtpInfoEntry {
        RtpInfoEntry {
            url: url.into(),
            seq,
            rtptime,
        }
    }

    #[test]
    fn parses_the_rfc_example() {
        let info = RtpInfo::parse(
            "url=rtsp://foo.com/bar.avi/streamid=0;seq=45102, \
             url=rtsp://foo.com/bar.avi/streamid=1;seq=30211;rtptime=2250000",
        )
        .unwrap();
        assert_eq!(
            info.0,
            [
                entry("rtsp://foo.com/bar.avi/streamid=0", Some(45102), None),
                entry(
                    "rtsp://foo.com/bar.avi/streamid=1",
                    Some(30211),
                    Some(2250000)
                ),
            ]
        );
    }

    #[test]
    fn displays_and_reads_back() {
        let info = RtpInfo(vec![
            entry("rtsp://h/a/track1", Some(1), Some(90000)),
            entry("rtsp://h/a;b,c", None, Some(0)),
        ]);
        let text = info.to_string();
        assert_eq!(
            text,
            "url=rtsp://h/a/track1;seq=1;rtptime=90000,url=\"rtsp://h/a;b,c\";rtptime=0"
        );
        assert_eq!(RtpInfo::parse(&text), Ok(info));
    }

    #[test]
    fn ignores_unknown_parameters_and_rejects_bad_numbers() {
        assert_eq!(
            RtpInfo::parse("url=x;ssrc=DEADBEEF;seq=7").unwrap().0,
            [entry("x", Some(7), None)]
        );
        for bad in [
            "",
            "seq=1",
            "url=;seq=1",
            "url=x;seq=70000",
            "url=x;rtptime=-1",
            "url=\"x",
            "url=x;seq",
        ] {
            assert!(RtpInfo::parse(bad).is_err(), "{bad:?}");
        }
    }
}
