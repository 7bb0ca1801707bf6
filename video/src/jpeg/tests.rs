//! Parser tests on hand-made byte sequences.

use hdstream_common::rfc2435::tables;

use super::marker::{self, Marker};
use super::{Error, Header, Process, Sampling};

/// `FF code Lh Ll body`.
pub(crate) fn segment(code: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 2).unwrap();
    let mut s = vec![0xFF, code];
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(body);
    s
}

pub(crate) fn sof(code: u8, precision: u8, w: u16, h: u16, comps: &[(u8, u8, u8)]) -> Vec<u8> {
    let mut body = vec![precision];
    body.extend_from_slice(&h.to_be_bytes());
    body.extend_from_slice(&w.to_be_bytes());
    body.push(comps.len() as u8);
    for &(id, hv, tq) in comps {
        body.extend_from_slice(&[id, hv, tq]);
    }
    segment(code, &body)
}

pub(crate) fn dht_standard() -> Vec<u8> {
    let mut body = Vec::new();
    for (tc_th, bits, values) in [
        (0x00, &tables::DC_LUMA_BITS[..], &tables::DC_LUMA_VALUES[..]),
        (0x10, &tables::AC_LUMA_BITS[..], &tables::AC_LUMA_VALUES[..]),
        (
            0x01,
            &tables::DC_CHROMA_BITS[..],
            &tables::DC_CHROMA_VALUES[..],
        ),
        (
            0x11,
            &tables::AC_CHROMA_BITS[..],
            &tables::AC_CHROMA_VALUES[..],
        ),
    ] {
        body.push(tc_th);
        body.extend_from_slice(bits);
        body.extend_from_slice(values);
    }
    segment(marker::DHT, &body)
}

pub(crate) fn sos3() -> Vec<u8> {
    segment(marker::SOS, &[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])
}

/// Entropy-coded bytes with a stuffed FF 00 and an RST marker inside.
pub(crate) const SCAN: [u8; 9] = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0x78, 0x9A];

/// Parts of a small 4:2:0 baseline JPEG: SOI, APP0, DQT (two tables in one segment), SOF0, DHT
/// (four tables in one segment), DRI, COM, SOS, scan, EOI.
pub(crate) fn parts() -> Vec<Vec<u8>> {
    let mut dqt = vec![0x00];
    dqt.extend(1..=64u8);
    dqt.push(0x01);
    dqt.extend(101..=164u8);
    vec![
        vec![0xFF, 0xD8],
        segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
        segment(marker::DQT, &dqt),
        sof(
            marker::SOF0,
            8,
            64,
            48,
            &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)],
        ),
        dht_standard(),
        segment(marker::DRI, &[0, 4]),
        segment(marker::COM, b"hand-made"),
        sos3(),
        SCAN.to_vec(),
        vec![0xFF, 0xD9],
    ]
}

pub(crate) fn small_jpeg() -> Vec<u8> {
    parts().concat()
}

fn with(replace: usize, by: Vec<u8>) -> Vec<u8> {
    let mut p = parts();
    p[replace] = by;
    p.concat()
}

#[test]
fn parses_every_segment_of_a_small_jpeg() {
    let data = small_jpeg();
    let h = Header::parse(&data).unwrap();
    assert_eq!(h.len(), data.len());
    assert_eq!((h.width, h.height, h.precision), (64, 48, 8));
    assert_eq!(h.process(), Process::Baseline);
    assert!(!h.is_arithmetic() && !h.is_differential());
    assert_eq!(h.sampling(), Sampling::Yuv420);
    let ids: Vec<(u8, u8, u8, u8)> = h
        .components()
        .iter()
        .map(|c| (c.id, c.h, c.v, c.tq))
        .collect();
    assert_eq!(ids, [(1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)]);
    let q0 = h.quantization[0].unwrap();
    let q1 = h.quantization[1].unwrap();
    assert_eq!(
        (q0.precision, q0.values.len(), q0.values[0], q0.values[63]),
        (0, 64, 1, 64)
    );
    assert_eq!((q1.values[0], q1.values[63]), (101, 164));
    assert!(h.quantization[2].is_none());
    assert!(h.has_dht);
    assert_eq!(h.dc_tables[0].unwrap().bits, tables::DC_LUMA_BITS);
    assert_eq!(h.ac_tables[1].unwrap().values, tables::AC_CHROMA_VALUES);
    assert_eq!(h.restart_interval, 4);
    assert_eq!(h.scans, 1);
    assert_eq!(h.scan_data(), SCAN);
    assert_eq!(h.scan_components().len(), 3);
    assert_eq!(
        (h.scan_components()[1].td, h.scan_components()[1].ta),
        (1, 1)
    );
    assert_eq!((h.spectral.ss, h.spectral.se), (0, 63));
    assert!(h.eoi);
}

#[test]
fn stops_at_eoi_and_ignores_what_follows() {
    let mut data = small_jpeg();
    let len = data.len();
    data.extend_from_slice(&[0xFF, 0xD8, 1, 2, 3]);
    assert_eq!(Header::parse(&data).unwrap().len(), len);
}

#[test]
fn sixteen_bit_dqt_and_fill_bytes_before_markers() {
    let mut dqt = vec![0x10];
    dqt.extend(std::iter::repeat_n(0, 127));
    dqt.push(9);
    let mut p = parts();
    p[2] = segment(marker::DQT, &dqt);
    p[3] = sof(
        marker::SOF1,
        8,
        64,
        48,
        &[(1, 0x21, 0), (2, 0x11, 0), (3, 0x11, 0)],
    );
    // Fill bytes before SOS and before EOI.
    p[7].insert(0, 0xFF);
    p[9].insert(0, 0xFF);
    let data = p.concat();
    let h = Header::parse(&data).unwrap();
    let q = h.quantization[0].unwrap();
    assert_eq!((q.precision, q.values.len(), q.values[127]), (1, 128, 9));
    assert_eq!(h.process(), Process::Extended);
    assert_eq!(h.sampling(), Sampling::Yuv422);
    assert_eq!(h.scan_data(), SCAN);
}

#[test]
fn progressive_counts_every_scan_and_keeps_the_first() {
    let mut p = parts();
    p[3] = sof(
        marker::SOF2,
        8,
        64,
        48,
        &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)],
    );
    p[7] = segment(marker::SOS, &[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 0, 1]);
    p.insert(
        9,
        segment(
            marker::DHT,
            &[0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    );
    p.insert(10, segment(marker::SOS, &[1, 1, 0x00, 1, 63, 0]));
    p.insert(11, vec![0xAB, 0xCD]);
    let data = p.concat();
    let h = Header::parse(&data).unwrap();
    assert_eq!(h.process(), Process::Progressive);
    assert_eq!(h.scans, 2);
    assert_eq!(h.scan_data(), SCAN);
    assert_eq!(h.spectral.se, 0);
    // The DHT between scans does not replace the table of the first scan.
    assert_eq!(h.ac_tables[0].unwrap().bits, tables::AC_LUMA_BITS);
}

#[test]
fn classifies_sof_markers() {
    for (code, process, arithmetic, differential) in [
        (0xC0, Process::Baseline, false, false),
        (0xC1, Process::Extended, false, false),
        (0xC2, Process::Progressive, false, false),
        (0xC3, Process::Lossless, false, false),
        (0xC5, Process::Extended, false, true),
        (0xC9, Process::Extended, true, false),
        (0xCA, Process::Progressive, true, false),
        (0xCF, Process::Lossless, true, true),
    ] {
        let data = with(
            3,
            sof(code, 8, 64, 48, &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)]),
        );
        let h = Header::parse(&data).unwrap();
        assert_eq!(
            (h.process(), h.is_arithmetic(), h.is_differential()),
            (process, arithmetic, differential),
            "{code:X}"
        );
    }
}

#[test]
fn sampling_names() {
    for (comps, sampling) in [
        (&[(1, 0x11, 0)][..], Sampling::Gray),
        (
            &[(1, 0x11, 0), (2, 0x11, 1), (3, 0x11, 1)][..],
            Sampling::Yuv444,
        ),
        (
            &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)][..],
            Sampling::Yuv420,
        ),
        (
            &[(1, 0x21, 0), (2, 0x11, 1), (3, 0x11, 1)][..],
            Sampling::Yuv422,
        ),
        (
            &[(1, 0x41, 0), (2, 0x11, 1), (3, 0x11, 1)][..],
            Sampling::Other,
        ),
        (
            &[(1, 0x12, 0), (2, 0x11, 1), (3, 0x11, 1)][..],
            Sampling::Other,
        ),
        (
            &[(1, 0x22, 0), (2, 0x21, 1), (3, 0x11, 1)][..],
            Sampling::Other,
        ),
        (
            &[(1, 0x11, 0), (2, 0x11, 1), (3, 0x11, 1), (4, 0x11, 1)][..],
            Sampling::Other,
        ),
    ] {
        let mut p = parts();
        p[3] = sof(marker::SOF0, 8, 64, 48, comps);
        p[7] = segment(marker::SOS, &[1, 1, 0x00, 0, 63, 0]);
        let data = p.concat();
        assert_eq!(
            Header::parse(&data).unwrap().sampling(),
            sampling,
            "{comps:?}"
        );
    }
    assert_eq!(Sampling::Yuv444.to_string(), "4:4:4");
}

#[test]
fn missing_soi() {
    assert_eq!(
        Header::parse(&[0x00, 0xD8]),
        Err(Error::Soi {
            offset: 0,
            found: 0
        })
    );
    assert_eq!(
        Header::parse(&[0xFF, 0xD9]),
        Err(Error::Soi {
            offset: 1,
            found: 0xD9
        })
    );
    assert_eq!(
        Header::parse(&[]),
        Err(Error::Truncated {
            offset: 0,
            what: "SOI marker"
        })
    );
}

#[test]
fn bad_lengths_name_the_segment_and_offset() {
    let sof_at = parts()[..3].concat().len();
    // SOF length 1: shorter than the length field itself.
    let data = with(3, vec![0xFF, 0xC0, 0x00, 0x01]);
    assert_eq!(
        Header::parse(&data),
        Err(Error::Length {
            offset: sof_at,
            marker: Marker(0xC0),
            length: 1
        })
    );
    // SOF whose length disagrees with Nf.
    let mut bad = sof(
        marker::SOF0,
        8,
        64,
        48,
        &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)],
    );
    bad[3] -= 1;
    bad.pop();
    let data = with(3, bad);
    let err = Header::parse(&data);
    assert!(matches!(err, Err(Error::Length { offset, .. }) if offset == sof_at));
    // DRI of 3 bytes.
    assert!(matches!(
        Header::parse(&with(5, segment(marker::DRI, &[0, 1, 2]))),
        Err(Error::Length { .. })
    ));
    // DQT cut inside its second table.
    let mut dqt = vec![0x00];
    dqt.extend([1; 64]);
    dqt.extend([0x01, 1, 2]);
    assert!(matches!(
        Header::parse(&with(2, segment(marker::DQT, &dqt))),
        Err(Error::Length {
            marker: Marker(0xDB),
            ..
        })
    ));
    // DHT whose counts promise more symbols than the segment holds.
    let mut dht = vec![0x00, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    dht.extend([1, 2]);
    assert!(matches!(
        Header::parse(&with(4, segment(marker::DHT, &dht))),
        Err(Error::Length {
            marker: Marker(0xC4),
            ..
        })
    ));
    // SOS whose length disagrees with Ns.
    assert!(matches!(
        Header::parse(&with(
            7,
            segment(marker::SOS, &[3, 1, 0, 2, 0x11, 0, 63, 0])
        )),
        Err(Error::Length { .. })
    ));
}

#[test]
fn out_of_range_fields() {
    let field = |data: Vec<u8>| match Header::parse(&data) {
        Err(Error::Field { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(with(3, sof(0xC0, 8, 64, 48, &[]))), "component count");
    assert_eq!(
        field(with(
            3,
            sof(0xC0, 8, 64, 48, &[(1, 0x52, 0), (2, 0x11, 1), (3, 0x11, 1)])
        )),
        "sampling factor"
    );
    assert_eq!(
        field(with(
            3,
            sof(0xC0, 8, 64, 48, &[(1, 0x02, 0), (2, 0x11, 1), (3, 0x11, 1)])
        )),
        "sampling factor"
    );
    assert_eq!(
        field(with(
            3,
            sof(0xC0, 8, 64, 48, &[(1, 0x22, 4), (2, 0x11, 1), (3, 0x11, 1)])
        )),
        "quantization table selector"
    );
    assert_eq!(
        field(with(
            3,
            sof(0xC0, 8, 64, 48, &[(1, 0x22, 0), (1, 0x11, 1), (3, 0x11, 1)])
        )),
        "duplicate component id"
    );
    let mut dqt = vec![0x20];
    dqt.extend([1; 64]);
    assert_eq!(
        field(with(2, segment(marker::DQT, &dqt))),
        "quantization table precision"
    );
    assert_eq!(
        field(with(4, segment(marker::DHT, &[0x20; 17]))),
        "Huffman table class"
    );
    assert_eq!(
        field(with(4, segment(marker::DHT, &[0x04; 17]))),
        "Huffman table destination"
    );
    let mut many = vec![0x00];
    many.extend([255; 16]);
    assert_eq!(
        field(with(4, segment(marker::DHT, &many))),
        "Huffman code count"
    );
    assert_eq!(
        field(with(
            7,
            segment(marker::SOS, &[3, 1, 0, 2, 0x11, 9, 0x11, 0, 63, 0])
        )),
        "scan component id"
    );
    assert_eq!(
        field(with(
            7,
            segment(marker::SOS, &[3, 1, 0x40, 2, 0x11, 3, 0x11, 0, 63, 0])
        )),
        "Huffman table selector"
    );
    assert_eq!(
        field(with(7, segment(marker::SOS, &[0, 0, 63, 0]))),
        "scan component count"
    );
}

#[test]
fn markers_out_of_place() {
    let sof_at = parts()[..3].concat().len();
    // A second SOF.
    let mut p = parts();
    p.insert(4, p[3].clone());
    let second = p[..4].concat().len();
    assert_eq!(
        Header::parse(&p.concat()),
        Err(Error::Unexpected {
            offset: second,
            marker: Marker(0xC0)
        })
    );
    // SOS before SOF.
    let mut p = parts();
    p.swap(3, 7);
    assert!(matches!(
        Header::parse(&p.concat()),
        Err(Error::Unexpected {
            marker: Marker(0xDA),
            ..
        })
    ));
    // SOI inside the frame.
    assert_eq!(
        Header::parse(&with(3, vec![0xFF, 0xD8])),
        Err(Error::Unexpected {
            offset: sof_at,
            marker: Marker(0xD8)
        })
    );
    // A reserved code.
    assert!(matches!(
        Header::parse(&with(6, segment(0x05, &[]))),
        Err(Error::Unexpected {
            marker: Marker(5),
            ..
        })
    ));
    // Garbage where a marker should be.
    assert_eq!(
        Header::parse(&with(3, vec![0x12])),
        Err(Error::Marker {
            offset: sof_at,
            found: 0x12
        })
    );
}

#[test]
fn eoi_before_sof_or_sos_is_incomplete() {
    assert!(matches!(
        Header::parse(&[0xFF, 0xD8, 0xFF, 0xD9]),
        Err(Error::Incomplete { offset: 2, .. })
    ));
    let mut p = parts();
    p.truncate(7);
    p.push(vec![0xFF, 0xD9]);
    assert!(matches!(
        Header::parse(&p.concat()),
        Err(Error::Incomplete {
            missing: "scan (SOS)",
            ..
        })
    ));
}

#[test]
fn truncation_at_every_byte_is_an_error_with_an_offset_within_the_data() {
    let data = small_jpeg();
    for cut in 0..data.len() {
        let err = Header::parse(&data[..cut]).expect_err("a cut-off frame parses");
        assert!(err.is_truncation(), "cut at {cut}: {err:?}");
        assert!(err.offset() <= cut, "cut at {cut}: {err:?}");
        assert!(err.to_string().contains(&format!("byte {}", err.offset())));
    }
}

#[test]
fn a_record_may_end_without_eoi_after_its_scan() {
    let data = small_jpeg();
    let no_eoi = &data[..data.len() - 2];
    assert!(Header::parse(no_eoi).is_err());
    let h = Header::parse_record(no_eoi).unwrap();
    assert!(!h.eoi);
    assert_eq!(h.scan_data(), SCAN);
    assert_eq!(h.len(), no_eoi.len());
    // But not before it.
    let scan_at = parts()[..8].concat().len();
    assert!(
        Header::parse_record(&data[..scan_at - 1])
            .unwrap_err()
            .is_truncation()
    );
    // With EOI, records parse as frames do.
    assert!(Header::parse_record(&data).unwrap().eoi);
}

#[test]
fn error_offsets_shift_to_file_offsets() {
    let e = Error::Truncated {
        offset: 10,
        what: "DHT segment",
    };
    assert_eq!(e.shifted(1000).offset(), 1010);
    assert_eq!(
        e.shifted(1000).to_string(),
        "DHT segment at byte 1010 runs past the end of the data"
    );
}
