//! Whole-message tests: canned real-world exchanges fed to the parser in every possible way,
//! pipelining, malformed input, and a serialize→parse round trip.

use std::borrow::Cow;

use proptest::prelude::*;

use super::header::{
    CSeq, ContentBase, ContentType, Header, NptTime, Public, Range, RtpInfo, Session, Transport,
};
use super::{
    Data, Framing, Limits, LineEnding, Message, Method, ParseError, Parsed, Parser, Request,
    Response, StatusCode, parse, parse_unterminated,
};

// ---------------------------------------------------------------------------------------------
// The feeding helper.

/// Parses what `buf` holds like a driver does after a read: complete messages until the parser
/// wants more.
fn drain(buf: &mut Vec<u8>, out: &mut Vec<Message<'static>>) -> Result<(), ParseError> {
    loop {
        match parse(buf)? {
            Parsed::Complete { message, consumed } => {
                assert!(consumed > 0 && consumed <= buf.len());
                out.push(message.into_owned());
                buf.drain(..consumed);
            }
            Parsed::Incomplete { needed } => {
                if let Some(n) = needed {
                    assert!(n > 0);
                }
                return Ok(());
            }
        }
    }
}

/// Feeds `pieces` one after another, then lets the peer go quiet (one `parse_unterminated`,
/// as the driver does), and returns every message.
fn feed(pieces: &[&[u8]]) -> Result<Vec<Message<'static>>, ParseError> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        drain(&mut buf, &mut out)?;
    }
    if let Some((message, consumed)) = parse_unterminated(&buf)? {
        assert!(consumed > 0);
        out.push(message.into_owned());
        buf.drain(..consumed);
    }
    assert!(
        buf.iter().all(|b| matches!(b, b'\r' | b'\n')),
        "left over: {:?}",
        String::from_utf8_lossy(&buf)
    );
    Ok(out)
}

/// Feeds `bytes` whole, split in two at every byte, and one byte at a time; all must give the
/// same result (messages or the same error). Returns it.
fn feed_every_way(bytes: &[u8]) -> Result<Vec<Message<'static>>, ParseError> {
    let whole = feed(&[bytes]);
    for k in 0..=bytes.len() {
        let (a, b) = bytes.split_at(k);
        assert_eq!(feed(&[a, b]), whole, "split at byte {k}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(feed(&singles), whole, "one byte at a time");
    whole
}

/// The single request in `bytes`, fed every way.
fn request(bytes: &[u8]) -> Request {
    match &feed_every_way(bytes).unwrap()[..] {
        [Message::Request(r)] => r.clone(),
        other => panic!("expected one request, got {other:?}"),
    }
}

/// The single response in `bytes`, fed every way.
fn response(bytes: &[u8]) -> Response {
    match &feed_every_way(bytes).unwrap()[..] {
        [Message::Response(r)] => r.clone(),
        other => panic!("expected one response, got {other:?}"),
    }
}

/// The error `bytes` gives, the same however they are fed.
fn error(bytes: &[u8]) -> ParseError {
    feed_every_way(bytes).unwrap_err()
}

fn typed<H: Header>(headers: &super::Headers) -> H {
    headers
        .typed::<H>()
        .expect("header present")
        .expect("header parses")
}

// ---------------------------------------------------------------------------------------------
// Canned exchanges.

/// A DESCRIBE reply from gst-rtsp-server serving `rtpjpegpay` at 3840x2160.
fn gst_describe_reply() -> Vec<u8> {
    let sdp = include_str!("../../testdata/gst-rtsp-server-2160p.sdp");
    format!(
        "RTSP/1.0 200 OK\r\n\
         CSeq: 2\r\n\
         Content-Type: application/sdp\r\n\
         Content-Base: rtsp://127.0.0.1:8554/test/\r\n\
         Server: GStreamer RTSP server\r\n\
         Date: Mon, 15 Jan 2024 10:00:00 GMT\r\n\
         Content-Length: {}\r\n\
         \r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

#[test]
fn gst_rtsp_server_describe_reply() {
    let r = response(&gst_describe_reply());
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.reason, "OK");
    assert_eq!(typed::<CSeq>(&r.headers), CSeq(2));
    assert!(typed::<ContentType>(&r.headers).is_sdp());
    assert_eq!(
        typed::<ContentBase>(&r.headers).0,
        "rtsp://127.0.0.1:8554/test/"
    );
    assert!(
        !r.headers.contains("content-length"),
        "taken out by the parser"
    );
    let sdp = crate::sdp::SessionDescription::parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    let video = sdp.jpeg_video().unwrap();
    assert_eq!(video.x_dimensions(), Some((3840, 2160)));
    assert_eq!(r.framing, Framing::default());
}

#[test]
fn gst_rtsp_server_options_and_setup_replies() {
    let r = response(
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, \
          PLAY, RECORD, SETUP, SET_PARAMETER, TEARDOWN\r\nServer: GStreamer RTSP server\r\n\
          Date: Mon, 15 Jan 2024 10:00:00 GMT\r\n\r\n",
    );
    let public = typed::<Public>(&r.headers);
    assert_eq!(public.0.len(), 10);
    assert!(public.contains(&Method::Teardown));

    let r = response(
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=21336-21337;\
          server_port=40000-40001;ssrc=3C0A1F2B;mode=\"PLAY\"\r\nServer: GStreamer RTSP server\r\n\
          Session: iI1Oa0ZS6DZ0hPKb;timeout=60\r\nDate: Mon, 15 Jan 2024 10:00:00 GMT\r\n\r\n",
    );
    let t = typed::<Transport>(&r.headers);
    assert_eq!(t.0[0].server_port().map(|p| p.rtp), Some(40000));
    assert_eq!(t.0[0].ssrc(), Some(0x3C0A_1F2B));
    assert_eq!(
        typed::<Session>(&r.headers),
        Session::with_timeout("iI1Oa0ZS6DZ0hPKb", 60)
    );
}

#[test]
fn live555_setup_and_play_replies() {
    let r = response(
        b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nDate: Wed, Jan 03 2024 10:00:00 GMT\r\n\
          Transport: RTP/AVP;unicast;destination=192.168.1.10;source=192.168.1.2;\
          client_port=50000-50001;server_port=6970-6971\r\nSession: 5C9B5A2C;timeout=65\r\n\r\n",
    );
    let t = typed::<Transport>(&r.headers);
    assert_eq!(t.0[0].destination(), Some("192.168.1.10"));
    assert_eq!(typed::<Session>(&r.headers).timeout, Some(65));

    let r = response(
        b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nDate: Wed, Jan 03 2024 10:00:00 GMT\r\n\
          Range: npt=0.000-\r\nSession: 5C9B5A2C\r\n\
          RTP-Info: url=rtsp://192.168.1.2:8554/movie.mjpeg/track1;seq=26831;rtptime=1604323853\r\n\r\n",
    );
    assert_eq!(
        typed::<Range>(&r.headers).start,
        Some(NptTime::Seconds(0.0))
    );
    let info = typed::<RtpInfo>(&r.headers);
    assert_eq!(info.0[0].seq, Some(26831));
    assert_eq!(info.0[0].rtptime, Some(1_604_323_853));
}

#[test]
fn ffmpeg_client_requests() {
    let r = request(
        b"OPTIONS rtsp://127.0.0.1:8554/test RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf60.16.100\r\n\r\n",
    );
    assert_eq!(r.method, Method::Options);
    assert!(!r.is_bare_url() && !r.is_course_dialect());

    let r = request(
        b"SETUP rtsp://127.0.0.1:8554/test/stream=0 RTSP/1.0\r\n\
          Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nCSeq: 3\r\nUser-Agent: Lavf60.16.100\r\n\r\n",
    );
    let t = typed::<Transport>(&r.headers);
    assert_eq!(
        t.0[0].interleaved().map(|c| (c.rtp, c.rtcp)),
        Some((0, Some(1)))
    );

    let r = request(
        b"PLAY rtsp://127.0.0.1:8554/test/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 4\r\n\
          User-Agent: Lavf60.16.100\r\nSession: iI1Oa0ZS6DZ0hPKb\r\n\r\n",
    );
    assert_eq!(r.method, Method::Play);
    assert_eq!(typed::<Range>(&r.headers).start_seconds(), Some(0.0));
}

#[test]
fn a_request_with_a_body() {
    let r = request(
        b"SET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 10\r\nContent-Type: text/parameters\r\n\
          Content-Length: 19\r\n\r\nbarparam: barstuff\n",
    );
    assert_eq!(r.body, b"barparam: barstuff\n");
}

#[test]
fn course_client_requests() {
    let r = request(b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000");
    assert_eq!(r.method, Method::Setup);
    assert_eq!(r.uri, "movie.Mjpeg");
    assert!(r.is_bare_url() && r.is_course_dialect());
    assert_eq!(
        r.framing,
        Framing {
            line_ending: LineEnding::Lf,
            terminated: false
        }
    );
    assert_eq!(typed::<CSeq>(&r.headers), CSeq(1));
    let t = typed::<Transport>(&r.headers);
    assert!(t.0[0].is_course());
    assert_eq!(t.0[0].client_port().map(|p| p.rtp), Some(25000));

    for (bytes, method) in [
        (
            &b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456"[..],
            Method::Play,
        ),
        (
            b"PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: 123456",
            Method::Pause,
        ),
        (
            b"TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 4\nSession: 123456",
            Method::Teardown,
        ),
    ] {
        let r = request(bytes);
        assert_eq!(r.method, method);
        assert!(r.is_course_dialect());
        assert_eq!(typed::<Session>(&r.headers), Session::new("123456"));
    }
}

#[test]
fn course_server_replies() {
    let r = response(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456");
    assert!(r.is_course_dialect());
    assert_eq!(typed::<CSeq>(&r.headers), CSeq(1));
    assert_eq!(typed::<Session>(&r.headers), Session::new("123456"));
    assert_eq!(
        r.framing,
        Framing {
            line_ending: LineEnding::Lf,
            terminated: false
        }
    );
}

#[test]
fn lf_and_mixed_line_endings_and_folded_headers() {
    let r = request(b"OPTIONS * RTSP/1.0\nCSeq: 1\n\n");
    assert_eq!(r.framing.line_ending, LineEnding::Lf);
    assert!(r.framing.terminated);
    assert!(!r.is_bare_url());

    let r = request(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\nX-Long: a\r\n  b\r\n\tc\n\r\n");
    assert_eq!(r.framing.line_ending, LineEnding::Mixed);
    assert_eq!(r.headers.get("x-long"), Some("a b c"));
}

#[test]
fn unknown_methods_come_back_as_extensions_for_a_501() {
    let r = request(b"FLUSH rtsp://h/x RTSP/1.0\r\nCSeq: 7\r\n\r\n");
    assert_eq!(r.method, Method::Extension("FLUSH".into()));
    let reply = Response::reply_to(&r, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        reply.to_bytes(),
        b"RTSP/1.0 501 Not Implemented\r\nCSeq: 7\r\n\r\n"
    );
}

#[test]
fn status_lines_with_odd_reasons() {
    assert_eq!(response(b"RTSP/1.0 200\r\n\r\n").reason, "");
    let r = response(b"RTSP/1.0   454 Session Not Found \r\n\r\n");
    assert_eq!(r.status, StatusCode::SESSION_NOT_FOUND);
    assert_eq!(r.reason, "Session Not Found ");
    assert_eq!(response(b"RTSP/1.0 299 Fine\r\n\r\n").status.as_u16(), 299);
}

// ---------------------------------------------------------------------------------------------
// Several messages on one stream.

#[test]
fn pipelined_requests_parse_one_after_another() {
    let bytes = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n\
                  DESCRIBE rtsp://h/a RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n\
                  \r\n\
                  GET_PARAMETER rtsp://h/a RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 2\r\n\r\nhi\
                  TEARDOWN rtsp://h/a RTSP/1.0\r\nCSeq: 4\r\n\r\n";
    let messages = feed_every_way(bytes).unwrap();
    let seqs: Vec<(Method, u32)> = messages
        .iter()
        .map(|m| match m {
            Message::Request(r) => (r.method.clone(), r.cseq().unwrap().unwrap().0),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        seqs,
        [
            (Method::Options, 1),
            (Method::Describe, 2),
            (Method::GetParameter, 3),
            (Method::Teardown, 4)
        ]
    );
}

#[test]
fn requests_interleaved_data_and_responses_share_the_stream() {
    let mut bytes = b"PLAY rtsp://h/a RTSP/1.0\r\nCSeq: 5\r\nSession: 1\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[b'$', 0, 0, 5, 0x80, 0x1a, 0, 1, 2]);
    bytes.extend_from_slice(&[b'$', 1, 0, 0]);
    bytes.extend_from_slice(b"RTSP/1.0 200 OK\r\nCSeq: 6\r\n\r\n");
    bytes.extend_from_slice(&[b'$', 0, 0, 1, b'$']);
    let messages = feed_every_way(&bytes).unwrap();
    assert_eq!(messages.len(), 5);
    assert!(matches!(&messages[0], Message::Request(r) if r.method == Method::Play));
    let data = |channel, payload: &'static [u8]| {
        Message::Data(Data {
            channel,
            payload: Cow::Borrowed(payload),
        })
    };
    assert_eq!(messages[1], data(0, &[0x80, 0x1a, 0, 1, 2]));
    assert_eq!(messages[2], data(1, &[]));
    assert!(matches!(&messages[3], Message::Response(r) if r.status == StatusCode::OK));
    assert_eq!(messages[4], data(0, b"$"));
}

#[test]
fn interleaved_data_borrows_the_buffer_and_reports_what_it_needs() {
    let buf = [b'$', 2, 0, 3, 7, 8, 9, b'R'];
    let Ok(Parsed::Complete {
        message: Message::Data(d),
        consumed,
    }) = parse(&buf)
    else {
        panic!()
    };
    assert_eq!(consumed, 7);
    assert!(matches!(d.payload, Cow::Borrowed(p) if std::ptr::eq(p, &buf[4..7])));
    assert_eq!(parse(&buf[..5]), Ok(Parsed::Incomplete { needed: Some(2) }));
    assert_eq!(parse(&buf[..2]), Ok(Parsed::Incomplete { needed: Some(2) }));
    let head = b"RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    assert_eq!(parse(head), Ok(Parsed::Incomplete { needed: Some(7) }));
    assert_eq!(
        parse_unterminated(head),
        Ok(None),
        "a terminated head waits for its body"
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed input: each its own error, offset and status code.

#[test]
fn over_long_lines_are_rejected_before_they_end() {
    let mut long = b"OPTIONS rtsp://h/".to_vec();
    long.resize(5000, b'a');
    assert_eq!(
        parse(&long),
        Err(ParseError::StartLineLength {
            offset: 4096,
            limit: 4096
        })
    );
    let mut header = b"OPTIONS * RTSP/1.0\r\nX: ".to_vec();
    header.resize(20 + 4097, b'b');
    assert_eq!(
        parse(&header),
        Err(ParseError::HeaderLineLength {
            offset: 20 + 4096,
            limit: 4096
        })
    );
    let blank_lines = vec![b'\n'; 5000];
    assert!(matches!(
        parse(&blank_lines),
        Err(ParseError::StartLineLength { .. })
    ));
    let mut block = b"OPTIONS * RTSP/1.0\r\n".to_vec();
    for _ in 0..5 {
        block.extend_from_slice(b"X: ");
        block.extend(std::iter::repeat_n(b'c', 4000));
        block.extend_from_slice(b"\r\n");
    }
    assert!(matches!(
        parse(&block),
        Err(ParseError::HeaderBlockLength { limit: 16384, .. })
    ));
    for e in [parse(&long), parse(&header), parse(&block)] {
        assert_eq!(e.unwrap_err().status_code(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn too_many_headers() {
    let mut bytes = b"OPTIONS * RTSP/1.0\r\n".to_vec();
    for i in 0..64 {
        bytes.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    let limit_line = bytes.len();
    bytes.extend_from_slice(b"X-64: 64\r\n\r\n");
    assert_eq!(
        error(&bytes),
        ParseError::HeaderCount {
            offset: limit_line,
            limit: 64
        }
    );
    let parser = Parser::new(Limits {
        headers: 65,
        ..Limits::default()
    });
    assert!(matches!(parser.parse(&bytes), Ok(Parsed::Complete { .. })));
}

#[test]
fn header_syntax_errors() {
    let e = error(b"OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n");
    assert_eq!(e, ParseError::MissingColon { offset: 20 });
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);

    let e = error(b"OPTIONS * RTSP/1.0\r\nC Seq: 1\r\n\r\n");
    assert_eq!(
        e,
        ParseError::Syntax {
            offset: 21,
            rule: "message-header > field-name"
        }
    );
    assert_eq!(
        e.to_string(),
        "invalid at byte 21 in message-header > field-name"
    );
    let e = error(b"OPTIONS * RTSP/1.0\r\n continued: 1\r\n\r\n");
    assert!(matches!(e, ParseError::Syntax { offset: 20, .. }));
    let e = error(b"OPTIONS * RTSP/1.0\r\nX: a\x07b\r\n\r\n");
    assert_eq!(
        e,
        ParseError::Syntax {
            offset: 24,
            rule: "message-header"
        }
    );
    let e = error(b"OPTIONS * RTSP/1.0\r\nX: a\rb\r\n\r\n");
    assert!(matches!(e, ParseError::Syntax { offset: 24, .. }));
}

#[test]
fn nul_and_non_utf8_bytes() {
    let e = error(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\x00\r\n\r\n");
    assert_eq!(e, ParseError::Nul { offset: 27 });
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    let e = error(b"OPTIONS * RTSP/1.0\r\nX: \xff\xfe\r\n\r\n");
    assert_eq!(e, ParseError::Utf8 { offset: 23 });
    let e = error(b"OPTIONS rtsp://h/\xc3 RTSP/1.0\r\n\r\n");
    assert_eq!(e, ParseError::Utf8 { offset: 17 });
    assert_eq!(error(b"\x00"), ParseError::Nul { offset: 0 });
    // Binary garbage that does not start with '$'.
    assert!(parse(&[0x80, 0x60, 0x00, 0x01]).is_err());
}

#[test]
fn content_length_errors() {
    let e = error(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: -5\r\n\r\n");
    assert_eq!(e, ParseError::ContentLength { offset: 26 });
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    let e = error(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: ten\r\n\r\n");
    assert!(matches!(e, ParseError::ContentLength { .. }));
    let e = error(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nab");
    assert_eq!(
        e,
        ParseError::ContentLength { offset: 45 },
        "the second, conflicting line"
    );

    let e = error(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    assert!(matches!(
        e,
        ParseError::BodyLength {
            length: u64::MAX,
            ..
        }
    ));
    assert_eq!(e.status_code(), StatusCode::REQUEST_ENTITY_TOO_LARGE);
    let e = error(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 65537\r\n\r\n");
    assert_eq!(
        e,
        ParseError::BodyLength {
            offset: 26,
            length: 65537,
            limit: 65536
        }
    );
    // Duplicates that agree are fine.
    let r = request(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(r.body, b"x");
}

#[test]
fn version_errors() {
    let e = error(b"OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n");
    assert_eq!(
        e,
        ParseError::Version {
            offset: 10,
            found: "RTSP/2.0".into()
        }
    );
    assert_eq!(e.status_code(), StatusCode::RTSP_VERSION_NOT_SUPPORTED);
    let e = error(b"RTSP/1.1 200 OK\r\n\r\n");
    assert_eq!(e.status_code(), StatusCode::RTSP_VERSION_NOT_SUPPORTED);

    let e = error(b"OPTIONS * HTTP/1.1\r\n\r\n");
    assert_eq!(
        e.to_string(),
        "invalid at byte 10 in request-line > RTSP-Version"
    );
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    let e = error(b"OPTIONS *\r\n\r\n");
    assert!(matches!(
        e,
        ParseError::Syntax {
            rule: "request-line > RTSP-Version",
            ..
        }
    ));
    let e = error(b"OPTIONS * RTSP/1.0 extra\r\n\r\n");
    assert_eq!(
        e,
        ParseError::Syntax {
            offset: 19,
            rule: "request-line"
        }
    );
    let e = error(b"SET(UP * RTSP/1.0\r\n\r\n");
    assert_eq!(
        e,
        ParseError::Syntax {
            offset: 0,
            rule: "request-line > Method"
        }
    );
    for bad in [
        &b"RTSP/1.0 2x0 OK\r\n\r\n"[..],
        b"RTSP/1.0 20 OK\r\n\r\n",
        b"RTSP/1.0 2000\r\n\r\n",
        b"RTSP/1.0\r\n\r\n",
        b"RTSP/1.0 099 x\r\n\r\n",
    ] {
        assert!(
            matches!(
                error(bad),
                ParseError::Syntax {
                    rule: "status-line > Status-Code",
                    ..
                }
            ),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn an_unterminated_head_cannot_announce_a_body() {
    let bytes = b"SET_PARAMETER x RTSP/1.0\nContent-Length: 3";
    assert_eq!(
        parse_unterminated(bytes),
        Err(ParseError::Truncated {
            offset: bytes.len()
        })
    );
    assert_eq!(parse_unterminated(b""), Ok(None));
    assert_eq!(parse_unterminated(b"\r\n\n"), Ok(None));
    assert_eq!(parse_unterminated(b"$\x00\x00"), Ok(None));
}

// ---------------------------------------------------------------------------------------------
// Round trip.

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        proptest::sample::select(Method::STANDARD.to_vec()),
        "[A-Z][A-Z_]{0,12}".prop_map(|m| Method::from_token(&m).unwrap()),
    ]
}

fn headers() -> impl Strategy<Value = super::Headers> {
    let name = "[A-Za-z][A-Za-z0-9-]{0,15}".prop_filter("no Content-Length", |n| {
        !n.eq_ignore_ascii_case("content-length")
    });
    let value = "[ -~äé€]{0,30}".prop_map(|v| v.trim_matches(' ').to_owned());
    proptest::collection::vec((name, value), 0..8).prop_map(|v| v.into_iter().collect())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80)
}

fn message() -> impl Strategy<Value = Message<'static>> {
    let uri =
        "\\*|rtsp://[a-z0-9.]{1,10}(:[0-9]{1,5})?(/[A-Za-z0-9._=-]{0,8}){0,3}|[A-Za-z0-9._-]{1,12}";
    prop_oneof![
        (method(), uri, headers(), body()).prop_map(|(method, uri, headers, body)| {
            Message::Request(Request {
                method,
                uri,
                headers,
                body,
                framing: Framing::default(),
            })
        }),
        (100u16..=999, "[ -~]{0,20}", headers(), body()).prop_map(
            |(code, reason, headers, body)| {
                Message::Response(Response {
                    status: StatusCode::new(code).unwrap(),
                    reason,
                    headers,
                    body,
                    framing: Framing::default(),
                })
            }
        ),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..300)).prop_map(
            |(channel, payload)| Message::Data(Data {
                channel,
                payload: Cow::Owned(payload)
            })
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn serialized_messages_parse_back_equal(
        messages in proptest::collection::vec(message(), 1..5),
        split in any::<prop::sample::Index>(),
    ) {
        let mut bytes = Vec::new();
        for m in &messages {
            m.write_to(&mut bytes).unwrap();
        }
        prop_assert_eq!(feed(&[&bytes]).unwrap(), messages.clone());
        let (a, b) = bytes.split_at(split.index(bytes.len() + 1));
        prop_assert_eq!(feed(&[a, b]).unwrap(), messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_consume_within_bounds(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        for result in [parse(&bytes).map(|p| match p {
            Parsed::Complete { consumed, .. } => Some(consumed),
            Parsed::Incomplete { .. } => None,
        }), parse_unterminated(&bytes).map(|o| o.map(|(_, n)| n))] {
            if let Ok(Some(consumed)) = result {
                prop_assert!(consumed > 0 && consumed <= bytes.len());
            }
        }
    }
}

/// Fuzz regression (rtsp_parser, crash-3445c980): a request line with leading white space and a
/// method starting with `$` parsed as a request whose serialization then read back as
/// interleaved data. Such a method is now a syntax error.
#[test]
fn a_method_cannot_start_with_a_dollar() {
    let input =
        b" $SETUP movie.Mjpeg RTSP/1.0\nCransport: R$P/UDP; Sep;et: RTP/DP;ilce nTP/U-P; clien";
    for result in [
        super::parse(input).map(|_| ()),
        super::parse_unterminated(input).map(|_| ()),
    ] {
        let err = result.expect_err("method starting with $");
        assert_eq!(err.status_code(), super::StatusCode::BAD_REQUEST);
    }
}
