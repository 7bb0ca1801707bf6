//! A DESCRIBE or SETUP that names a file new to the catalogue (issue 22): the core asks the
//! driver to open it ([`Server::poll_open`]) instead of opening it on the loop, the request
//! (and those after it on its connection) wait, every other session goes on being served, and
//! the answer comes when the driver hands the file back ([`Server::opened`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::core::{Config, Socket};
use crate::testing::{Core, media_dir, session_id};

/// A fresh media directory holding `clip.mjpeg` alone.
fn directory(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hdstream-opening-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(media_dir().join("clip.mjpeg"), dir.join("clip.mjpeg")).unwrap();
    dir
}

/// A core over `dir` with one UDP session playing `clip.mjpeg` to client port 5000.
fn viewer(dir: &std::path::Path) -> Core {
    let mut core = Core::over(dir, Config::default());
    let conn = core.connect(40_000);
    let track = "rtsp://127.0.0.1:8554/clip.mjpeg/trackID=0";
    let r = core.request(
        conn,
        &format!("SETUP {track}"),
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    let id = session_id(&r);
    let r = core.request(conn, &format!("PLAY {track}"), &[&format!("Session: {id}")]);
    assert_eq!(r.status.as_u16(), 200);
    core
}

/// RTP packets to the viewer in `sent`.
fn to_viewer(sent: &[crate::testing::Datagram]) -> usize {
    sent.iter()
        .filter(|(socket, to, _)| *socket == Socket::Rtp && to.port() == 5000)
        .count()
}

#[test]
fn a_new_file_is_opened_off_the_loop_while_others_are_served_and_then_described() {
    let dir = directory("new");
    let mut core = viewer(&dir);
    std::fs::copy(media_dir().join("clip.mjpeg"), dir.join("new.mjpeg")).unwrap();
    let conn = core.connect(40_001);
    // A DESCRIBE of the new file, and an OPTIONS right behind it on the same connection.
    let requests = "DESCRIBE rtsp://127.0.0.1:8554/new.mjpeg RTSP/1.0\r\nCSeq: 7\r\n\
                    Accept: application/sdp\r\n\r\n\
                    OPTIONS rtsp://127.0.0.1:8554/new.mjpeg RTSP/1.0\r\nCSeq: 8\r\n\r\n";
    core.server.receive(conn, requests.as_bytes(), core.now);
    assert!(
        core.take_output(conn).is_empty(),
        "no answer before the file is open"
    );
    assert!(!core.server.wants_input(conn), "its later input waits");
    let job = core.server.poll_open().expect("a job to open new.mjpeg");
    assert_eq!(job.name, "new.mjpeg");
    assert!(core.server.poll_open().is_none(), "one job");
    // A second connection asking for the same file waits for the same job.
    let other = core.connect(40_002);
    core.server.receive(
        other,
        b"DESCRIBE rtsp://127.0.0.1:8554/new.mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        core.now,
    );
    assert!(core.server.poll_open().is_none(), "no second job for it");
    assert!(core.take_output(other).is_empty());

    // Meanwhile the viewer is served as ever.
    let sent = core.run_for(Duration::from_millis(500));
    assert!(
        to_viewer(&sent) > 0,
        "the viewer keeps receiving while the file is opened"
    );

    core.server.opened(job.run(), core.now);
    let out = String::from_utf8(core.take_output(conn)).unwrap();
    let describe = out.find("CSeq: 7").expect("the DESCRIBE answered");
    let options = out.find("CSeq: 8").expect("the OPTIONS answered");
    assert!(describe < options, "in order: {out}");
    assert!(out.starts_with("RTSP/1.0 200 OK"), "{out}");
    assert!(out.contains("m=video"), "the SDP: {out}");
    assert!(core.server.wants_input(conn));
    let out = String::from_utf8(core.take_output(other)).unwrap();
    assert!(out.starts_with("RTSP/1.0 200 OK"), "{out}");
    // Open now: a second DESCRIBE is answered at once.
    let r = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/new.mjpeg", &[]);
    assert_eq!(r.status.as_u16(), 200);
    assert!(core.server.poll_open().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_new_file_that_cannot_be_opened_is_answered_not_found_after_the_attempt() {
    let dir = directory("bad");
    let mut core = viewer(&dir);
    std::fs::write(dir.join("bad.mjpeg"), b"not a JPEG at all").unwrap();
    let conn = core.connect(40_001);
    core.server.receive(
        conn,
        b"DESCRIBE rtsp://127.0.0.1:8554/bad.mjpeg RTSP/1.0\r\nCSeq: 3\r\n\r\n",
        core.now,
    );
    assert!(core.take_output(conn).is_empty());
    let job = core.server.poll_open().expect("a job to open bad.mjpeg");
    let sent = core.run_for(Duration::from_millis(200));
    assert!(to_viewer(&sent) > 0);
    core.server.opened(job.run(), core.now);
    let out = String::from_utf8(core.take_output(conn)).unwrap();
    assert!(out.starts_with("RTSP/1.0 404"), "{out}");
    assert!(out.contains("CSeq: 3"), "{out}");
    // A file that does not exist needs no job: 404 at once.
    let r = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/none.mjpeg", &[]);
    assert_eq!(r.status.as_u16(), 404);
    let _ = std::fs::remove_dir_all(&dir);
}
