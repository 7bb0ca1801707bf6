//! RTP payload format for JPEG-compressed video, RFC 2435.
//!
//! A JPEG frame travels as its entropy-coded scan data cut into fragments; each RTP packet
//! carries an 8-byte main JPEG header (§3.1), a restart marker header for types 64..=127
//! (§3.1.7) and, in the first packet of a frame whose Q is 128..=255, the quantization tables
//! (§3.1.8). The receiver rebuilds the JPEG headers from these fields (§4, Appendices A, B).
//!
//! - [`Frame`]: what the [`Packetizer`] needs of one baseline JPEG; the packetizer yields
//!   [`Fragment`]s, each the payload of one RTP packet.
//! - [`Depacketizer`]: RTP packets in, rebuilt JPEGs ([`Jpeg`]) or [`Loss`] reports out.
//! - [`header`]: the three payload headers, parsed and written.
//! - [`tables`]: the standard Huffman and quantization tables.
//!
//! Only what hdstream sends and receives is supported: types 0 and 1 (4:2:2 and 4:2:0) and
//! their restart-marker variants 64 and 65.

mod conceal;
mod depacketizer;
mod error;
mod frame;
pub mod header;
mod jpeg;
mod packetizer;
pub mod restart;
pub mod scan;
pub mod tables;

pub use conceal::Concealed;
pub use depacketizer::{DEFAULT_MAX_FRAME_LEN, Depacketizer, Jpeg, Loss, Output};
pub use error::Error;
pub use frame::{Frame, Subsampling};
pub use packetizer::{Fragment, MAX_HEADER_LEN, Packetizer, Position, Q_IN_BAND};

#[cfg(test)]
mod tests;
