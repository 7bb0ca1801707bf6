//! Index arbitrary bytes as an MJPEG file; for every indexed frame, parse its headers again,
//! check RFC 2435 suitability and (when ready) build the packetizer's view. Nothing may panic,
//! and what the index says must agree with what re-parsing the frame says.
#![no_main]

use hdstream_video::Index;
use hdstream_video::index::Container;
use hdstream_video::jpeg::Header;
use hdstream_video::rfc2435;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(index) = Index::build(data) else {
        return;
    };
    assert!(!index.is_empty());
    let _ = index.stats();
    for (i, info) in index.frames().iter().enumerate() {
        let bytes = index
            .frame(data, i)
            .expect("an indexed frame lies inside the data");
        let header = match index.container() {
            Container::Plain => Header::parse(bytes),
            Container::Course => Header::parse_record(bytes),
        }
        .expect("an indexed frame parses again");
        assert_eq!(header.len(), info.len);
        assert_eq!(rfc2435::check(&header), info.ready.as_ref().map(|_| ()).map_err(|e| *e));
        if let Ok(frame) = rfc2435::frame(&header) {
            // The layout stored at indexing gives back the same frame without parsing.
            let stored = info.ready.as_ref().ok().and_then(|l| l.frame(bytes));
            assert_eq!(stored, Some(frame));
            assert_eq!((frame.width, frame.height), (info.width, info.height));
            assert!(frame.luma_table.len() == 64 || frame.luma_table.len() == 128);
            assert!(frame.chroma_table.len() == 64 || frame.chroma_table.len() == 128);
            assert!(frame.scan.len() < bytes.len());
        }
    }
    for damage in index.damages() {
        assert!(damage.offset < data.len());
        let _ = damage.to_string();
    }
});
