//! The marker walker: SOI, then segments, scans and EOI (ITU-T T.81 Annex B).
//!
//! ```text
//! FF D8                                   SOI
//! FF Cn  Lh Lh  P Y Y X X Nf {Ci HiVi Tqi} SOFn   (n ≠ 4, 8, 12)
//! FF DB  Lh Lh  {PqTq Q0..Q63}            DQT    (8- or 16-bit entries, several tables)
//! FF C4  Lh Lh  {TcTh L1..L16 V…}         DHT    (several tables)
//! FF DD  00 04  Ri Ri                     DRI
//! FF DA  Lh Lh  Ns {Cs TdTa} Ss Se AhAl   SOS, then entropy-coded data up to the next
//!                                         marker that is neither FF 00 nor RSTn
//! FF D9                                   EOI
//! ```
//! APPn, COM, DNL, DAC, DHP, EXP and JPGn segments are skipped by their length.

use super::Error;
use super::entropy::scan_end;
use super::header::{
    Component, Header, HuffmanTable, MAX_COMPONENTS, QuantizationTable, ScanComponent, Spectral,
};
use super::marker::{self, Marker};

impl<'a> Header<'a> {
    /// Parses the JPEG at the start of `data`, which must begin with SOI; the frame ends at its
    /// EOI (bytes after it are not looked at). Data that ends before EOI is
    /// [`Error::Truncated`].
    pub fn parse(data: &'a [u8]) -> Result<Header<'a>, Error> {
        parse(data, true)
    }

    /// Parses a JPEG whose extent is known (one record of the course container): as
    /// [`Header::parse`], except that the data may end inside or after the last scan without
    /// EOI; the header then says `eoi: false`.
    pub fn parse_record(data: &'a [u8]) -> Result<Header<'a>, Error> {
        parse(data, false)
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn parse(data: &[u8], eoi_required: bool) -> Result<Header<'_>, Error> {
    match *data {
        [0xFF, marker::SOI, ..] => {}
        [b, ..] if b != 0xFF => {
            return Err(Error::Soi {
                offset: 0,
                found: b,
            });
        }
        [_, b, ..] => {
            return Err(Error::Soi {
                offset: 1,
                found: b,
            });
        }
        _ => {
            return Err(Error::Truncated {
                offset: 0,
                what: "SOI marker",
            });
        }
    }
    let mut walker = Walker {
        data,
        header: Header {
            bytes: data,
            sof: 0,
            precision: 0,
            height: 0,
            width: 0,
            components: [Component::default(); MAX_COMPONENTS],
            component_count: 0,
            quantization: [None; 4],
            dc_tables: [None; 4],
            ac_tables: [None; 4],
            has_dht: false,
            has_dac: false,
            restart_interval: 0,
            scans: 0,
            scan: 0..0,
            scan_components: [ScanComponent::default(); MAX_COMPONENTS],
            scan_component_count: 0,
            spectral: Spectral::default(),
            eoi: false,
        },
    };
    let mut pos = 2;
    loop {
        // A marker: 0xFF, optional fill bytes 0xFF, the code.
        let at = pos;
        match data.get(pos) {
            Some(0xFF) => {}
            Some(&found) => return Err(Error::Marker { offset: pos, found }),
            None => return walker.end_of_data(eoi_required, at, "marker"),
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&code) = data.get(pos) else {
            return walker.end_of_data(eoi_required, at, "marker");
        };
        pos += 1;
        match code {
            marker::EOI => return walker.finish(at, pos),
            marker::TEM => continue,
            c if marker::is_rst(c) => continue,
            marker::SOI | 0x00 | 0x02..=0xBF => {
                return Err(Error::Unexpected {
                    offset: at,
                    marker: Marker(code),
                });
            }
            _ => {}
        }
        let Some(length) = be16(data, pos) else {
            return walker.end_of_data(eoi_required, at, "segment length");
        };
        if length < 2 {
            return Err(Error::Length {
                offset: at,
                marker: Marker(code),
                length,
            });
        }
        let end = pos + usize::from(length);
        let Some(body) = data.get(pos + 2..end) else {
            return Err(Error::Truncated {
                offset: at,
                what: segment_name(code),
            });
        };
        let segment = Segment {
            at,
            code,
            length,
            body,
        };
        pos = end;
        match code {
            c if marker::is_sof(c) => walker.sof(&segment)?,
            marker::DQT => walker.dqt(&segment)?,
            marker::DHT => walker.dht(&segment)?,
            marker::DRI => walker.dri(&segment)?,
            marker::DAC => walker.header.has_dac = true,
            marker::SOS => {
                walker.sos(&segment)?;
                match scan_end(data, pos) {
                    Some(scan_end) => {
                        if walker.header.scans == 1 {
                            walker.header.scan = pos..scan_end;
                        }
                        pos = scan_end;
                    }
                    None => {
                        if walker.header.scans == 1 {
                            walker.header.scan = pos..data.len();
                        }
                        return walker.end_of_data(eoi_required, pos, "entropy-coded data");
                    }
                }
            }
            // APPn, COM, DNL, DHP, EXP, JPG, JPGn: nothing we need.
            _ => {}
        }
    }
}

/// "SOF0 segment" etc. as a `&'static str` (error fields stay `Copy`).
fn segment_name(code: u8) -> &'static str {
    match code {
        marker::DQT => "DQT segment",
        marker::DHT => "DHT segment",
        marker::DRI => "DRI segment",
        marker::SOS => "SOS segment",
        marker::COM => "COM segment",
        c if marker::is_sof(c) => "SOF segment",
        0xE0..=0xEF => "APPn segment",
        _ => "marker segment",
    }
}

struct Segment<'a> {
    /// Offset of the marker's 0xFF (fill bytes excluded).
    at: usize,
    code: u8,
    length: u16,
    /// The segment after its length field.
    body: &'a [u8],
}

impl Segment<'_> {
    fn length_error(&self) -> Error {
        Error::Length {
            offset: self.at,
            marker: Marker(self.code),
            length: self.length,
        }
    }

    fn field_error(&self, field: &'static str, value: impl Into<u16>) -> Error {
        Error::Field {
            offset: self.at,
            marker: Marker(self.code),
            field,
            value: value.into(),
        }
    }
}

struct Walker<'a> {
    data: &'a [u8],
    header: Header<'a>,
}

impl<'a> Walker<'a> {
    /// The data ended at a marker or inside a scan: fine for a record that has had a scan,
    /// truncation otherwise.
    fn end_of_data(
        mut self,
        eoi_required: bool,
        offset: usize,
        what: &'static str,
    ) -> Result<Header<'a>, Error> {
        if eoi_required || self.header.scans == 0 {
            return Err(Error::Truncated { offset, what });
        }
        self.header.eoi = false;
        self.header.bytes = self.data;
        Ok(self.header)
    }

    fn finish(mut self, at: usize, end: usize) -> Result<Header<'a>, Error> {
        if self.header.component_count == 0 {
            return Err(Error::Incomplete {
                offset: at,
                missing: "frame header (SOF)",
            });
        }
        if self.header.scans == 0 {
            return Err(Error::Incomplete {
                offset: at,
                missing: "scan (SOS)",
            });
        }
        self.header.eoi = true;
        self.header.bytes = self.data.get(..end).unwrap_or(self.data);
        Ok(self.header)
    }

    /// SOFn (T.81 §B.2.2).
    fn sof(&mut self, s: &Segment<'a>) -> Result<(), Error> {
        if self.header.component_count != 0 {
            return Err(Error::Unexpected {
                offset: s.at,
                marker: Marker(s.code),
            });
        }
        let &[precision, y0, y1, x0, x1, nf, ref rest @ ..] = s.body else {
            return Err(s.length_error());
        };
        if nf == 0 || usize::from(nf) > MAX_COMPONENTS {
            return Err(s.field_error("component count", nf));
        }
        if rest.len() != 3 * usize::from(nf) {
            return Err(s.length_error());
        }
        if precision == 0 {
            return Err(s.field_error("sample precision", precision));
        }
        for (i, c) in rest.chunks_exact(3).enumerate() {
            let (id, h, v, tq) = (c[0], c[1] >> 4, c[1] & 0x0F, c[2]);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(s.field_error("sampling factor", c[1]));
            }
            if tq > 3 {
                return Err(s.field_error("quantization table selector", tq));
            }
            if self.header.components[..i]
                .iter()
                .any(|other| other.id == id)
            {
                return Err(s.field_error("duplicate component id", id));
            }
            self.header.components[i] = Component { id, h, v, tq };
        }
        let h = &mut self.header;
        h.sof = s.code;
        h.precision = precision;
        h.height = u16::from_be_bytes([y0, y1]);
        h.width = u16::from_be_bytes([x0, x1]);
        h.component_count = nf;
        Ok(())
    }

    /// DQT (T.81 §B.2.4.1): one or more tables.
    fn dqt(&mut self, s: &Segment<'a>) -> Result<(), Error> {
        let mut rest = s.body;
        while let [pq_tq, ref tail @ ..] = *rest {
            let (pq, tq) = (pq_tq >> 4, pq_tq & 0x0F);
            if pq > 1 {
                return Err(s.field_error("quantization table precision", pq));
            }
            if tq > 3 {
                return Err(s.field_error("quantization table destination", tq));
            }
            let n = 64 * (usize::from(pq) + 1);
            let (Some(values), Some(tail)) = (tail.get(..n), tail.get(n..)) else {
                return Err(s.length_error());
            };
            if self.header.scans == 0 {
                self.header.quantization[usize::from(tq)] = Some(QuantizationTable {
                    precision: pq,
                    values,
                });
            }
            rest = tail;
        }
        Ok(())
    }

    /// DHT (T.81 §B.2.4.2): one or more tables.
    fn dht(&mut self, s: &Segment<'a>) -> Result<(), Error> {
        let mut rest = s.body;
        while let [tc_th, ref tail @ ..] = *rest {
            let (tc, th) = (tc_th >> 4, tc_th & 0x0F);
            if tc > 1 {
                return Err(s.field_error("Huffman table class", tc));
            }
            if th > 3 {
                return Err(s.field_error("Huffman table destination", th));
            }
            let Some(bits) = tail.get(..16) else {
                return Err(s.length_error());
            };
            let count: usize = bits.iter().map(|&b| usize::from(b)).sum();
            if count > 256 {
                return Err(s.field_error(
                    "Huffman code count",
                    u16::try_from(count).unwrap_or(u16::MAX),
                ));
            }
            let (Some(values), Some(tail)) = (tail.get(16..16 + count), tail.get(16 + count..))
            else {
                return Err(s.length_error());
            };
            if self.header.scans == 0 {
                self.header.has_dht = true;
                let table = Some(HuffmanTable { bits, values });
                if tc == 0 {
                    self.header.dc_tables[usize::from(th)] = table;
                } else {
                    self.header.ac_tables[usize::from(th)] = table;
                }
            }
            rest = tail;
        }
        Ok(())
    }

    /// DRI (T.81 §B.2.4.4).
    fn dri(&mut self, s: &Segment<'a>) -> Result<(), Error> {
        let &[r0, r1] = s.body else {
            return Err(s.length_error());
        };
        if self.header.scans == 0 {
            self.header.restart_interval = u16::from_be_bytes([r0, r1]);
        }
        Ok(())
    }

    /// SOS (T.81 §B.2.3).
    fn sos(&mut self, s: &Segment<'a>) -> Result<(), Error> {
        if self.header.component_count == 0 {
            return Err(Error::Unexpected {
                offset: s.at,
                marker: Marker(s.code),
            });
        }
        let &[ns, ref rest @ ..] = s.body else {
            return Err(s.length_error());
        };
        if ns == 0 || usize::from(ns) > MAX_COMPONENTS {
            return Err(s.field_error("scan component count", ns));
        }
        let n = 2 * usize::from(ns);
        let (Some(selectors), Some(&[ss, se, ahal])) = (rest.get(..n), rest.get(n..)) else {
            return Err(s.length_error());
        };
        let mut scan_components = [ScanComponent::default(); MAX_COMPONENTS];
        for (slot, c) in scan_components.iter_mut().zip(selectors.chunks_exact(2)) {
            let Some(index) = self.header.components().iter().position(|k| k.id == c[0]) else {
                return Err(s.field_error("scan component id", c[0]));
            };
            let (td, ta) = (c[1] >> 4, c[1] & 0x0F);
            if td > 3 || ta > 3 {
                return Err(s.field_error("Huffman table selector", c[1]));
            }
            // `index` < MAX_COMPONENTS, which fits in u8.
            *slot = ScanComponent {
                component: index as u8,
                td,
                ta,
            };
        }
        let h = &mut self.header;
        h.scans = h.scans.saturating_add(1);
        if h.scans == 1 {
            h.scan_components = scan_components;
            h.scan_component_count = ns;
            h.spectral = Spectral {
                ss,
                se,
                ah: ahal >> 4,
                al: ahal & 0x0F,
            };
        }
        Ok(())
    }
}
