//! Goodbye, BYE, RFC 3550 §6.6.
//!
//! ```text
//! header (SC = source count) | SSRC/CSRC × SC | [length (1) | reason for leaving | pad]
//! ```

use super::Error;
use super::parts::Parts;
use super::report::DebugIter;
use crate::rtp::be32;

/// A goodbye packet, BYE (§6.6), as a borrowed view.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Goodbye<'a> {
    /// SC.
    count: u8,
    /// Body after the common header, without padding.
    body: &'a [u8],
}

impl<'a> Goodbye<'a> {
    /// Checks the source count and the reason against the length.
    pub(super) fn parse(parts: Parts<'a>) -> Result<Goodbye<'a>, Error> {
        let sources = 4 * usize::from(parts.count);
        let Some(after) = parts.body.get(sources..) else {
            return Err(Error::Count {
                offset: parts.offset,
                packet_type: parts.packet_type,
                count: parts.count,
            });
        };
        if let Some(&len) = after.first()
            && after.len() < 1 + usize::from(len)
        {
            return Err(Error::Reason {
                offset: parts.offset,
            });
        }
        Ok(Goodbye {
            count: parts.count,
            body: parts.body,
        })
    }

    /// The number of sources leaving (SC).
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The sources leaving.
    pub fn sources(&self) -> impl Iterator<Item = u32> + 'a {
        let end = 4 * usize::from(self.count);
        self.body
            .get(..end)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| be32(c, 0))
    }

    /// The reason for leaving, if given.
    pub fn reason(&self) -> Option<&'a [u8]> {
        let after = self.body.get(4 * usize::from(self.count)..)?;
        let (&len, text) = after.split_first()?;
        text.get(..usize::from(len))
    }

    /// Bytes after the common header, without padding.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

impl std::fmt::Debug for Goodbye<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Goodbye")
            .field("sources", &DebugIter(|| self.sources()))
            .field("reason", &self.reason().map(String::from_utf8_lossy))
            .finish()
    }
}
