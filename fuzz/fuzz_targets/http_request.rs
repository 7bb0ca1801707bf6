//! Arbitrary bytes on the HTTP port: parse request heads one after another, and for every head
//! found check that it took bytes of the input, that writing it out and parsing it again gives
//! the same request, and that its path, query and fields can be asked for; a refused head's
//! status is one of 400, 414, 431, 505.

#![no_main]

use hdstream_common::http::{self, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        match http::parse(rest) {
            Ok(Parsed::Complete { request, consumed }) => {
                assert!(
                    consumed > 0 && consumed <= rest.len(),
                    "consumed {consumed} of {}",
                    rest.len()
                );
                let _ = (
                    request.path(),
                    request.query(),
                    request.query_value("t"),
                    request.header("host"),
                );
                let bytes = request.to_bytes();
                assert_eq!(
                    http::parse(&bytes),
                    Ok(Parsed::Complete {
                        request,
                        consumed: bytes.len()
                    })
                );
                rest = &rest[consumed..];
            }
            Ok(Parsed::Incomplete) => break,
            Err(e) => {
                assert!(matches!(e.status().as_u16(), 400 | 414 | 431 | 505), "{e}");
                let _ = e.to_string();
                break;
            }
        }
    }
});
