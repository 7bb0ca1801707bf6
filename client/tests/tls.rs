//! Our client over `rtsps://` against our server (rustls both ends, media interleaved on the
//! TLS connection): trusting the test CA (`--ca`), or `--insecure`, it plays every frame,
//! each the file's; with only the system's roots it refuses the server and says why.

use crate::common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{file_checksums, pattern_file, recording, serial};
use hdstream_client::tls::Trust;
use hdstream_client::{Error, Target, play};
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Listen, TlsListen};
use hdstream_server::media::{Catalogue, FpsPolicy};

#[test]
fn rtsps_plays_every_frame_and_an_untrusted_server_is_refused() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("hdstream-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A test CA, and the server's certificate for 127.0.0.1 signed by it.
    let path = |name: &str| dir.join(name).display().to_string();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=hdstream test CA",
                "-keyout",
                &path("ca.key"),
                "-out",
                &path("ca.pem"),
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                &path("key.pem"),
                "-out",
                &path("server.csr"),
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path("server.csr"),
        "-CA",
        &path("ca.pem"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &path("san.ext"),
        "-out",
        &path("cert.pem"),
    ]);
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );

    let file = pattern_file(640, 360, 60);
    let truth = file_checksums(&file);
    let policy = FpsPolicy {
        fps: Some(30.0),
        overrides: Vec::new(),
    };
    let (catalogue, _) = Catalogue::open(&file, &policy).unwrap();
    let tls = TlsListen {
        port: 0,
        config: hdstream_server::tls::server_config(&cert, &key).unwrap(),
    };
    let listen = Listen {
        bind: std::net::IpAddr::from([127, 0, 0, 1]),
        port: 0,
        rtp_port: None,
    };
    let handle =
        driver::spawn_with_tls(Config::default(), Arc::new(catalogue), listen, Some(tls)).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let url = format!("rtsps://{}/{name}", handle.rtsps.unwrap());

    for trust in [Trust::Ca(ca.clone()), Trust::Insecure] {
        let mut options = recording(Target::Url(url.clone()));
        options.trust = trust.clone();
        options.duration = Some(Duration::from_secs(10));
        let report = play(&options).expect("plays over TLS");
        assert_eq!(report.frames_displayed, 60, "{trust:?}");
        assert_eq!(
            report.displayed_checksums, truth,
            "{trust:?}: every frame, the file's"
        );
    }
    let err = play(&recording(Target::Url(url))).expect_err("a self-signed server is not trusted");
    assert!(matches!(err, Error::Tls(_)), "{err}");
    assert!(err.to_string().contains("certificate"), "says why: {err}");
    handle.stop().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
