//! A response head (RFC 9112 §4 status line, §5 field lines), written into the caller's buffer.

use super::StatusCode;

/// A status and its header fields. The body is the caller's: it appends it after
/// [`Response::write_head`] (and says how long it is, or closes the connection after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// Header fields, in order (names as written; RFC 9110 §5.1: compared case-insensitively).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// A response with no fields yet.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: Vec::new(),
        }
    }

    /// Adds a field (builder form).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a field.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_owned(), value.into()));
    }

    /// Appends `HTTP/1.1 <code> <reason>`, the fields and the empty line that ends the head.
    /// Field values are written as given: the caller never puts CR or LF in one (RFC 9110
    /// §5.5), and a value that holds them is cut at the first.
    pub fn write_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            let value = value.split(['\r', '\n']).next().unwrap_or("");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Appends a whole response whose body is `text` (`text/plain`, with its length and
    /// `Connection: close`); with `head_only` (a HEAD request, RFC 9110 §9.3.2) the same head
    /// and no body.
    pub fn write_text(mut self, text: &str, head_only: bool, out: &mut Vec<u8>) {
        self.push("Content-Type", "text/plain; charset=utf-8");
        self.push("Content-Length", text.len().to_string());
        self.push("Connection", "close");
        self.write_head(out);
        if !head_only {
            out.extend_from_slice(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_a_status_line_fields_and_an_empty_line() {
        let mut out = Vec::new();
        Response::new(StatusCode::NOT_FOUND)
            .with("Content-Length", "0")
            .with("X-Evil", "a\r\nInjected: yes")
            .write_head(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-Evil: a\r\n\r\n"
        );
    }

    #[test]
    fn text_says_its_length_and_head_leaves_the_body_out() {
        let mut get = Vec::new();
        Response::new(StatusCode::BAD_REQUEST).write_text("no\r\n", false, &mut get);
        assert!(get.ends_with(b"Content-Length: 4\r\nConnection: close\r\n\r\nno\r\n"));
        let mut head = Vec::new();
        Response::new(StatusCode::BAD_REQUEST).write_text("no\r\n", true, &mut head);
        assert_eq!(head.len(), get.len() - 4);
    }
}
