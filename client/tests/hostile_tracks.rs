//! A hostile server's sound and captions over a real socket: a fake RTSP server on loopback
//! describes video, L16 sound and T.140 captions, and over TCP interleaved sends 60 good frames
//! of the test pattern with 2 s of good sound — and among them sound packets of 3, 1 and 0
//! bytes, another payload type, another SSRC, a 30 KB payload of odd length, and captions with terminal
//! escapes, invalid UTF-8, NULs and a 10 KB line. Our client must show every frame, play the
//! good sound, count what it could not use, keep the captions' text readable, and end cleanly
//! (TEARDOWN answered).

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use hdstream_client::{LowerTransport, Options, Target, play};
use hdstream_common::rfc2435::Packetizer;
use hdstream_common::rtp;
use hdstream_video::jpeg::Header;

const FRAMES: u64 = 60;

/// Reads one request (up to its blank line); returns it.
fn request(stream: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        request.push(byte[0]);
    }
    String::from_utf8_lossy(&request).into_owned()
}

fn header<'a>(request: &'a str, name: &str) -> &'a str {
    request
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or("")
        .trim()
}

fn reply(stream: &mut TcpStream, request: &str, extra: &str, body: &str) {
    let reply = format!(
        "RTSP/1.0 200 OK\r\nCSeq: {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        header(request, "CSeq"),
        body.len()
    );
    stream.write_all(reply.as_bytes()).unwrap();
}

/// An RTP packet interleaved on `channel` (RFC 2326 §10.12).
fn interleaved(channel: u8, h: rtp::Header, payload: &[&[u8]]) -> Vec<u8> {
    let mut packet = Vec::new();
    h.append(payload, &mut packet).unwrap();
    let mut out = vec![b'$', channel];
    out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    out.extend_from_slice(&packet);
    out
}

fn rtp_header(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool) -> rtp::Header {
    rtp::Header {
        marker,
        payload_type: pt,
        sequence_number: seq,
        timestamp: ts,
        ssrc,
    }
}

/// The fake server: answers the set-up, streams, then answers TEARDOWN.
fn serve(listener: TcpListener, jpegs: Vec<Vec<u8>>) {
    let (mut s, _) = listener.accept().unwrap();
    let base = format!("rtsp://{}/hostile", s.local_addr().unwrap());
    let options = request(&mut s);
    reply(
        &mut s,
        &options,
        "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n",
        "",
    );
    let describe = request(&mut s);
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=hostile\r\nt=0 0\r\na=range:npt=0-2\r\n\
               m=video 0 RTP/AVP 26\r\na=control:trackID=0\r\na=framerate:30\r\n\
               m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\na=control:trackID=1\r\n\
               m=text 0 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\na=control:trackID=2\r\n";
    let content = format!("Content-Type: application/sdp\r\nContent-Base: {base}/\r\n");
    reply(&mut s, &describe, &content, sdp);
    for _ in 0..3 {
        let setup = request(&mut s);
        assert!(setup.starts_with("SETUP "), "{setup}");
        let transport = header(&setup, "Transport").to_owned();
        reply(
            &mut s,
            &setup,
            &format!("Session: 1\r\nTransport: {transport}\r\n"),
            "",
        );
    }
    let play = request(&mut s);
    assert!(play.starts_with("PLAY "), "{play}");
    let info = (0..3)
        .map(|t| format!("url={base}/trackID={t};seq=0;rtptime=0"))
        .collect::<Vec<_>>()
        .join(",");
    reply(
        &mut s,
        &play,
        &format!("Session: 1\r\nRange: npt=0-2\r\nRTP-Info: {info}\r\n"),
        "",
    );
    // Whatever the client sends from now (receiver reports, TEARDOWN): TEARDOWN is answered.
    let mut reader = s.try_clone().unwrap();
    let mut answer = s.try_clone().unwrap();
    let teardown = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        reader
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        loop {
            let Ok(n) = reader.read(&mut buf) else {
                return false;
            };
            if n == 0 {
                return false;
            }
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if let Some(at) = text.find("TEARDOWN ")
                && let Some(end) = text[at..].find("\r\n\r\n")
            {
                let request = text[at..at + end + 4].to_owned();
                let ok = format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {}\r\nSession: 1\r\n\r\n",
                    header(&request, "CSeq")
                );
                let _ = answer.write_all(ok.as_bytes());
                return true;
            }
        }
    });
    let (mut vseq, mut aseq, mut tseq) = (0u16, 0u16, 0u16);
    let next = |seq: &mut u16| {
        let s = *seq;
        *seq = seq.wrapping_add(1);
        s
    };
    let mut audio_ts = 0u32;
    for n in 0..FRAMES {
        let mut out = Vec::new();
        // One good frame.
        let jpeg = &jpegs[n as usize % jpegs.len()];
        let h = Header::parse(jpeg).unwrap();
        let frame = hdstream_video::rfc2435::frame(&h).unwrap();
        let ts = (n * 3000) as u32;
        for f in Packetizer::new(&frame, 1400).unwrap() {
            let hdr = rtp_header(26, next(&mut vseq), ts, 0x1111, f.marker);
            out.extend(interleaved(0, hdr, &[f.header(), f.data]));
        }
        // Good sound up to this frame's time, 20 ms packets of a quiet ramp.
        while u64::from(audio_ts) < (n + 1) * 1600 {
            let pcm: Vec<u8> = (0..960 * 2)
                .flat_map(|i| ((i as i16) % 1000).to_be_bytes())
                .collect();
            let hdr = rtp_header(96, next(&mut aseq), audio_ts, 0x2222, false);
            out.extend(interleaved(2, hdr, &[&pcm]));
            audio_ts += 960;
        }
        // Hostile sound.
        let bad: Option<(u8, u32, Vec<u8>)> = match n {
            10 => Some((96, 0x2222, vec![1, 2, 3])),
            12 => Some((96, 0x2222, vec![7])),
            14 => Some((96, 0x2222, Vec::new())),
            16 => Some((97, 0x2222, vec![0; 3840])),
            18 => Some((96, 0x9999, vec![0x7f; 3840])),
            20 => Some((96, 0x2222, vec![0x7f; 30_001])),
            _ => None,
        };
        if let Some((pt, ssrc, payload)) = bad {
            let hdr = rtp_header(pt, next(&mut aseq), audio_ts, ssrc, false);
            out.extend(interleaved(2, hdr, &[&payload]));
        }
        // Captions, good and hostile.
        let text: Option<Vec<u8>> = match n {
            5 => Some("hello\u{2028}".into()),
            15 => Some("\u{1b}[31mred\u{1b}[0m\u{2028}".into()),
            25 => Some(vec![0xff, 0xfe, b'o', b'k', 0xe2, 0x80, 0xa8]),
            35 => Some([vec![b'a'; 10_000], "\u{2028}".into()].concat()),
            45 => Some([vec![0, 0, 0], "bye\u{2028}".into()].concat()),
            _ => None,
        };
        if let Some(text) = text {
            let hdr = rtp_header(98, next(&mut tseq), (n * 1000 / 30) as u32, 0x3333, true);
            out.extend(interleaved(4, hdr, &[&text]));
        }
        if s.write_all(&out).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(33));
    }
    assert!(teardown.join().unwrap(), "the client tore the session down");
}

#[test]
fn hostile_sound_and_captions_leave_the_picture_and_the_good_sound_alone() {
    common::logs();
    let file = common::pattern_file(320, 240, 30);
    let media = hdstream_video::MjpegFile::open(&file).unwrap();
    let jpegs: Vec<Vec<u8>> = (0..media.len())
        .map(|i| media.frame(i).unwrap().to_vec())
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || serve(listener, jpegs));
    let out = common::media_dir().join(format!("hostile-{}.wav", std::process::id()));
    let mut options = Options::new(Target::Url(format!("rtsp://{addr}/hostile")));
    options.headless = true;
    options.transport = LowerTransport::Tcp;
    options.audio_out = Some(out.clone());
    let srt = common::media_dir().join(format!("hostile-{}.srt", std::process::id()));
    options.captions_out = Some(srt.clone());
    options.duration = Some(Duration::from_secs(4));
    let report = play(&options).expect("plays to the end");
    eprintln!("{report}");
    fake.join().unwrap();
    let (rate, samples) = common::sound::read_wav(&out);
    let _ = std::fs::remove_file(&out);
    let json = serde_json::to_value(&report).unwrap();
    eprintln!(
        "audio: received {}, dropped {}, SSRC changes {}; captions received {}, dropped {}",
        json["audio_packets_received"],
        json["audio_packets_dropped"],
        json["audio_ssrc_changes"],
        json["captions_received"],
        json["captions_dropped"],
    );
    // Every frame shown, none undecodable.
    assert_eq!(report.frames_displayed, FRAMES, "{report}");
    assert_eq!(report.frames_undecodable, 0);
    // The good sound played (the ramp), the bad counted and not played.
    assert_eq!(rate, 48_000);
    assert!(
        samples.len() / 2 >= 48_000 * 3 / 2,
        "at least 1.5 s of sound played: {}",
        samples.len() / 2
    );
    let loud = samples.iter().filter(|s| s.unsigned_abs() >= 1000).count();
    assert_eq!(loud, 0, "nothing of the 0x7f7f packets was played");
    assert!(
        json["audio_packets_dropped"].as_u64().unwrap() >= 4,
        "odd, empty, other-type and oversized packets counted: {json}"
    );
    assert_eq!(
        json["audio_ssrc_changes"], 0,
        "a foreign burst is not followed"
    );
    // The captions: the good ones kept, control sequences and bad bytes taken out.
    assert!(json["captions_received"].as_u64().unwrap() >= 4, "{json}");
    assert!(json["captions_dropped"].as_u64().unwrap() >= 1, "{json}");
    let captions = std::fs::read_to_string(&srt).expect("the captions written as SRT");
    let _ = std::fs::remove_file(&srt);
    for text in ["hello", "red", "ok", "bye"] {
        assert!(captions.contains(text), "{text:?} in {captions:?}");
    }
    assert!(
        !captions.contains(['\u{1b}', '\0', '\u{fffe}']),
        "no escape, NUL or byte-order mark: {captions:?}"
    );
}
