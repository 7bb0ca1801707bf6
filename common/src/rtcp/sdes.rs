//! Source description, SDES, RFC 3550 §6.5.
//!
//! ```text
//! header (SC = chunk count) | chunk × SC
//! chunk: SSRC/CSRC | item ... | 0 | null octets to the next 32-bit boundary
//! item:  type (1) | length (1) | text (length octets, UTF-8)
//! ```

use super::Error;
use super::parts::Parts;
use super::report::DebugIter;
use crate::rtp::be32;

/// One SDES item: its type and text (§6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type ([`SdesItem::CNAME`], ...); never 0, which ends a chunk.
    pub kind: u8,
    /// The text, up to 255 octets, UTF-8 by the RFC but not checked.
    pub value: &'a [u8],
}

impl SdesItem<'_> {
    /// Canonical end-point identifier, `user@host` (§6.5.1); the one item every compound
    /// packet carries.
    pub const CNAME: u8 = 1;
    /// User name (§6.5.2).
    pub const NAME: u8 = 2;
    /// Electronic mail address (§6.5.3).
    pub const EMAIL: u8 = 3;
    /// Phone number (§6.5.4).
    pub const PHONE: u8 = 4;
    /// Geographic user location (§6.5.5).
    pub const LOC: u8 = 5;
    /// Application or tool name (§6.5.6).
    pub const TOOL: u8 = 6;
    /// Notice/status (§6.5.7).
    pub const NOTE: u8 = 7;
    /// Private extensions (§6.5.8).
    pub const PRIV: u8 = 8;
}

/// Reads the chunk at the front of `bytes`: returns its SSRC, its item bytes (terminator
/// excluded) and the bytes after its padding, or `None` if it runs past the end.
fn split_chunk(bytes: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    let items = bytes.get(4..)?;
    let mut at = 0;
    loop {
        match items.get(at)? {
            0 => break,
            _ => at += 2 + usize::from(*items.get(at + 1)?),
        }
    }
    // The null terminator and the pad up to the next 32-bit boundary (chunks start aligned).
    let next = (4 + at + 1).next_multiple_of(4);
    Some((be32(bytes, 0), items.get(..at)?, bytes.get(next..)?))
}

/// A source description packet, SDES (§6.5), as a borrowed view.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    /// SC.
    count: u8,
    /// Body after the common header, without padding.
    body: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    /// Checks that every chunk and item lies within the packet.
    pub(super) fn parse(parts: Parts<'a>) -> Result<SourceDescription<'a>, Error> {
        let mut rest = parts.body;
        for _ in 0..parts.count {
            let Some((_, _, after)) = split_chunk(rest) else {
                return Err(Error::Item {
                    offset: parts.offset,
                });
            };
            rest = after;
        }
        Ok(SourceDescription {
            count: parts.count,
            body: parts.body,
        })
    }

    /// The number of chunks (SC).
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The chunks, one per source.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk<'a>> + 'a {
        let mut rest = self.body;
        (0..self.count).map_while(move |_| {
            let (ssrc, items, after) = split_chunk(rest)?;
            rest = after;
            Some(Chunk { ssrc, items })
        })
    }

    /// The CNAME of `ssrc`, if this packet carries one.
    pub fn cname(&self, ssrc: u32) -> Option<&'a [u8]> {
        self.chunks()
            .filter(|c| c.ssrc == ssrc)
            .find_map(|c| c.cname())
    }

    /// Bytes after the common header, without padding.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

impl std::fmt::Debug for SourceDescription<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceDescription")
            .field("chunks", &DebugIter(|| self.chunks()))
            .finish()
    }
}

/// The items describing one source in an SDES packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// SSRC or CSRC of the source described.
    pub ssrc: u32,
    /// The items, terminator excluded (validated to lie within the packet).
    items: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// The items, in order.
    pub fn items(&self) -> impl Iterator<Item = SdesItem<'a>> + 'a {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let (&kind, tail) = rest.split_first()?;
            let (&len, tail) = tail.split_first()?;
            let value = tail.get(..usize::from(len))?;
            rest = tail.get(usize::from(len)..)?;
            Some(SdesItem { kind, value })
        })
    }

    /// The CNAME item's text, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.kind == SdesItem::CNAME)
            .map(|i| i.value)
    }
}

impl std::fmt::Debug for Chunk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk")
            .field("ssrc", &format_args!("{:08x}", self.ssrc))
            .field("items", &DebugIter(|| self.items()))
            .finish()
    }
}
