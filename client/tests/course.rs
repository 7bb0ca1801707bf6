//! Interop with the course's Python server (the stand-in `tools/scripts/course-server.py`,
//! which behaves as the course code does on the wire): the client speaks the course dialect,
//! reads its unterminated replies, places the whole-JPEG packets by frame number and shows
//! every frame. Fails when python3 is not installed.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::{media_dir, recording, serial};
use hdstream_client::{Target, play};
use hdstream_video::pattern::Pattern;

/// A `movie.Mjpeg`-style file: each JPEG preceded by its length in 5 ASCII digits.
fn course_file(frames: u64) -> PathBuf {
    let dir = media_dir().join(format!("course-{frames}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("movie.Mjpeg");
    if !path.exists() {
        let mut pattern = Pattern::new(384, 288);
        let mut out = Vec::new();
        let mut jpeg = Vec::new();
        for n in 0..frames {
            pattern.encode(n, 70, &mut jpeg).unwrap();
            write!(out, "{:05}", jpeg.len()).unwrap();
            out.extend_from_slice(&jpeg);
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, out).unwrap();
        std::fs::rename(tmp, &path).unwrap();
    }
    path
}

struct Python(Child);

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_course_server_is_played_in_its_dialect() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tools/scripts/course-server.py"
    );
    let file = course_file(40);
    let spawned = Command::new("python3")
        .arg(script)
        .arg("0")
        .arg("--media-dir")
        .arg(file.parent().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child =
        spawned.expect("python3 runs the course-server stand-in (apt-get install -y python3)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Python(child);
    let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
    let rtp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let _one_at_a_time = serial();
    let options = recording(Target::Course {
        host: "127.0.0.1".into(),
        port,
        rtp_port,
        file: "movie.Mjpeg".into(),
    });
    let report = play(&options).expect("plays to the end");
    eprintln!("{report}");
    assert_eq!((report.width, report.height), (384, 288));
    assert_eq!(
        (
            report.frames_displayed,
            report.frames_lost,
            report.frames_late,
            report.frames_undecodable
        ),
        (40, 0, 0, 0)
    );
    for (i, npt) in report.displayed_npt.iter().enumerate() {
        assert!((npt - i as f64 / 20.0).abs() < 1e-6, "frame {i} at {npt}");
    }
    assert!(
        (report.fps_displayed - 20.0).abs() < 0.5,
        "{}",
        report.fps_displayed
    );
}
