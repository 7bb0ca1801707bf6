use super::*;
use crate::jpeg::tests::small_jpeg;

fn chunk_bytes(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = fourcc.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn list_bytes(outer: &[u8; 4], form: &[u8; 4], children: &[u8]) -> Vec<u8> {
    chunk_bytes(outer, &[&form[..], children].concat())
}

fn strh(kind: &[u8; 4], handler: &[u8; 4], scale: u32, rate: u32, start: u32) -> Vec<u8> {
    let mut h = [0u8; 56];
    h[..4].copy_from_slice(kind);
    h[4..8].copy_from_slice(handler);
    h[20..24].copy_from_slice(&scale.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&start.to_le_bytes());
    chunk_bytes(b"strh", &h)
}

fn wave_format(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels * bits / 8;
    [
        &tag.to_le_bytes()[..],
        &channels.to_le_bytes(),
        &rate.to_le_bytes(),
        &(rate * u32::from(align)).to_le_bytes(),
        &align.to_le_bytes(),
        &bits.to_le_bytes(),
    ]
    .concat()
}

/// ffmpeg's layout: 30 fps MJPG and 48 kHz stereo PCM; `empty` video chunks after frame 1; a
/// second RIFF 'AVIX' holding `extra` more frames (OpenDML).
pub(crate) fn file(frames: usize, empty: usize, extra: usize, bits: u16) -> Vec<u8> {
    let mut bih = [0u8; 40];
    bih[16..20].copy_from_slice(b"MJPG");
    let video = list_bytes(
        b"LIST",
        b"strl",
        &[strh(b"vids", b"MJPG", 1, 30, 0), chunk_bytes(b"strf", &bih)].concat(),
    );
    let audio = list_bytes(
        b"LIST",
        b"strl",
        &[
            strh(b"auds", &[1, 0, 0, 0], 1, 48_000, 0),
            chunk_bytes(b"strf", &wave_format(1, 2, 48_000, bits)),
        ]
        .concat(),
    );
    let hdrl = list_bytes(
        b"LIST",
        b"hdrl",
        &[chunk_bytes(b"avih", &[0; 56]), video, audio].concat(),
    );
    let jpeg = small_jpeg();
    let mut movi = Vec::new();
    for i in 0..frames {
        movi.extend(chunk_bytes(b"00dc", &jpeg));
        movi.extend(chunk_bytes(b"01wb", &vec![i as u8; 6400]));
        if i == 1 {
            for _ in 0..empty {
                movi.extend(chunk_bytes(b"00dc", &[]));
            }
        }
    }
    movi.extend(chunk_bytes(b"ix00", &[0; 24]));
    let first = list_bytes(
        b"RIFF",
        b"AVI ",
        &[
            hdrl,
            chunk_bytes(b"JUNK", &[0; 7]),
            list_bytes(b"LIST", b"movi", &movi),
            chunk_bytes(b"idx1", &[0; 16]),
        ]
        .concat(),
    );
    if extra == 0 {
        return first;
    }
    let mut more = Vec::new();
    for _ in 0..extra {
        more.extend(list_bytes(
            b"LIST",
            b"rec ",
            &[
                chunk_bytes(b"00dc", &jpeg),
                chunk_bytes(b"01wb", &[9; 6400]),
            ]
            .concat(),
        ));
    }
    let avix = list_bytes(b"RIFF", b"AVIX", &list_bytes(b"LIST", b"movi", &more));
    [first, avix].concat()
}

#[test]
fn frames_and_pcm_sound() {
    let data = file(4, 0, 0, 16);
    let d = demux(&data).unwrap();
    assert_eq!(d.frames.len(), 4);
    assert_eq!(d.fps, 30.0);
    for f in &d.frames {
        assert_eq!(&data[f.clone()], &small_jpeg()[..]);
    }
    let s = d.sound.unwrap();
    assert_eq!((s.codec, s.rate, s.channels), (Codec::PcmS16le, 48_000, 2));
    assert_eq!(s.packets.len(), 4);
    assert_eq!(s.packets[1].time_ns, 33_333_333);
    assert_eq!(data[s.packets[2].range.clone()], vec![2u8; 6400][..]);
}

#[test]
fn empty_chunks_repeat_and_opendml_riffs_are_read() {
    let data = file(3, 2, 4, 16);
    let d = demux(&data).unwrap();
    assert_eq!(d.frames.len(), 3 + 2 + 4);
    assert_eq!(
        d.frames[2], d.frames[1],
        "an empty chunk repeats the frame before"
    );
    assert_eq!(d.sound.unwrap().packets.len(), 3 + 4);
}

#[test]
fn other_sound_is_refused_but_the_video_served() {
    let d = demux(&file(2, 0, 0, 24)).unwrap();
    assert!(d.sound.is_none());
    assert!(d.sound_refused.unwrap().contains("24-bit"));
}

#[test]
fn truncations_and_sizes_past_the_end_are_errors_with_offsets() {
    let data = file(3, 0, 2, 16);
    for cut in [0, 3, 11, 100, data.len() / 2, data.len() - 1] {
        let e = demux(&data[..cut]).unwrap_err();
        assert!(e.offset <= cut as u64, "cut {cut}: {e}");
        assert!(e.to_string().starts_with("AVI: "), "{e}");
    }
    // A chunk size near u32::MAX (an overflow on 32-bit arithmetic) is past the end.
    let mut bad = file(2, 0, 0, 16);
    let at = bad.windows(4).position(|w| w == b"00dc").unwrap();
    bad[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = demux(&bad).unwrap_err();
    assert!(matches!(e.problem, Problem::PastEnd { .. }), "{e}");
    assert_eq!(e.offset, at as u64);
}

proptest::proptest! {
    #[test]
    fn never_panics_on_damage(
        cut in 0usize..3000,
        flips in proptest::collection::vec((0usize..3000, proptest::prelude::any::<u8>()), 0..8),
    ) {
        crate::container::damage::cut_and_flipped(file(3, 1, 1, 16), cut, flips, demux);
    }

    #[test]
    fn never_panics_on_noise(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        crate::container::damage::noise_after(b"RIFF\xff\xff\xff\x7fAVI ", bytes, demux);
    }
}

#[test]
fn a_nest_of_rec_lists_is_refused_not_recursed() {
    let inner = list_bytes(b"LIST", b"rec ", &chunk_bytes(b"00dc", &small_jpeg()));
    let nest = list_bytes(b"LIST", b"rec ", &inner);
    let mut data = file(1, 0, 0, 16);
    // Another movi list after the first, holding the nest.
    data.extend(list_bytes(b"LIST", b"movi", &nest));
    let riff = (data.len() - 8) as u32;
    data[4..8].copy_from_slice(&riff.to_le_bytes());
    let e = demux(&data).unwrap_err();
    assert!(e.to_string().contains("inside a 'rec ' list"), "{e}");
}
