//! The HTTP port on real sockets (issue 20, "MJPEG for browsers"): ffmpeg's `mpjpeg` demuxer
//! reads `/watch/<file>` at 2160p — beyond the 2040 px RTP/JPEG can carry to it — and gets
//! every frame byte for byte; `/snapshot/` gives a file's frame at a time and a live path's
//! newest frame; hostile HTTP (huge heads, `..`, slow loris, readers that never read) beside a
//! healthy viewer, which still gets every frame, while the server's memory stays bounded; and
//! the binary's `--http` with `--users` (curl's Digest); and headless Chromium showing
//! `/watch/<file>` in an `<img>` tag.

use crate::common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Clip, exchange, get, serve_http, tool};
use hdstream_server::core::Config;
use hdstream_server::http::BOUNDARY;
use hdstream_video::decoder::{Decoder, Packed, Picture};

/// 3 s of 2160p (the live tests' UHD clip): 90 frames.
const UHD: Clip = Clip::new(3840, 2160, 3);
/// 6 s of 1080p: 180 frames.
const FULL_HD: Clip = Clip::new(1920, 1080, 6);
/// 6 s of 360p, for snapshots and publishing.
const SMALL: Clip = Clip::new(640, 360, 6);

/// A fresh scratch directory under the test target's tmp.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make scratch directory");
    dir
}

/// A `/watch` viewer reading parts as ffmpeg's `mpjpeg` demuxer does.
struct Watcher {
    reader: BufReader<TcpStream>,
}

impl Watcher {
    fn start(addr: SocketAddr, target: &str) -> Watcher {
        let mut stream = TcpStream::connect(addr).expect("connect to the HTTP port");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read the head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains(&format!("multipart/x-mixed-replace;boundary={BOUNDARY}")),
            "{head}"
        );
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        Watcher { reader }
    }

    /// The next part's bytes; `None` at the last chunk. Each part travels in a chunk of its
    /// own (RFC 9112 §7.1).
    fn next(&mut self) -> Option<Vec<u8>> {
        let chunk = self.chunk();
        if chunk.is_empty() {
            return None;
        }
        let delimiter = format!("--{BOUNDARY}\r\n");
        assert!(
            chunk.starts_with(delimiter.as_bytes()),
            "a chunk that is not one part"
        );
        let end = chunk
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a part's head");
        let head = std::str::from_utf8(&chunk[delimiter.len()..end]).expect("a part's fields");
        let mut len = None;
        let mut jpeg = false;
        for line in head.split("\r\n") {
            match line.split_once(": ") {
                Some(("Content-Length", v)) => len = v.parse::<usize>().ok(),
                Some(("Content-Type", v)) => jpeg = v == "image/jpeg",
                _ => panic!("unexpected part field {line:?}"),
            }
        }
        assert!(jpeg, "a part that is not image/jpeg");
        let data = &chunk[end + 4..];
        let len = len.expect("a part without Content-Length");
        assert_eq!(
            data.len(),
            len + 2,
            "Content-Length and the part's size agree"
        );
        assert_eq!(&data[len..], b"\r\n");
        Some(data[..len].to_vec())
    }

    /// The next chunk's data.
    fn chunk(&mut self) -> Vec<u8> {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a chunk size");
        let size = usize::from_str_radix(line.trim_end(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).expect("read a chunk");
        assert_eq!(&data[size..], b"\r\n");
        data.truncate(size);
        data
    }
}

#[test]
fn ffmpeg_reads_watch_of_a_2160p_file_and_gets_every_frame_byte_for_byte() {
    let clip = UHD.path();
    let frames = common::frames_of(&clip);
    assert_eq!(frames.len(), UHD.frames as usize);
    let root = common::media_root("http-uhd", &[("clip.mjpeg", &clip)]);
    let handle = serve_http(&root, Config::default());
    let url = format!("http://{}/watch/clip.mjpeg", handle.http.unwrap());
    let out = scratch("http-uhd-frames");
    let md5 = out.join("decoded.framemd5");
    // Each part as ffmpeg got it. Decoded afterwards, not on the way: decoding 2160p as it
    // arrives takes more than this 2-core machine has beside other tests, and a viewer that
    // falls 4 MiB behind is skipped frames (a slow reader costs frames, never server memory).
    let done = common::run(
        quiet_ffmpeg()
            .args(["-f", "mpjpeg", "-i", &url])
            .args(["-map", "0", "-c", "copy", "-f", "image2"])
            .arg(out.join("%04d.jpg")),
        Duration::from_secs(60),
    );
    let decoded = common::run(
        quiet_ffmpeg()
            .args(["-f", "image2", "-i"])
            .arg(out.join("%04d.jpg"))
            .args(["-f", "framemd5"])
            .arg(&md5),
        Duration::from_secs(60),
    );
    assert!(
        decoded.status.success(),
        "ffmpeg decoding: {}",
        decoded.stderr
    );
    assert!(done.status.success(), "ffmpeg: {}", done.stderr);
    assert!(!done.stderr.contains("[error]"), "ffmpeg: {}", done.stderr);
    let mut got: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    got.sort();
    let identical = got
        .iter()
        .zip(&frames)
        .filter(|(path, frame)| std::fs::read(path).unwrap() == **frame)
        .count();
    eprintln!(
        "ffmpeg got {} frames of {} over HTTP at 3840x2160 ({} KiB each on average), {identical} byte-identical; stderr: {:?}",
        got.len(),
        frames.len(),
        frames.iter().map(Vec::len).sum::<usize>() / frames.len() / 1024,
        done.stderr
    );
    assert_eq!(got.len(), frames.len(), "every frame of the file");
    assert_eq!(identical, frames.len(), "every frame byte for byte");
    // And what it decoded is what it decodes of the file.
    let decoded = common::parse_framemd5(&std::fs::read_to_string(&md5).unwrap());
    let (reference, _) = common::framemd5(
        &["-f", "mjpeg", "-i", clip.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(decoded.len(), frames.len());
    assert!(
        decoded == reference,
        "ffmpeg decodes the HTTP frames as it decodes the file's"
    );
    handle.stop().unwrap();
}

#[test]
fn snapshot_is_a_files_frame_at_t_and_a_live_paths_newest_frame() {
    let clip = SMALL.path();
    let frames = common::frames_of(&clip);
    let root = common::media_root("http-snapshot", &[("clip.mjpeg", &clip)]);
    let handle = serve_http(&root, Config::default());
    let http = handle.http.unwrap();
    for (t, index) in [
        ("", 0),
        ("?t=0", 0),
        ("?t=1.5", 45),
        ("?t=2.9", 87),
        ("?t=5.99", 179),
    ] {
        let reply = get(http, &format!("/snapshot/clip.mjpeg{t}"));
        assert_eq!(reply.status, 200, "{t}: {}", reply.head);
        assert!(
            reply.head.contains("Content-Type: image/jpeg"),
            "{}",
            reply.head
        );
        assert!(reply.body == frames[index], "t {t}: not frame {index}");
    }
    assert_eq!(get(http, "/snapshot/clip.mjpeg?t=6").status, 400);
    assert_eq!(
        get(http, "/snapshot/live/cam").status,
        404,
        "nobody publishes yet"
    );

    // A publisher (ffmpeg, RTSP over TCP) on live/cam: a snapshot is a published frame, and a
    // viewer of /watch/live/cam gets published frames as they come.
    let rtsp = format!("rtsp://{}/live/cam", handle.rtsp);
    let publisher = common::spawn(
        Command::new(tool("ffmpeg"))
            .args([
                "-nostdin",
                "-v",
                "error",
                "-re",
                "-framerate",
                "30",
                "-f",
                "mjpeg",
                "-i",
            ])
            .arg(&clip)
            .args(["-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp"])
            .arg(&rtsp),
    );
    common::wait_live(handle.rtsp, &rtsp);
    let deadline = Instant::now() + Duration::from_secs(10);
    let snapshot = loop {
        let reply = get(http, "/snapshot/live/cam");
        if reply.status == 200 {
            break reply.body;
        }
        assert_eq!(reply.status, 503, "{}", reply.head);
        assert!(Instant::now() < deadline, "no live frame within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut watcher = Watcher::start(http, "/watch/live/cam");
    let watched: Vec<Vec<u8>> = (0..30).map_while(|_| watcher.next()).collect();
    drop(watcher);
    let published = publisher.wait(Duration::from_secs(30));
    assert!(published.status.success(), "ffmpeg: {}", published.stderr);

    // The server rebuilds a published JPEG's headers (RFC 2435): compare what ffmpeg decodes.
    let dir = scratch("http-snapshot-live");
    let mjpeg = dir.join("seen.mjpeg");
    std::fs::write(&mjpeg, [vec![snapshot], watched.clone()].concat().concat()).unwrap();
    let (seen, _) = common::framemd5(
        &["-f", "mjpeg", "-i", mjpeg.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let (file, _) = common::framemd5(
        &["-f", "mjpeg", "-i", clip.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let file: HashSet<String> = file.into_iter().collect();
    eprintln!(
        "live: a snapshot and {} watched frames, each decoded and looked for among the file's {}",
        watched.len(),
        file.len()
    );
    assert_eq!(watched.len(), 30);
    assert_eq!(seen.len(), 31);
    assert!(
        seen.iter().all(|s| file.contains(s)),
        "every frame seen is a published frame"
    );
    assert!(
        seen.iter().collect::<HashSet<_>>().len() >= 25,
        "the frames move on"
    );
    handle.stop().unwrap();
}

#[test]
fn hostile_http_beside_a_healthy_viewer_who_gets_every_frame_in_bounded_memory() {
    let clip = FULL_HD.path();
    let frames = Arc::new(common::frames_of(&clip));
    let root = common::media_root("http-hostile", &[("clip.mjpeg", &clip)]);
    // At most 1 MiB queued per viewer (the default is 4 MiB), so that six readers that never
    // read stand well apart from the ~16 MiB of frames each would otherwise be sent.
    let config = Config {
        request_timeout: Duration::from_secs(2),
        tcp_queue_limit: 1 << 20,
        ..Config::default()
    };
    let handle = serve_http(&root, config);
    let http = handle.http.unwrap();
    let me = std::process::id();
    let rss_before = common::rss_kib(me);

    // The healthy viewer, on a thread: every part compared with the file's frame.
    let healthy = healthy_viewer(http, Arc::clone(&frames));

    // Readers that never read: each is sent frames until its output is full, then skips.
    let stalled: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut s = TcpStream::connect(http).unwrap();
            s.write_all(b"GET /watch/clip.mjpeg HTTP/1.1\r\n\r\n")
                .unwrap();
            s
        })
        .collect();

    // Slow loris: a field line every 300 ms, never the end of the head.
    let loris: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(http).unwrap();
            s.write_all(b"GET /watch/clip.mjpeg HTTP/1.1\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            s
        })
        .collect();
    let loris_start = Instant::now();

    // Huge heads: 431 (and the server reads no more than its limit of them).
    let huge = format!(
        "GET /watch/clip.mjpeg HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let reply = exchange(http, huge.as_bytes(), Duration::from_secs(10));
    assert_eq!(reply.status, 431, "{}", reply.head);
    let many = format!(
        "GET /watch/clip.mjpeg HTTP/1.1\r\n{}\r\n",
        "X-A: b\r\n".repeat(500)
    );
    assert_eq!(
        exchange(http, many.as_bytes(), Duration::from_secs(10)).status,
        431
    );
    let long = format!("GET /watch/{} HTTP/1.1\r\n\r\n", "a".repeat(20_000));
    assert_eq!(
        exchange(http, long.as_bytes(), Duration::from_secs(10)).status,
        414
    );

    // Traversal, as sent (curl and browsers would normalise it away first).
    for target in [
        "/watch/../../etc/passwd",
        "/snapshot/../../../../etc/passwd",
        "/watch/%2e%2e/%2e%2e/etc/passwd",
        "/snapshot/..%2f..%2fetc%2fpasswd",
        "/watch/clip.mjpeg/../../../etc/passwd",
    ] {
        let reply = get(http, target);
        assert!(
            matches!(reply.status, 400 | 404),
            "{target}: {}",
            reply.head
        );
        assert!(
            !String::from_utf8_lossy(&reply.body).contains("root:"),
            "{target}"
        );
    }
    assert_eq!(get(http, "/nothing/here").status, 404);
    let post = exchange(
        http,
        b"POST /watch/clip.mjpeg HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        Duration::from_secs(10),
    );
    assert_eq!(post.status, 405);

    // The slow lorises are closed once the request timeout (2 s) is past.
    let mut open: Vec<(TcpStream, bool)> = loris.into_iter().map(|s| (s, true)).collect();
    let mut rss_most = common::rss_kib(me);
    while open.iter().any(|(_, o)| *o) && loris_start.elapsed() < Duration::from_secs(8) {
        for (s, o) in open.iter_mut().filter(|(_, o)| *o) {
            let mut buf = [0u8; 256];
            match s.read(&mut buf) {
                Ok(0) => *o = false,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if s.write_all(b"X-Slow: 1\r\n").is_err() {
                        *o = false;
                    }
                }
                Err(_) => *o = false,
            }
        }
        rss_most = rss_most.max(common::rss_kib(me));
        std::thread::sleep(Duration::from_millis(250));
    }
    let loris_closed_after = loris_start.elapsed();
    assert!(
        open.iter().all(|(_, o)| !o),
        "slow loris connections still open after {loris_closed_after:?}"
    );

    // The healthy viewer meanwhile: every frame, byte for byte.
    while !healthy.is_finished() {
        rss_most = rss_most.max(common::rss_kib(me));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (got, same) = healthy.join().unwrap();
    let grew_mib = rss_most.saturating_sub(rss_before) / 1024;
    let frame_kib = frames.iter().map(Vec::len).sum::<usize>() / frames.len() / 1024;
    eprintln!(
        "healthy viewer: {got} frames of {}, {same} byte-identical; slow lorises closed after {loris_closed_after:?}; \
         6 readers that never read: RSS {rss_before} KiB before, at most {rss_most} KiB during (+{grew_mib} MiB; frames {frame_kib} KiB)",
        frames.len()
    );
    assert_eq!((got, same), (frames.len(), frames.len()));
    // Unbounded, six readers would hold the whole stream each: 6 × 6 s × 30 fps of frames.
    let unbounded_mib = (6 * frames.iter().map(Vec::len).sum::<usize>() as u64) >> 20;
    assert!(
        grew_mib < 32,
        "the server grew {grew_mib} MiB for six readers that read nothing (unbounded: ~{unbounded_mib} MiB)"
    );
    drop(stalled);
    handle.stop().unwrap();
}

#[test]
fn the_binary_serves_http_with_the_same_digest_users_as_rtsp() {
    let help = common::run(
        Command::new(env!("CARGO_BIN_EXE_hdstream-server")).arg("--help"),
        Duration::from_secs(10),
    );
    assert!(
        help.stdout_text().contains("--http [<ADDR>]"),
        "{}",
        help.stdout_text()
    );
    let clip = SMALL.path();
    let frames = common::frames_of(&clip);
    let root = common::media_root("http-binary", &[("clip.mjpeg", &clip)]);
    let users = scratch("http-users").join("users.toml");
    std::fs::write(&users, hdstream_server::test_media::alice().to_toml()).unwrap();
    let (server, http) = common::binary_with_http(&[
        "--media",
        root.to_str().unwrap(),
        "--users",
        users.to_str().unwrap(),
    ]);
    assert_eq!(get(http, "/snapshot/clip.mjpeg").status, 401);
    let url = format!("http://{http}/snapshot/clip.mjpeg?t=1");
    let (code, body) = common::curl_digest(&url, "alice:s3cret");
    assert_eq!(code, 200);
    assert!(body == frames[30].as_slice(), "curl got frame 30 (t=1)");
    assert_eq!(common::curl_digest(&url, "alice:wrong").0, 401);
    drop(server);
}

#[test]
fn two_thousand_idle_connections_beside_a_healthy_viewer_are_capped_and_closed() {
    // Each connection is two descriptors in this process (the test's end and the server's).
    let limit = common::raise_fd_limit();
    assert!(
        limit >= 4500,
        "open-file limit {limit}: 2,000 connections need 4,000 and more"
    );
    let clip = FULL_HD.path();
    let frames = Arc::new(common::frames_of(&clip));
    let root = common::media_root("http-idle", &[("clip.mjpeg", &clip)]);
    let config = Config {
        request_timeout: Duration::from_secs(3),
        max_connections: 1500,
        ..Config::default()
    };
    let handle = serve_http(&root, config);
    let http = handle.http.unwrap();
    let healthy = healthy_viewer(http, Arc::clone(&frames));
    std::thread::sleep(Duration::from_millis(200));
    let idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(http).expect("connect an idle connection"))
        .collect();
    std::thread::sleep(Duration::from_millis(1000));
    // Past the cap (1,500 with the healthy viewer): 503 and closed at once; the others wait.
    let mut refused = 0;
    let mut waiting = 0;
    for s in &idle {
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        match (&*s).read(&mut buf) {
            Ok(n) if n >= 12 && &buf[..12] == b"HTTP/1.1 503" => refused += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => waiting += 1,
            other => panic!("an idle connection got {other:?}"),
        }
    }
    // Those that waited are closed once the request timeout (3 s) is past.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open: Vec<&TcpStream> = idle.iter().collect();
    while !open.is_empty() && Instant::now() < deadline {
        open.retain(|s| {
            let mut buf = [0u8; 64];
            let mut stream: &TcpStream = s;
            match stream.read(&mut buf) {
                Ok(0) => false,
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            }
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    let (got, same) = healthy.join().unwrap();
    eprintln!(
        "2,000 idle connections: {refused} refused with 503, {waiting} accepted and waiting, {} still open after the timeout; healthy viewer {got} of {} frames, {same} byte-identical",
        open.len(),
        frames.len()
    );
    assert_eq!((refused, waiting), (501, 1499));
    assert!(
        open.is_empty(),
        "{} idle connections never closed",
        open.len()
    );
    assert_eq!((got, same), (frames.len(), frames.len()));
    handle.stop().unwrap();
}

/// Headless Chromium (Debian's `chromium`, driven over its DevTools protocol by
/// `tools/scripts/browser.py`) plays `/watch/<file>` in an `<img>` tag, as a page shows an IP
/// camera: two screenshots 1.5 s apart are each one of the file's frames (the nearest decoded
/// frame within a few levels a sample: two JPEG decoders, Chromium's and ours), and not the
/// same one — the picture moves.
#[test]
fn an_img_tag_in_chromium_plays_watch_of_a_file() {
    let clip = SMALL.path();
    let mut decoder = Decoder::new();
    let frames: Vec<Picture> = common::frames_of(&clip)
        .iter()
        .map(|jpeg| decoder.decode_packed(jpeg, Packed::Rgb).expect("decode"))
        .collect();
    let root = common::media_root("http-browser", &[("clip.mjpeg", &clip)]);
    let handle = serve_http(&root, Config::default());
    let dir = scratch("http-browser-shots");
    let page = dir.join("page.html");
    std::fs::write(
        &page,
        format!(
            "<!doctype html><html><body style=\"margin:0;background:#000\">\
             <img src=\"http://{}/watch/clip.mjpeg\" style=\"display:block\"></body></html>",
            handle.http.expect("HTTP port")
        ),
    )
    .unwrap();
    let done = browser(
        Command::new("/usr/bin/python3")
            .arg(BROWSER)
            .arg("screenshots")
            .arg(format!("file://{}", page.display()))
            .args(["--size", "640x360", "--at", "1.0", "--at", "2.5", "--out"])
            .arg(&dir),
    );
    let matched: Vec<(usize, f64)> = (0..2)
        .map(|k| nearest_frame(&read_png_rgb(&dir.join(format!("shot-{k}.png"))), &frames))
        .collect();
    eprintln!(
        "Chromium's <img> of /watch at 1.0 s and 2.5 s after the page loaded: frames {} and {} of \
         {} (mean difference {:.2} and {:.2} levels a sample); {}",
        matched[0].0,
        matched[1].0,
        frames.len(),
        matched[0].1,
        matched[1].1,
        done.stdout_text().trim()
    );
    for (k, (frame, difference)) in matched.iter().enumerate() {
        assert!(
            *difference < 2.0,
            "screenshot {k} is no frame of the file: nearest is frame {frame}, {difference:.1} \
             levels off on average"
        );
    }
    assert!(
        matched[1].0 >= matched[0].0 + 15,
        "1.5 s later the picture is 45 frames on, at least 15: frames {} then {}",
        matched[0].0,
        matched[1].0
    );
    handle.stop().unwrap();
}

/// A PNG's pixels as packed RGB (Chromium's screenshots are RGB or RGBA, 8 bits a sample).
fn read_png_rgb(path: &Path) -> Picture {
    let file = std::fs::File::open(path).expect("screenshot");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("screenshot in {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let samples = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|px| [px[0], px[1], px[2]])
        .collect();
    Picture {
        width: info.width as usize,
        height: info.height as usize,
        samples,
    }
}

/// The frame of `frames` nearest `shot` (same size), and its mean absolute difference a sample.
fn nearest_frame(shot: &Picture, frames: &[Picture]) -> (usize, f64) {
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            assert_eq!(
                (shot.width, shot.height),
                (frame.width, frame.height),
                "screenshot size"
            );
            let total: u64 = shot
                .samples
                .iter()
                .zip(&frame.samples)
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum();
            (i, total as f64 / shot.samples.len() as f64)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("frames")
}

/// A viewer of `/watch/clip.mjpeg` on a thread of its own, to its end: the parts it got, and
/// how many were the file's frame of their number.
fn healthy_viewer(
    http: SocketAddr,
    expected: Arc<Vec<Vec<u8>>>,
) -> std::thread::JoinHandle<(usize, usize)> {
    std::thread::spawn(move || {
        let mut watcher = Watcher::start(http, "/watch/clip.mjpeg");
        let mut got = 0;
        let mut same = 0;
        while let Some(part) = watcher.next() {
            same += usize::from(expected.get(got) == Some(&part));
            got += 1;
        }
        (got, same)
    })
}

/// ffmpeg reading no input from the terminal and printing warnings and errors only.
fn quiet_ffmpeg() -> Command {
    let mut ffmpeg = Command::new(tool("ffmpeg"));
    ffmpeg.args(["-nostdin", "-loglevel", "level+warning"]);
    ffmpeg
}

/// The DevTools driver of headless Chromium.
const BROWSER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/scripts/browser.py");

/// Runs `browser.py` (at most a minute); what it printed, once it succeeded.
fn browser(cmd: &mut Command) -> common::Finished {
    let done = common::run(cmd, Duration::from_secs(60));
    assert!(
        done.status.success(),
        "browser.py (chromium and python3-websocket come from tools/scripts/setup-deps.sh): {}",
        done.stderr
    );
    done
}

/// The index page (`GET /`) in headless Chromium lists the file and a live path that ffmpeg
/// publishes, each with its picture loaded (`/snapshot/<path>`, at the stream's size) and a
/// link to its `/watch/<path>`.
#[test]
fn the_index_page_in_chromium_lists_files_and_live_paths_with_their_pictures() {
    let clip = SMALL.path();
    let root = common::media_root("http-index", &[("clip.mjpeg", &clip)]);
    let handle = serve_http(&root, Config::default());
    let http = handle.http.unwrap();
    let rtsp = format!("rtsp://{}/live/cam", handle.rtsp);
    let _publisher = common::spawn(
        quiet_ffmpeg()
            .args(["-re", "-framerate", "30", "-f", "mjpeg", "-i"])
            .arg(&clip)
            .args(["-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp"])
            .arg(&rtsp),
    );
    common::wait_live(handle.rtsp, &rtsp);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(http, "/snapshot/live/cam").status != 200 {
        assert!(Instant::now() < deadline, "no live frame within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = browser(
        Command::new("/usr/bin/python3")
            .arg(BROWSER)
            .arg("eval")
            .arg(format!("http://{http}/"))
            .args([
                "--until",
                "document.images.length >= 2 && \
                 [...document.images].every(i => i.complete && i.naturalWidth > 0)",
                "--expr",
                "[...document.querySelectorAll('li[data-path]')].map(li => ({\
                 path: li.dataset.path, list: li.parentElement.id, \
                 watch: li.querySelector('a').getAttribute('href'), \
                 width: li.querySelector('img').naturalWidth, \
                 height: li.querySelector('img').naturalHeight}))",
            ]),
    );
    let out: serde_json::Value =
        serde_json::from_str(done.stdout_text().trim()).expect("browser.py's JSON");
    eprintln!("the index in Chromium: {}", out["value"]);
    let entries = out["value"].as_array().expect("the entries");
    let find = |path: &str| {
        entries
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("{path} is not on the index: {entries:?}"))
    };
    let file = find("clip.mjpeg");
    assert_eq!(file["list"], "files");
    assert_eq!(file["watch"], "/watch/clip.mjpeg");
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(640), Some(360))
    );
    let live = find("live/cam");
    assert_eq!(live["list"], "live");
    assert_eq!(live["watch"], "/watch/live/cam");
    assert_eq!(
        (live["width"].as_u64(), live["height"].as_u64()),
        (Some(640), Some(360))
    );
    handle.stop().unwrap();
}
