//! Arbitrary bytes as caption files (read as UTF-8, invalid bytes replaced, as a player would):
//! neither parser may panic; what the SRT parser reads must write back to SRT that reads the
//! same; the cues of a WebVTT file must survive being written as SRT, times and count.

#![no_main]

use hdstream_common::text::{srt, webvtt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match srt::parse(&text) {
        Ok(captions) => {
            assert!(captions.cues.is_sorted_by_key(|c| c.start));
            assert!(captions.cues.iter().all(|c| c.start <= c.end));
            let _ = captions.skipped.iter().map(|s| s.to_string()).count();
            let written = srt::write(&captions.cues);
            let again = srt::parse(&written)
                .unwrap_or_else(|e| panic!("own output {written:?} does not parse: {e}"));
            assert!(again.skipped.is_empty(), "{:?}", again.skipped);
            assert_eq!(again.cues, captions.cues);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match webvtt::parse(&text) {
        Ok(captions) => {
            assert!(captions.cues.is_sorted_by_key(|c| c.start));
            assert!(captions.cues.iter().all(|c| c.start <= c.end));
            let written = srt::write(&captions.cues);
            let again = srt::parse(&written)
                .unwrap_or_else(|e| panic!("SRT of WebVTT {written:?} does not parse: {e}"));
            assert!(again.skipped.is_empty(), "{:?}", again.skipped);
            let times = |cues: &[hdstream_common::text::Cue]| {
                cues.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>()
            };
            assert_eq!(times(&again.cues), times(&captions.cues));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
