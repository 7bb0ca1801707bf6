//! JPEG headers (ITU-T T.81 Annex B): walk the markers of one frame and learn its size,
//! components, tables, restart interval and where its entropy-coded data lies, without decoding.
//!
//! [`Header::parse`] never panics: every length is checked against the data, and every error
//! names the byte offset it is about.

mod entropy;
mod error;
mod header;
pub mod marker;
mod parse;

pub use error::Error;
pub use header::{
    Component, Header, HuffmanTable, MAX_COMPONENTS, Process, QuantizationTable, Sampling,
    ScanComponent, Spectral,
};

#[cfg(test)]
pub(crate) mod tests;
