//! Arbitrary bytes as a tunnel's POST body (RTSP tunnelled in HTTP), fed to the streaming
//! base64 decoder in pieces cut where the first byte says: it never panics, never gives more
//! bytes than it was fed, and decodes the same bytes however the body is cut (up to the first
//! error, after which it refuses everything). The head's cookie check is fed the rest as text,
//! and the client's reader of the GET's answer the rest as an answer: what it says is open
//! lies within the input.

#![no_main]

use hdstream_common::http::tunnel::{Answer, Base64, check_cookie};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let mut whole = Vec::new();
    let whole_ok = Base64::new().decode(body, &mut whole).is_ok();
    assert!(whole.len() <= body.len());

    let step = usize::from(cut).max(1);
    let mut decoder = Base64::new();
    let mut pieces = Vec::new();
    let mut ok = true;
    for piece in body.chunks(step) {
        if decoder.decode(piece, &mut pieces).is_err() {
            ok = false;
            break;
        }
    }
    assert_eq!(ok, whole_ok);
    assert_eq!(pieces, whole);

    if let Answer::Open { consumed } = Answer::parse(body) {
        assert!(consumed > 0 && consumed <= body.len());
    }

    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(cookie) = check_cookie(text)
    {
        assert!(!cookie.is_empty() && cookie.len() <= 128);
    }
});
