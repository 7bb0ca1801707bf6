//! The HTTP port's pages for people (issue 20): `GET /`, the index — every file and live path
//! the server can show, each with its newest picture (`/snapshot/<path>`) linking to its
//! `/watch/<path>` — rendered sans-IO from the operations [`Snapshot`] (one list of what can be
//! watched, for the API and for the page).
//!
//! Names come from the media root's file names and from publishers on the network: every one is
//! HTML-escaped in text and attributes, and percent-encoded in URLs (RFC 3986 §2.1; `/`
//! separates a live path's segments and stays).

use std::fmt::Write as _;

use crate::ops::Snapshot;

/// The `Content-Type` of the pages.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// The index: files, then live paths, each a thumbnail and its figures.
pub fn index(snapshot: &Snapshot) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>hdstream</title><style>\
         body{font:14px system-ui,sans-serif;margin:1.5em;background:#111;color:#eee}\
         ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1em}\
         li{width:320px}img{width:320px;aspect-ratio:16/9;object-fit:contain;background:#000;\
         display:block}a{color:#9cf}small{color:#aaa}</style></head><body>\n<h1>hdstream</h1>\n",
    );
    out.push_str("<h2>Files</h2>\n<ul id=\"files\">\n");
    if snapshot.files.is_empty() {
        out.push_str("<li><small>none</small></li>\n");
    }
    for f in &snapshot.files {
        let about = format!(
            "{}×{}, {:.3} fps, {:.1} s{}{}, {} watching",
            f.width,
            f.height,
            f.fps,
            f.duration,
            if f.sound { ", sound" } else { "" },
            if f.captions { ", captions" } else { "" },
            f.viewers
        );
        entry(&mut out, &f.name, &about);
    }
    out.push_str("</ul>\n<h2>Live</h2>\n<ul id=\"live\">\n");
    if snapshot.live.is_empty() {
        out.push_str("<li><small>none</small></li>\n");
    }
    for l in &snapshot.live {
        let size = match (l.width, l.height) {
            (Some(w), Some(h)) => format!("{w}×{h}, "),
            _ => String::new(),
        };
        let air = if l.on_air {
            "on the air"
        } else {
            "off the air"
        };
        entry(
            &mut out,
            &l.path,
            &format!("{size}{air}, {} watching", l.viewers),
        );
    }
    out.push_str("</ul>\n</body></html>\n");
    out
}

/// One thumbnail, its name and `about`.
fn entry(out: &mut String, name: &str, about: &str) {
    let url = url_path(name);
    let _ = writeln!(
        out,
        "<li data-path=\"{}\"><a href=\"/watch/{url}\"><img src=\"/snapshot/{url}\" alt=\"\" \
         loading=\"lazy\"></a><a href=\"/watch/{url}\">{}</a><br><small>{}</small></li>",
        html(name),
        html(name),
        html(about)
    );
}

/// `text` safe in HTML text and in a quoted attribute.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `path` percent-encoded for a URL path: unreserved characters (RFC 3986 §2.3) and `/` stay.
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{FileView, LiveView};

    fn file(name: &str) -> FileView {
        FileView {
            name: name.into(),
            size: 1000,
            width: 1920,
            height: 1080,
            fps: 30.0,
            frames: 300,
            duration: 10.0,
            sound: true,
            captions: false,
            not_rtsp_ready: None,
            viewers: 2,
        }
    }

    #[test]
    fn files_and_live_paths_are_listed_with_their_thumbnails_and_links() {
        let snapshot = Snapshot {
            files: vec![file("clip.mjpeg")],
            live: vec![LiveView {
                path: "live/cam".into(),
                on_air: true,
                width: Some(1280),
                height: Some(720),
                viewers: 0,
            }],
            ..Snapshot::default()
        };
        let page = index(&snapshot);
        assert!(page.contains("<img src=\"/snapshot/clip.mjpeg\""), "{page}");
        assert!(
            page.contains("href=\"/watch/clip.mjpeg\">clip.mjpeg</a>"),
            "{page}"
        );
        assert!(
            page.contains("1920×1080, 30.000 fps, 10.0 s, sound, 2 watching"),
            "{page}"
        );
        assert!(page.contains("<img src=\"/snapshot/live/cam\""), "{page}");
        assert!(page.contains("1280×720, on the air, 0 watching"), "{page}");
    }

    #[test]
    fn names_cannot_inject_markup_or_break_their_urls() {
        let snapshot = Snapshot {
            files: vec![file("a\"><script>x</script> b&c?.mjpeg")],
            ..Snapshot::default()
        };
        let page = index(&snapshot);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("a&quot;&gt;&lt;script&gt;x&lt;/script&gt; b&amp;c?.mjpeg"));
        assert!(
            page.contains("/watch/a%22%3E%3Cscript%3Ex%3C/script%3E%20b%26c%3F.mjpeg"),
            "{page}"
        );
        assert!(page.contains("<ul id=\"live\">\n<li><small>none</small></li>"));
    }
}
