//! The polled core's send path on the core alone: what [`Server::poll_transmit`] writes, how it
//! holds packets when the driver's buffer is full, and that a full socket stops nothing else.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdstream_common::rtp;

use crate::core::{Config, Room, Server, Socket, Transmit};
use crate::testing::{Core, session_id};

const TRACK: &str = "rtsp://127.0.0.1:8554/clip.mjpeg/trackID=0";

fn room(rtp_bytes: usize) -> Room {
    Room {
        rtp_bytes,
        rtcp_bytes: rtp_bytes,
        segments: 64,
        message_bytes: 63 * 1024,
    }
}

/// `sessions` UDP sessions playing `clip.mjpeg`, to client RTP ports 5000, 5002, …
fn playing(core: &mut Core, sessions: u16) {
    for k in 0..sessions {
        let conn = core.connect(40_000 + k);
        let port = 5000 + 2 * k;
        let r = core.request(
            conn,
            &format!("SETUP {TRACK}"),
            &[&format!(
                "Transport: RTP/AVP;unicast;client_port={port}-{}",
                port + 1
            )],
        );
        let id = session_id(&r);
        let r = core.request(conn, &format!("PLAY {TRACK}"), &[&format!("Session: {id}")]);
        assert_eq!(r.status.as_u16(), 200);
    }
}

/// Polls at `now` until `None`, with a driver buffer of `capacity` bytes that is sent (emptied)
/// only when the core wants room; answers each message with its bytes, and how many times the
/// core stopped for room.
fn poll_all(
    server: &mut Server,
    now: Instant,
    capacity: usize,
) -> (Vec<(Transmit, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut held = 0;
    loop {
        match server.poll_transmit(now, room(capacity - buf.len()), &mut buf) {
            Some(t) => {
                assert!(buf.len() <= capacity, "within the room");
                let bytes = buf[buf.len() - t.size..].to_vec();
                out.push((t, bytes));
            }
            None if server.wants_room() => {
                held += 1;
                assert!(!buf.is_empty(), "an empty buffer has room for a packet");
                buf.clear();
            }
            None => return (out, held),
        }
    }
}

/// RTP packets per destination port, in the order sent.
fn by_destination(messages: &[(Transmit, Vec<u8>)]) -> BTreeMap<u16, Vec<Vec<u8>>> {
    let mut map: BTreeMap<u16, Vec<Vec<u8>>> = BTreeMap::new();
    for (t, bytes) in messages {
        if t.socket == Socket::Rtp {
            let packets = map.entry(t.destination.port()).or_default();
            packets.extend(t.datagrams(bytes).map(<[u8]>::to_vec));
        }
    }
    map
}

#[test]
fn each_message_is_one_session_s_run_all_one_size_but_the_last() {
    let mut core = Core::new(Config {
        mtu: 500,
        ..Config::default()
    });
    playing(&mut core, 3);
    let mut messages = Vec::new();
    for _ in 0..300 {
        messages.extend(poll_all(&mut core.server, core.now, 512 * 1024).0);
        core.advance(Duration::from_millis(1));
    }
    let runs = messages
        .iter()
        .filter(|(t, _)| t.socket == Socket::Rtp && t.count() > 1)
        .count();
    assert!(runs > 10, "packets leave in runs ({runs})");
    for (t, bytes) in &messages {
        let datagrams: Vec<&[u8]> = t.datagrams(bytes).collect();
        assert_eq!(datagrams.len(), t.count());
        if let Some(segment) = t.segment_size {
            let (last, rest) = datagrams.split_last().unwrap();
            assert!(rest.iter().all(|d| d.len() == segment), "{t:?}");
            assert!(last.len() <= segment && !last.is_empty());
            assert!(t.count() <= 64);
        }
        if t.socket == Socket::Rtp {
            let ssrcs: std::collections::BTreeSet<u32> = datagrams
                .iter()
                .map(|d| rtp::Packet::parse(d).unwrap().ssrc())
                .collect();
            assert_eq!(ssrcs.len(), 1, "one session per message");
        }
    }
    let streams = by_destination(&messages);
    assert_eq!(streams.len(), 3);
    for packets in streams.values() {
        let seqs: Vec<u16> = packets
            .iter()
            .map(|p| rtp::Packet::parse(p).unwrap().sequence_number())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "in order, no gap"
        );
    }
}

#[test]
fn a_full_buffer_holds_packets_and_the_next_call_goes_on_where_it_stopped() {
    let run = |room_bytes: usize| {
        let mut core = Core::default_config();
        playing(&mut core, 2);
        let mut messages = Vec::new();
        let mut held = 0;
        for _ in 0..400 {
            let (got, stops) = poll_all(&mut core.server, core.now, room_bytes);
            messages.extend(got);
            held += stops;
            core.advance(Duration::from_millis(1));
        }
        (by_destination(&messages), held)
    };
    let (free, held_free) = run(512 * 1024);
    // Room for about two packets at a time.
    let (tight, held_tight) = run(3000);
    assert_eq!(held_free, 0);
    assert!(held_tight > 0, "the small buffer did fill");
    assert_eq!(
        tight, free,
        "the same packets, in the same order, to the same places"
    );
}

#[test]
fn sessions_time_out_while_the_socket_stays_full() {
    let mut core = Core::new(Config {
        session_timeout: Duration::from_secs(5),
        ..Config::default()
    });
    playing(&mut core, 2);
    assert_eq!(core.server.session_count(), 2);
    for _ in 0..70 {
        let mut buf = Vec::new();
        // Nothing fits: a socket that never drains.
        assert!(
            core.server
                .poll_transmit(core.now, room(0), &mut buf)
                .is_none()
        );
        assert!(buf.is_empty());
        core.advance(Duration::from_millis(100));
    }
    assert_eq!(core.server.session_count(), 0, "both timed out");
}

/// The first session's client (RTCP from port 5001) sends RR + generic NACK for `lost` of
/// `media_ssrc`'s packets (RFC 4585 §6.2.1).
fn nack_from_client(core: &mut Core, media_ssrc: u32, lost: &[u16]) {
    let entries = hdstream_common::rtcp::nack_entries(lost.iter().copied());
    let mut buf = vec![0u8; 64 + 4 * entries.len()];
    let mut w = hdstream_common::rtcp::Writer::new(&mut buf);
    w.receiver_report(0x1234, &[]).unwrap();
    w.nack(0x1234, media_ssrc, &entries).unwrap();
    let len = w.finish();
    let client_rtcp = std::net::SocketAddr::from(([127, 0, 0, 1], 5001));
    core.server.receive_rtcp(client_rtcp, &buf[..len], core.now);
}

#[test]
fn a_nack_from_the_client_brings_rtx_packets_on_the_rtp_socket() {
    let mut core = Core::default_config();
    playing(&mut core, 1);
    let sent = core.run_for(Duration::from_millis(300));
    let rtp: Vec<rtp::Packet<'_>> = sent
        .iter()
        .filter(|(s, _, _)| *s == Socket::Rtp)
        .map(|(_, _, b)| rtp::Packet::parse(b).unwrap())
        .collect();
    let lost = [rtp[5].sequence_number(), rtp[6].sequence_number()];
    nack_from_client(&mut core, rtp[0].ssrc(), &lost);
    let again = core.run_for(Duration::from_millis(5));
    let rtx: Vec<(u16, Vec<u8>)> = again
        .iter()
        .filter(|(s, to, _)| *s == Socket::Rtp && to.port() == 5000)
        .map(|(_, _, b)| rtp::Packet::parse(b).unwrap())
        .filter(|p| p.payload_type() == 97)
        .map(|p| {
            let (osn, payload) = rtp::rtx::unwrap(p.payload()).unwrap();
            (osn, payload.to_vec())
        })
        .collect();
    assert_eq!(
        rtx,
        [
            (lost[0], rtp[5].payload().to_vec()),
            (lost[1], rtp[6].payload().to_vec())
        ]
    );
    // A NACK about another source is not for this session.
    nack_from_client(&mut core, rtp[0].ssrc() ^ 1, &lost[..1]);
    let none = core.run_for(Duration::from_millis(5));
    assert!(
        none.iter()
            .filter(|(s, _, _)| *s == Socket::Rtp)
            .all(|(_, _, b)| rtp::Packet::parse(b).unwrap().payload_type() != 97)
    );
}

#[test]
fn the_offer_names_retransmission_and_nack_and_none_without_it() {
    let describe = |config: Config| {
        let mut core = Core::new(config);
        let conn = core.connect(40_000);
        let r = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/clip.mjpeg", &[]);
        String::from_utf8(r.body).unwrap()
    };
    let sdp = describe(Config::default());
    assert!(sdp.contains("m=video 0 RTP/AVPF 26 97\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtcp-fb:26 nack\r\n"), "{sdp}");
    assert!(sdp.contains("a=fmtp:97 apt=26;rtx-time=1000\r\n"), "{sdp}");
    let off = describe(Config {
        rtx_time: Duration::ZERO,
        ..Config::default()
    });
    assert!(
        off.contains("m=video 0 RTP/AVP 26\r\n") && !off.contains("rtx"),
        "{off}"
    );
}

/// A client that NACKs every packet it was sent, every millisecond: its session sends less
/// than twice what it sends anyway, and the other session's packets are exactly those it gets
/// without the flood.
#[test]
fn a_nack_flood_costs_its_own_session_under_twice_its_rate_and_others_nothing() {
    let run = |flood: bool| {
        let mut core = Core::default_config();
        playing(&mut core, 2);
        let mut sent: Vec<(u16, Vec<u8>)> = Vec::new();
        let mut ssrc = None;
        let mut seqs: Vec<u16> = Vec::new();
        for _ in 0..3000 {
            if flood && let Some(ssrc) = ssrc {
                let recent: Vec<u16> = seqs.iter().rev().take(500).copied().collect();
                nack_from_client(&mut core, ssrc, &recent);
            }
            for (socket, to, bytes) in core.run_for(Duration::from_millis(1)) {
                if socket != Socket::Rtp {
                    continue;
                }
                let p = rtp::Packet::parse(&bytes).unwrap();
                if to.port() == 5000 && p.payload_type() == 26 {
                    ssrc = Some(p.ssrc());
                    seqs.push(p.sequence_number());
                }
                sent.push((to.port(), bytes));
            }
        }
        sent
    };
    let bytes_to = |sent: &[(u16, Vec<u8>)], port: u16| -> usize {
        sent.iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, b)| b.len())
            .sum()
    };
    let calm = run(false);
    let flooded = run(true);
    let (own, with_flood) = (bytes_to(&calm, 5000), bytes_to(&flooded, 5000));
    eprintln!("NACK flood: {with_flood} bytes sent to the flooder against {own} without");
    assert!(
        with_flood > own * 3 / 2,
        "the flood was answered: {with_flood} vs {own}"
    );
    assert!(with_flood < own * 2, "{with_flood} bytes against {own}");
    let other = |sent: &[(u16, Vec<u8>)]| -> Vec<Vec<u8>> {
        sent.iter()
            .filter(|(p, _)| *p == 5002)
            .map(|(_, b)| b.clone())
            .collect()
    };
    assert_eq!(
        other(&flooded),
        other(&calm),
        "the other session is untouched"
    );
}
