//! Fuzzes the authentication header parsers (`WWW-Authenticate`, `Authorization`, RFC 7616 and
//! RFC 7617) and the nonce check with arbitrary text. Whatever parses writes back to text that
//! parses to the same value; nothing panics.

#![no_main]

use hdstream_common::rtsp::auth::{Challenge, Credentials, Nonces};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(text) {
        let again = Challenge::parse(&challenge.to_string()).expect("a written challenge parses");
        // An unknown algorithm is written as the default; compare what survives.
        if let (Challenge::Digest(a), Challenge::Digest(b)) = (&challenge, &again)
            && a.algorithm.is_some()
        {
            assert_eq!(a, b, "challenge round trip");
        }
    }
    if let Ok(credentials) = Credentials::parse(text) {
        let again = Credentials::parse(&credentials.to_string()).expect("written credentials parse");
        if let (Credentials::Digest(a), Credentials::Digest(b)) = (&credentials, &again)
            && a.algorithm.is_some()
        {
            assert_eq!(a, b, "credentials round trip");
        }
    }
    let _ = Nonces::new([1; 32]).check(text, "hdstream", 1000, 300);
});
