//! Application-defined packets, APP, RFC 3550 §6.7.
//!
//! ```text
//! header (count = subtype) | SSRC/CSRC | name (4 ASCII) | application-dependent data
//! ```

use super::Error;
use super::parts::Parts;
use crate::rtp::be32;

/// An application-defined packet, APP (§6.7), as a borrowed view; hdstream reads none and
/// passes them through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    /// The subtype (count field).
    subtype: u8,
    /// Body after the common header, without padding.
    body: &'a [u8],
}

impl<'a> App<'a> {
    /// Checks that the SSRC and name are present.
    pub(super) fn parse(parts: Parts<'a>) -> Result<App<'a>, Error> {
        if parts.body.len() < 8 {
            return Err(Error::TooShort {
                offset: parts.offset,
                packet_type: parts.packet_type,
                len: parts.body.len(),
                needed: 8,
            });
        }
        Ok(App {
            subtype: parts.count,
            body: parts.body,
        })
    }

    /// The 5-bit subtype.
    pub fn subtype(&self) -> u8 {
        self.subtype
    }

    /// SSRC/CSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// The four-character name.
    pub fn name(&self) -> [u8; 4] {
        be32(self.body, 4).to_be_bytes()
    }

    /// The application-dependent data.
    pub fn data(&self) -> &'a [u8] {
        self.body.get(8..).unwrap_or_default()
    }

    /// Bytes after the common header, without padding.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

impl std::fmt::Debug for App<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("subtype", &self.subtype)
            .field("ssrc", &format_args!("{:08x}", self.ssrc()))
            .field("name", &String::from_utf8_lossy(&self.name()))
            .field("data", &self.data())
            .finish()
    }
}
