use super::*;
use crate::jpeg::tests::small_jpeg;

/// An element: ID bytes as written, size as an 8-byte VINT (as ffmpeg writes large ones).
pub(crate) fn el(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = id_bytes(id);
    out.push(0x01);
    out.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

/// An element of unknown size (RFC 8794 §6.2).
fn unknown(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = id_bytes(id);
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(body);
    out
}

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

fn uint(id: u32, v: u64) -> Vec<u8> {
    el(id, &v.to_be_bytes())
}

fn simple_block(track: u8, relative: i16, flags: u8, frame: &[u8]) -> Vec<u8> {
    let mut body = vec![0x80 | track];
    body.extend_from_slice(&relative.to_be_bytes());
    body.push(flags);
    body.extend_from_slice(frame);
    el(id::SIMPLE_BLOCK, &body)
}

fn opus_head() -> Vec<u8> {
    b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0".to_vec()
}

/// A file of `frames` 30 fps JPEGs and Opus or PCM sound, ffmpeg's layout; clusters of unknown
/// size when `live`.
pub(crate) fn file(frames: usize, opus: bool, live: bool) -> Vec<u8> {
    file_with(frames, opus, live, true)
}

/// [`file`], with or without the Opus track's CodecDelay.
fn file_with(frames: usize, opus: bool, live: bool, codec_delay: bool) -> Vec<u8> {
    let header = el(id::EBML, &el(id::DOC_TYPE, b"matroska"));
    let video = el(
        id::TRACK_ENTRY,
        &[
            uint(id::TRACK_NUMBER, 1),
            uint(id::TRACK_TYPE, VIDEO),
            el(id::CODEC_ID, b"V_MJPEG"),
            uint(id::DEFAULT_DURATION, 33_333_333),
        ]
        .concat(),
    );
    let mut audio_entry = vec![
        uint(id::TRACK_NUMBER, 2),
        uint(id::TRACK_TYPE, AUDIO),
        el(
            id::CODEC_ID,
            if opus { b"A_OPUS" } else { b"A_PCM/INT/LIT" },
        ),
        el(
            id::AUDIO,
            &[
                el(id::SAMPLING_FREQUENCY, &48_000f64.to_be_bytes()),
                uint(id::CHANNELS, 2),
                uint(id::BIT_DEPTH, 16),
            ]
            .concat(),
        ),
    ];
    if opus {
        audio_entry.push(el(id::CODEC_PRIVATE, &opus_head()));
        if codec_delay {
            audio_entry.push(uint(id::CODEC_DELAY, 6_500_000));
        }
    }
    let tracks = el(
        id::TRACKS,
        &[video, el(id::TRACK_ENTRY, &audio_entry.concat())].concat(),
    );
    let info = el(id::INFO, &uint(id::TIMESTAMP_SCALE, 1_000_000));
    let jpeg = small_jpeg();
    let mut clusters = Vec::new();
    for i in 0..frames {
        let ms = (i as f64 * 1000.0 / 30.0).round() as i16;
        let mut body = uint(id::TIMESTAMP, 0);
        body.extend(simple_block(1, ms, 0x80, &jpeg));
        let sound: Vec<u8> = if opus {
            vec![0xFC, i as u8, 0xAA]
        } else {
            vec![i as u8; 4 * 1600]
        };
        body.extend(el(
            id::BLOCK_GROUP,
            &el(id::BLOCK, &{
                let mut b = vec![0x82];
                b.extend_from_slice(&ms.to_be_bytes());
                b.push(0);
                b.extend_from_slice(&sound);
                b
            }),
        ));
        clusters.push(if live && i == 0 {
            unknown(id::CLUSTER, &body)
        } else {
            el(id::CLUSTER, &body)
        });
    }
    let cues = el(id::CUES, &[0xBB, 0x80]);
    let segment_body = [info, tracks, clusters.concat(), cues].concat();
    let segment = if live {
        unknown(id::SEGMENT, &segment_body)
    } else {
        el(id::SEGMENT, &segment_body)
    };
    [header, segment].concat()
}

#[test]
fn frames_and_pcm_sound() {
    let data = file(5, false, false);
    let d = demux(&data).unwrap();
    assert_eq!(d.frames.len(), 5);
    assert!((d.fps - 30.0).abs() < 1e-6, "{}", d.fps);
    let jpeg = small_jpeg();
    for f in &d.frames {
        assert_eq!(&data[f.clone()], &jpeg[..]);
    }
    let sound = d.sound.unwrap();
    assert_eq!(
        (sound.codec, sound.rate, sound.channels),
        (Codec::PcmS16le, 48_000, 2)
    );
    assert_eq!(sound.packets.len(), 5);
    assert_eq!(sound.packets[1].time_ns, 33_000_000);
    assert_eq!(data[sound.packets[3].range.clone()], vec![3u8; 6400][..]);
}

#[test]
fn opus_times_less_the_codec_delay_and_unknown_sizes() {
    for live in [false, true] {
        let data = file(4, true, live);
        let d = demux(&data).unwrap();
        assert_eq!(d.frames.len(), 4, "live {live}");
        let sound = d.sound.unwrap();
        assert_eq!(sound.codec, Codec::Opus { pre_skip: 312 });
        assert_eq!(sound.packets[0].time_ns, -6_500_000);
        assert_eq!(data[sound.packets[2].range.clone()], [0xFC, 2, 0xAA]);
    }
}

#[test]
fn opus_without_codec_delay_is_delayed_by_its_pre_skip() {
    let d = demux(&file_with(2, true, false, false)).unwrap();
    assert_eq!(
        d.sound.unwrap().packets[0].time_ns,
        -6_500_000,
        "312 / 48000 s"
    );
}

#[test]
fn lacing_and_other_codecs_are_refused_by_name() {
    let mut data = file(2, false, false);
    // The first SimpleBlock's flags: 0x80 → 0x82 (Xiph lacing).
    let at = data
        .windows(4)
        .position(|w| w == [0x81, 0, 0, 0x80])
        .unwrap();
    data[at + 3] = 0x82;
    let e = demux(&data).unwrap_err();
    assert!(e.to_string().contains("laced block"), "{e}");

    let data = file(2, false, false);
    let at = data.windows(7).position(|w| w == b"V_MJPEG").unwrap();
    let mut other = data.clone();
    other[at..at + 7].copy_from_slice(b"V_MPEGX");
    let e = demux(&other).unwrap_err();
    assert!(matches!(e.problem, Problem::NoVideo(_)), "{e}");
    assert!(e.to_string().contains("V_MPEGX"), "{e}");
}

#[test]
fn truncations_and_sizes_past_the_end_are_errors_with_offsets() {
    let data = file(3, true, false);
    for cut in [1, 5, 40, data.len() / 2, data.len() - 1] {
        let e = demux(&data[..cut]).unwrap_err();
        assert!(e.offset <= cut as u64, "cut {cut}: {e}");
        assert!(e.to_string().contains("at byte"), "{e}");
    }
    let e = demux(&data[..data.len() - 1]).unwrap_err();
    assert!(matches!(e.problem, Problem::PastEnd { .. }), "{e}");
    let ebml_header = el(id::EBML, &el(id::DOC_TYPE, b"matroska")).len();
    assert_eq!(
        e.offset, ebml_header as u64,
        "the Segment, after the EBML header"
    );
}

proptest::proptest! {
    #[test]
    fn never_panics_on_damage(
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 0..8),
    ) {
        crate::container::damage::cut_and_flipped(file(3, true, cut % 2 == 0), cut, flips, demux);
    }

    #[test]
    fn never_panics_on_noise(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        crate::container::damage::noise_after(&EBML_MAGIC, bytes, demux);
    }
}
