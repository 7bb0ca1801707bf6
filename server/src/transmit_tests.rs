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
