//! Arbitrary bytes on an RTSP connection: parse messages one after another (falling back to
//! the course dialect's unterminated form when the parser wants more), and for every message
//! found check that serializing and parsing it again gives the same message, and that every
//! header value survives every typed parser (display → parse must give the value back).

#![no_main]

use std::fmt::Debug;

use hdstream_common::rtsp::header::{
    CSeq, ContentBase, ContentLength, ContentType, Header, Public, Range, RtpInfo, Scale, Session,
    Speed, Transport,
};
use hdstream_common::rtsp::{self, Framing, Headers, Message, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        let (message, consumed) = match rtsp::parse(rest) {
            Ok(Parsed::Complete { message, consumed }) => (message, consumed),
            Ok(Parsed::Incomplete { .. }) => match rtsp::parse_unterminated(rest) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(e) => {
                    describe(&e);
                    break;
                }
            },
            Err(e) => {
                describe(&e);
                break;
            }
        };
        assert!(
            consumed > 0 && consumed <= rest.len(),
            "consumed {consumed} of {}",
            rest.len()
        );
        check(message);
        rest = &rest[consumed..];
    }
});

fn describe(e: &rtsp::ParseError) {
    assert!(e.offset() <= 1 << 20);
    let _ = (e.to_string(), e.status_code());
}

/// The message as the serializer sees it: framing is how it arrived, not what it is.
fn normalized(message: Message<'_>) -> Message<'static> {
    match message.into_owned() {
        Message::Request(mut r) => {
            r.framing = Framing::default();
            Message::Request(r)
        }
        Message::Response(mut r) => {
            r.framing = Framing::default();
            Message::Response(r)
        }
        data => data,
    }
}

fn check(message: Message<'_>) {
    match &message {
        Message::Request(r) => {
            let _ = (r.is_bare_url(), r.is_course_dialect());
            typed_headers(&r.headers);
        }
        Message::Response(r) => {
            let _ = r.is_course_dialect();
            typed_headers(&r.headers);
        }
        Message::Data(_) => {}
    }
    let message = normalized(message);
    let mut bytes = Vec::new();
    message
        .write_to(&mut bytes)
        .expect("parsed data fits its length field");
    match rtsp::parse(&bytes) {
        Ok(Parsed::Complete {
            message: again,
            consumed,
        }) => {
            assert_eq!(consumed, bytes.len());
            assert_eq!(normalized(again), message);
        }
        other => panic!("serialized {message:?} as {bytes:?}, which parses as {other:?}"),
    }
}

/// Every header value through every typed parser, by name and regardless of name.
fn typed_headers(headers: &Headers) {
    round_trip_named::<CSeq>(headers);
    round_trip_named::<Session>(headers);
    round_trip_named::<Transport>(headers);
    round_trip_named::<Range>(headers);
    round_trip_named::<RtpInfo>(headers);
    round_trip_named::<Public>(headers);
    round_trip_named::<ContentBase>(headers);
    round_trip_named::<ContentType>(headers);
    round_trip_named::<ContentLength>(headers);
    round_trip_named::<Speed>(headers);
    round_trip_named::<Scale>(headers);
    for (_, value) in headers.iter() {
        round_trip::<CSeq>(value);
        round_trip::<Session>(value);
        round_trip::<Transport>(value);
        round_trip::<Range>(value);
        round_trip::<RtpInfo>(value);
        round_trip::<Public>(value);
        round_trip::<ContentBase>(value);
        round_trip::<ContentType>(value);
        round_trip::<ContentLength>(value);
        round_trip::<Speed>(value);
        round_trip::<Scale>(value);
    }
}

fn round_trip_named<H: Header + PartialEq + Debug>(headers: &Headers) {
    match headers.typed::<H>() {
        Some(Ok(h)) => assert_eq!(H::parse(&h.to_string()).as_ref(), Ok(&h)),
        Some(Err(e)) => {
            let _ = (e.to_string(), e.status_code());
        }
        None => {}
    }
}

fn round_trip<H: Header + PartialEq + Debug>(value: &str) {
    match H::parse(value) {
        Ok(h) => {
            let text = h.to_string();
            assert_eq!(
                H::parse(&text).as_ref(),
                Ok(&h),
                "{} {value:?} displayed as {text:?}",
                H::NAME
            );
        }
        Err(e) => {
            let _ = (e.to_string(), e.status_code(), e.header());
        }
    }
}
