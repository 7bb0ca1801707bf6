//! Real-time text over RTP: the `text/t140` payload, RFC 4103, carrying ITU-T T.140 text.
//!
//! ```text
//! m=text 0 RTP/AVP 98
//! a=rtpmap:98 t140/1000
//! ```
//!
//! The payload is a T140block (RFC 4103 §3): T.140 text in UTF-8, nothing around it, the RTP
//! timestamp in milliseconds ([`CLOCK_RATE`]). hdstream sends captions as lines: each cue's
//! text in one block (more if it exceeds the maximum payload), ending in [`LINE_SEPARATOR`],
//! stamped with the cue's start, the marker bit set on the first packet after an idle period
//! (§3). No RFC 2198 redundancy is sent; a receiver that is sent some sees another payload
//! type and leaves it alone ([`Depacketizer::push_packet`]).
//!
//! What ffmpeg 5.1 (Debian 12) makes of this stream, measured: each RTP packet becomes one
//! subtitle event, its text the payload as is (the trailing U+2028 kept), an LF in it a line
//! break of the event, an empty payload nothing; the marker bit is not looked at; the time is
//! read at 90 kHz, not at the rtpmap's 1000 Hz (so its SRT cues come out 90 times too close
//! together unless RTCP sender reports, which it uses when the session has more than one
//! stream, set it right); each SRT cue ends where it starts. That is why a cue's lines are
//! joined by LF within one block ([`write()`]) rather than sent as separate T.140 lines.

use std::collections::VecDeque;
use std::time::Duration;

use super::Cue;
use crate::rtp;

/// The dynamic RTP payload type hdstream sends T.140 on (RFC 4103 §6: any dynamic type; the
/// server's files and live paths and `hdstream-publish` all use this one).
pub const PAYLOAD_TYPE: u8 = 98;
/// The RTP clock rate of `text/t140`: timestamps count milliseconds (RFC 4103 §3).
pub const CLOCK_RATE: u32 = 1000;
/// The SDP encoding name of RFC 4103's `text/t140` (`a=rtpmap:<pt> t140/1000`).
pub const ENCODING_NAME: &str = "t140";
/// T.140's new line: U+2028 LINE SEPARATOR. CR LF, and LF or CR alone, are read as new lines
/// too.
pub const LINE_SEPARATOR: char = '\u{2028}';
/// T.140's erasure: U+0008 BACKSPACE removes the character before it.
pub const BACKSPACE: char = '\u{8}';
/// U+FEFF ZERO WIDTH NO BREAK SPACE, which T.140 allows at the start of a session as a byte
/// order mark; it is ignored wherever it comes.
pub const BOM: char = '\u{FEFF}';
/// Marks text lost on the way (RFC 4103 §4; T.140's "missing text" mark): U+FFFD.
pub const MISSING: char = '\u{FFFD}';
/// After this long without a packet the sender is idle, and the next packet carries the
/// marker bit (RFC 4103 §3, §4: text is sent in buffering intervals of 300 ms).
pub const IDLE_MS: u32 = 300;
/// The longest line a [`Depacketizer`] builds by default, in bytes; a longer one is cut.
pub const DEFAULT_MAX_LINE: usize = 4096;
/// Completed lines a [`Depacketizer`] holds for [`Depacketizer::pull`]; past that the oldest
/// go.
const MAX_QUEUED: usize = 256;
/// The longest escape sequence (`ESC [ ... final`) or SOS string skipped as one control
/// function; a longer one is given up and what follows read as text.
const MAX_CONTROL_LEN: u32 = 64;

/// The T.140 text of one caption: its lines (split at CR LF, CR, LF, U+2028 or U+2029)
/// joined by LF, blank ones left out, tabs as spaces, other control characters and BOMs
/// dropped, and [`LINE_SEPARATOR`] at the end.
///
/// The lines of a cue are joined by LF, not U+2028, because ffmpeg makes a line break of an LF
/// in a payload and keeps U+2028 as a character; a T.140 receiver takes either as a new line.
pub fn write(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + LINE_SEPARATOR.len_utf8());
    let mut line_ended = false;
    for c in text.chars() {
        match c {
            '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | LINE_SEPARATOR | '\u{2029}' => {
                line_ended = true;
            }
            BOM => {}
            c if c.is_control() && c != '\t' => {}
            c => {
                if line_ended && !out.is_empty() {
                    out.push('\n');
                }
                line_ended = false;
                out.push(if c == '\t' { ' ' } else { c });
            }
        }
    }
    out.push(LINE_SEPARATOR);
    out
}

/// The RTP timestamp of a time on the media's timeline, before the stream's random offset is
/// added: milliseconds, wrapping at 2^32 (49.7 days).
pub fn timestamp(at: Duration) -> u32 {
    // Keeping the low 32 bits is the wrap.
    at.as_millis() as u32
}

/// The payload of one RTP packet (a T140block, RFC 4103 §3.3) and the header fields that go
/// with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// RTP timestamp: the cue's start in ms ([`timestamp`]), before the stream's offset.
    pub timestamp: u32,
    /// RTP marker bit: set on the first packet after an idle period (RFC 4103 §3).
    pub marker: bool,
    /// The payload: UTF-8, cut only between characters.
    pub data: Vec<u8>,
}

/// Turns cues into T140blocks (RFC 4103 §3), one line a cue: [`write()`]'s text, in as many
/// blocks of at most `max_payload` bytes as it takes (one, for any caption of a few lines),
/// all stamped with the cue's start. It keeps the timestamp of the last block, to know when
/// the sender was idle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packetizer {
    max_payload: usize,
    /// Timestamp of the last block made, if any since the start or [`reset`](Self::reset).
    last: Option<u32>,
}

impl Packetizer {
    /// A packetizer for payloads of at most `max_payload` bytes, at least 4 (one UTF-8
    /// character; fewer is taken as 4).
    pub fn new(max_payload: usize) -> Packetizer {
        Packetizer {
            max_payload: max_payload.max(4),
            last: None,
        }
    }

    /// The blocks of one cue, in sending order; none for a cue with no text. The first is
    /// marked when it is the first since the start or a [`reset`](Self::reset), or when the
    /// last block was more than [`IDLE_MS`] earlier (or later: the media time went back).
    pub fn push(&mut self, cue: &Cue) -> Vec<Block> {
        let text = write(&cue.text);
        if text.len() == LINE_SEPARATOR.len_utf8() {
            return Vec::new();
        }
        let timestamp = timestamp(cue.start);
        let idle = self.last.is_none_or(|last| {
            // Wrap-aware: a jump back reads as negative.
            let delta = timestamp.wrapping_sub(last) as i32;
            !(0..=IDLE_MS as i32).contains(&delta)
        });
        self.last = Some(timestamp);
        let mut blocks = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut end = rest.len().min(self.max_payload);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            blocks.push(Block {
                timestamp,
                marker: idle && blocks.is_empty(),
                data: rest.as_bytes()[..end].to_vec(),
            });
            rest = &rest[end..];
        }
        blocks
    }

    /// Forgets the last block (after a seek or a pause): the next is marked.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// One line of received text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// RTP timestamp of the packet that brought the line's first character (the sender's
    /// offset included: unwrap it as the stream's other timestamps).
    pub timestamp: u32,
    /// The text, without its new line; a line cut at the length limit is returned in pieces.
    pub text: String,
}

/// What a [`Depacketizer`] dropped, replaced or cut, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Control characters and control functions (escape sequences, SOS strings) dropped.
    pub controls: u64,
    /// Invalid UTF-8 sequences, each replaced by U+FFFD.
    pub invalid: u64,
    /// Lines cut at the length limit.
    pub cut: u64,
    /// Losses marked ([`MISSING`]): sequence gaps and calls of [`Depacketizer::lose`].
    pub lost: u64,
    /// Completed lines dropped unpulled because too many were waiting.
    pub overflow: u64,
    /// Packets of another payload type (RFC 2198 redundancy, say), ignored.
    pub foreign: u64,
    /// Packets ignored as duplicates or too late (their sequence number not newer).
    pub stale: u64,
}

/// Where the reader is in a control function that spans characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    /// Reading text.
    None,
    /// After ESC: one more character ends it, unless it is `[`.
    Escape,
    /// In a control sequence (`ESC [`): parameters up to a final character, `@` to `~`.
    Sequence(u32),
    /// In a control string after SOS (U+0098): up to ST (U+009C) or `ESC \`.
    String(u32),
    /// ESC inside a control string: `\` ends it.
    StringEscape(u32),
}

/// Turns T140blocks back into lines of text (RFC 4103, T.140): push each packet's payload in
/// sequence order, pull the completed lines.
///
/// A line ends at U+2028, CR LF, LF or CR. BACKSPACE erases the last character of the line
/// being received (not of one already returned); BOMs are ignored; other control characters,
/// and the escape sequences and SOS strings that T.140 uses for its control functions, are
/// dropped and counted. Invalid UTF-8 reads as U+FFFD, counted; a character split across
/// packets is joined. A line longer than the limit ([`DEFAULT_MAX_LINE`] bytes) is returned in
/// pieces, counted. Nothing it is given makes it panic, and its memory is bounded: the line,
/// three bytes of a split character, and at most 256 completed lines waiting.
#[derive(Debug, Clone)]
pub struct Depacketizer {
    max_line: usize,
    /// The line being received, and the timestamp of its first character.
    line: String,
    start: Option<u32>,
    /// The first bytes of a character that the next payload completes (at most 3).
    tail: Vec<u8>,
    /// Holds `tail` and the next payload together while they are read.
    scratch: Vec<u8>,
    /// The last character was CR: an LF now is part of the same new line.
    after_cr: bool,
    control: Control,
    lines: VecDeque<Line>,
    counts: Counts,
    /// The last sequence number taken by [`push_packet`](Self::push_packet).
    last_sequence: Option<u16>,
}

impl Default for Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Depacketizer {
    /// A depacketizer cutting lines at [`DEFAULT_MAX_LINE`] bytes.
    pub fn new() -> Depacketizer {
        Depacketizer {
            max_line: DEFAULT_MAX_LINE,
            line: String::new(),
            start: None,
            tail: Vec::new(),
            scratch: Vec::new(),
            after_cr: false,
            control: Control::None,
            lines: VecDeque::new(),
            counts: Counts::default(),
            last_sequence: None,
        }
    }

    /// Cuts lines at `max` bytes (at least 4).
    pub fn set_max_line(&mut self, max: usize) {
        self.max_line = max.max(4);
    }

    /// What was dropped, replaced or cut so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The line being received, as far as it has come (for showing text as it is typed).
    pub fn partial(&self) -> &str {
        &self.line
    }

    /// The next completed line, oldest first.
    pub fn pull(&mut self) -> Option<Line> {
        self.lines.pop_front()
    }

    /// Takes one RTP packet of the text stream, in sequence order (the caller's jitter buffer
    /// reorders): one of another payload type than `payload_type` is ignored, as is one whose
    /// sequence number is not newer than the last one's (up to [`rtp::MAX_MISORDER`] behind;
    /// further back is taken as a new numbering). A gap in the numbering marks lost text.
    pub fn push_packet(&mut self, packet: &rtp::Packet<'_>, payload_type: u8) {
        if packet.payload_type() != payload_type {
            self.counts.foreign += 1;
            return;
        }
        let sequence = packet.sequence_number();
        if let Some(last) = self.last_sequence {
            let delta = rtp::sequence_delta(sequence, last);
            if (-i32::from(rtp::MAX_MISORDER)..=0).contains(&i32::from(delta)) {
                self.counts.stale += 1;
                return;
            }
            if delta != 1 {
                self.lose(packet.timestamp());
            }
        }
        self.last_sequence = Some(sequence);
        self.push(packet.timestamp(), packet.payload());
    }

    /// Takes one payload and the RTP timestamp of its packet.
    pub fn push(&mut self, timestamp: u32, payload: &[u8]) {
        if self.tail.is_empty() {
            self.decode(timestamp, payload);
        } else {
            let mut joined = std::mem::take(&mut self.scratch);
            joined.clear();
            joined.append(&mut self.tail);
            joined.extend_from_slice(payload);
            self.decode(timestamp, &joined);
            self.scratch = joined;
        }
    }

    /// Marks text lost at `timestamp` (RFC 4103 §4): [`MISSING`] goes into the line, a
    /// character or control function cut off by the loss is dropped.
    pub fn lose(&mut self, timestamp: u32) {
        self.counts.lost += 1;
        self.tail.clear();
        self.control = Control::None;
        self.after_cr = false;
        self.put_text(MISSING, timestamp);
    }

    /// Ends the line being received, if it has text, as a new line would (at the end of the
    /// stream, say); a character cut off by the end is dropped.
    pub fn flush(&mut self, timestamp: u32) {
        self.tail.clear();
        self.control = Control::None;
        if !self.line.is_empty() {
            self.end_line(timestamp);
        }
    }

    /// Reads `bytes` as UTF-8, keeping an incomplete character at the end for the next payload.
    fn decode(&mut self, timestamp: u32, mut bytes: &[u8]) {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    self.put_str(text, timestamp);
                    return;
                }
                Err(e) => {
                    let (valid, after) = bytes.split_at(e.valid_up_to());
                    // `valid_up_to` says these bytes are UTF-8.
                    self.put_str(std::str::from_utf8(valid).unwrap_or_default(), timestamp);
                    match e.error_len() {
                        Some(len) => {
                            self.counts.invalid += 1;
                            self.put('\u{FFFD}', timestamp);
                            bytes = &after[len..];
                        }
                        None => {
                            // At most 3 bytes: the start of a character that may go on.
                            self.tail.clear();
                            self.tail.extend_from_slice(after);
                            return;
                        }
                    }
                }
            }
        }
    }

    fn put_str(&mut self, text: &str, timestamp: u32) {
        for c in text.chars() {
            self.put(c, timestamp);
        }
    }

    /// One character of T.140 text.
    fn put(&mut self, c: char, timestamp: u32) {
        const ESC: char = '\u{1B}';
        const SOS: char = '\u{98}';
        const ST: char = '\u{9C}';
        let after_cr = std::mem::take(&mut self.after_cr);
        let printable = ('\u{20}'..='\u{7E}').contains(&c);
        match self.control {
            Control::None => {}
            // ESC and one printable character (INT is ESC a); `ESC [` opens a sequence.
            Control::Escape => {
                self.control = if c == '[' {
                    Control::Sequence(0)
                } else {
                    Control::None
                };
                if printable {
                    return;
                }
            }
            Control::Sequence(n) => {
                self.control = Control::None;
                if n < MAX_CONTROL_LEN && ('\u{20}'..='\u{3F}').contains(&c) {
                    self.control = Control::Sequence(n + 1);
                    return;
                }
                if n < MAX_CONTROL_LEN && ('\u{40}'..='\u{7E}').contains(&c) {
                    return;
                }
            }
            Control::String(n) if n < MAX_CONTROL_LEN => {
                self.control = match c {
                    ST => Control::None,
                    ESC => Control::StringEscape(n + 1),
                    _ => Control::String(n + 1),
                };
                return;
            }
            Control::StringEscape(n) if n < MAX_CONTROL_LEN => {
                self.control = if c == '\\' {
                    Control::None
                } else {
                    Control::String(n + 1)
                };
                return;
            }
            // Too long to be a control function: what follows is text.
            Control::String(_) | Control::StringEscape(_) => self.control = Control::None,
        }
        match c {
            '\n' if after_cr => {}
            LINE_SEPARATOR | '\n' => self.end_line(timestamp),
            '\r' => {
                self.end_line(timestamp);
                self.after_cr = true;
            }
            BACKSPACE => {
                self.line.pop();
            }
            BOM => {}
            ESC => {
                self.counts.controls += 1;
                self.control = Control::Escape;
            }
            SOS => {
                self.counts.controls += 1;
                self.control = Control::String(0);
            }
            c if c.is_control() => self.counts.controls += 1,
            c => self.put_text(c, timestamp),
        }
    }

    /// A character that goes into the line.
    fn put_text(&mut self, c: char, timestamp: u32) {
        if self.line.len() + c.len_utf8() > self.max_line {
            self.counts.cut += 1;
            self.end_line(timestamp);
        }
        self.start.get_or_insert(timestamp);
        self.line.push(c);
    }

    fn end_line(&mut self, timestamp: u32) {
        if self.lines.len() >= MAX_QUEUED {
            self.lines.pop_front();
            self.counts.overflow += 1;
        }
        self.lines.push_back(Line {
            timestamp: self.start.take().unwrap_or(timestamp),
            text: std::mem::take(&mut self.line),
        });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn lines(d: &mut Depacketizer) -> Vec<(u32, String)> {
        std::iter::from_fn(|| d.pull())
            .map(|l| (l.timestamp, l.text))
            .collect()
    }

    fn texts(d: &mut Depacketizer) -> Vec<String> {
        lines(d).into_iter().map(|(_, t)| t).collect()
    }

    fn cue(start_ms: u64, text: &str) -> Cue {
        Cue::new(
            Duration::from_millis(start_ms),
            Duration::from_millis(start_ms + 1000),
            text,
        )
    }

    /// An RTP packet of payload type 98.
    fn packet(sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 98];
        p.extend_from_slice(&sequence.to_be_bytes());
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x12, 0x34]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn write_one_caption() {
        assert_eq!(write("Hello"), "Hello\u{2028}");
        assert_eq!(
            write("\r\nTwo\r\nlines\n\n\u{2028}and\rthree\u{2029}\n"),
            "Two\nlines\nand\nthree\u{2028}"
        );
        assert_eq!(
            write("tab\there\u{FEFF}\u{7}\u{1B}\u{7F}\u{9B}."),
            "tab here.\u{2028}"
        );
        assert_eq!(write(""), "\u{2028}");
        assert_eq!(write("\n \n"), " \u{2028}");
    }

    #[test]
    fn timestamps_are_milliseconds() {
        assert_eq!(timestamp(Duration::from_micros(1_234_999)), 1234);
        assert_eq!(timestamp(Duration::from_millis(u64::from(u32::MAX) + 6)), 5);
    }

    #[test]
    fn packetizer_marks_after_idle() {
        let mut p = Packetizer::new(1200);
        let first = p.push(&cue(10_000, "Hello"));
        assert_eq!(
            first,
            [Block {
                timestamp: 10_000,
                marker: true,
                data: "Hello\u{2028}".as_bytes().to_vec(),
            }]
        );
        // Within the buffering interval: no marker; past it, or back in time: marker.
        assert!(!p.push(&cue(10_300, "a"))[0].marker);
        assert!(p.push(&cue(10_601, "b"))[0].marker);
        assert!(p.push(&cue(10_000, "c"))[0].marker);
        assert!(!p.push(&cue(10_000, "d"))[0].marker);
        p.reset();
        assert!(p.push(&cue(10_000, "e"))[0].marker);
        // No text, no block, and the idle clock is left alone.
        assert!(p.push(&cue(10_100, "\u{7}\n")).is_empty());
        assert!(!p.push(&cue(10_200, "f"))[0].marker);
    }

    #[test]
    fn packetizer_wraps_timestamps() {
        let mut p = Packetizer::new(1200);
        let end = u64::from(u32::MAX);
        assert!(p.push(&cue(end - 100, "a"))[0].marker);
        let b = p.push(&cue(end + 101, "b"));
        assert_eq!(b[0].timestamp, 100);
        assert!(!b[0].marker);
    }

    #[test]
    fn packetizer_cuts_between_characters() {
        let mut p = Packetizer::new(5);
        let blocks = p.push(&cue(0, "aé€😀b"));
        let data: Vec<&[u8]> = blocks.iter().map(|b| b.data.as_slice()).collect();
        assert_eq!(
            data,
            [
                "aé".as_bytes(),
                "€".as_bytes(),
                "😀b".as_bytes(),
                "\u{2028}".as_bytes(),
            ]
        );
        assert!(blocks[0].marker);
        assert!(blocks[1..].iter().all(|b| !b.marker && b.timestamp == 0));
        assert_eq!(Packetizer::new(0).push(&cue(0, "😀")).len(), 2);
    }

    #[test]
    fn new_line_conventions() {
        let mut d = Depacketizer::new();
        d.push(7, "one\u{2028}two\r\nthree\nfour\rfive\u{2028}".as_bytes());
        assert_eq!(texts(&mut d), ["one", "two", "three", "four", "five"]);
        // CR LF split across packets is one new line; CR CR is two.
        d.push(8, b"a\r");
        d.push(9, b"\nb\r\r");
        assert_eq!(
            lines(&mut d),
            [(8, "a".into()), (9, "b".into()), (9, String::new())]
        );
    }

    #[test]
    fn line_starts_at_its_first_character() {
        let mut d = Depacketizer::new();
        d.push(100, b"Hel");
        assert_eq!(d.partial(), "Hel");
        d.push(200, b"lo");
        d.push(300, "\u{2028}".as_bytes());
        d.push(400, "\u{2028}".as_bytes());
        assert_eq!(lines(&mut d), [(100, "Hello".into()), (400, String::new())]);
    }

    #[test]
    fn backspace_bom_and_controls() {
        let mut d = Depacketizer::new();
        d.push(
            0,
            "\u{FEFF}Helxx\u{8}\u{8}lo\u{7}\u{0}\u{7F}\u{85}!\u{2028}".as_bytes(),
        );
        d.push(0, "\u{8}\u{8}x\u{FEFF}y\u{2028}".as_bytes());
        assert_eq!(texts(&mut d), ["Hello!", "xy"]);
        assert_eq!(d.counts().controls, 4);
    }

    #[test]
    fn escape_sequences_and_control_strings_are_dropped() {
        let mut d = Depacketizer::new();
        // SGR colour, a split one, INT (ESC a), an SOS string ended by ST and one by ESC \.
        d.push(0, b"\x1b[31mred\x1b[0m \x1b[");
        d.push(0, b"1;32mgreen\x1ba!");
        d.push(
            0,
            "\u{98}hidden\u{9C}\u{98}also\x1b\\ shown\u{2028}".as_bytes(),
        );
        assert_eq!(texts(&mut d), ["red green! shown"]);
        assert_eq!(d.counts().controls, 6);
        // ESC or a sequence cut short by a new line leaves the new line be.
        d.push(0, "a\x1b\u{2028}b\x1b[1\u{2028}".as_bytes());
        assert_eq!(texts(&mut d), ["a", "b"]);
        // An unterminated sequence gives up after 64 characters; the text after it is read.
        let mut d = Depacketizer::new();
        let mut payload = b"\x1b[".to_vec();
        payload.extend(std::iter::repeat_n(b'1', 64));
        payload.extend_from_slice(b"2x\n");
        d.push(0, &payload);
        assert_eq!(texts(&mut d), ["2x"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let mut d = Depacketizer::new();
        d.push(0, b"a\xFF\xFEb\xE2\x82c\xED\xA0\x80\n");
        assert_eq!(
            texts(&mut d),
            ["a\u{FFFD}\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\u{FFFD}"]
        );
        assert_eq!(d.counts().invalid, 6);
    }

    #[test]
    fn characters_split_across_packets() {
        let mut d = Depacketizer::new();
        let text = "😀€\u{2028}";
        for b in text.as_bytes() {
            d.push(1, std::slice::from_ref(b));
        }
        assert_eq!(texts(&mut d), ["😀€"]);
        // A start byte the next packet does not continue is invalid; the next byte is read.
        d.push(2, b"\xF0\x9F");
        d.push(2, b"x\n");
        assert_eq!(texts(&mut d), ["\u{FFFD}x"]);
        assert_eq!(d.counts().invalid, 1);
    }

    #[test]
    fn long_lines_are_cut() {
        let mut d = Depacketizer::new();
        d.set_max_line(10);
        d.push(5, "0123456789abc\u{2028}".as_bytes());
        d.push(6, "ééééééé\u{2028}".as_bytes());
        assert_eq!(
            lines(&mut d),
            [
                (5, "0123456789".into()),
                (5, "abc".into()),
                (6, "ééééé".into()),
                (6, "éé".into())
            ]
        );
        assert_eq!(d.counts().cut, 2);
    }

    #[test]
    fn waiting_lines_are_bounded() {
        let mut d = Depacketizer::new();
        d.push(0, "\n".repeat(300).as_bytes());
        assert_eq!(texts(&mut d).len(), MAX_QUEUED);
        assert_eq!(d.counts().overflow, 300 - MAX_QUEUED as u64);
    }

    #[test]
    fn packets_in_sequence() {
        let mut d = Depacketizer::new();
        let push = |d: &mut Depacketizer, bytes: &[u8]| {
            d.push_packet(&rtp::Packet::parse(bytes).unwrap(), 98);
        };
        push(&mut d, &packet(65_534, 10, b"ab"));
        push(&mut d, &packet(65_535, 20, b"c\xE2\x82"));
        // Redundancy (RFC 2198) under another payload type: not ours.
        let mut red = packet(1, 20, b"\x80\x00\x00\x02ab");
        red[1] = 100;
        push(&mut d, &red);
        push(&mut d, &packet(65_535, 20, b"c")); // duplicate
        push(&mut d, &packet(1, 40, "d\u{2028}".as_bytes())); // 0 lost
        push(&mut d, &packet(2, 50, "e\u{2028}".as_bytes()));
        assert_eq!(
            lines(&mut d),
            [(10, "abc\u{FFFD}d".into()), (50, "e".into())]
        );
        let c = d.counts();
        assert_eq!((c.foreign, c.stale, c.lost, c.invalid), (1, 1, 1, 0));
        // Far behind: a new numbering, not a late packet.
        push(&mut d, &packet(65_000, 60, b"f\n"));
        assert_eq!(texts(&mut d), ["\u{FFFD}f"]);
        assert_eq!(d.counts().stale, 1);
    }

    #[test]
    fn flush_ends_the_line() {
        let mut d = Depacketizer::new();
        d.flush(0);
        assert!(d.pull().is_none());
        d.push(3, b"bye\xE2");
        d.flush(9);
        assert_eq!(lines(&mut d), [(3, "bye".into())]);
        d.push(10, b"\x82\xACx\n");
        assert_eq!(texts(&mut d), ["\u{FFFD}\u{FFFD}x"]);
    }

    #[test]
    fn multi_line_cue_comes_back_as_lines() {
        let mut p = Packetizer::new(1200);
        let mut d = Depacketizer::new();
        for b in p.push(&cue(61_000, "- Hi\n- Hello")) {
            d.push(b.timestamp, &b.data);
        }
        assert_eq!(
            lines(&mut d),
            [(61_000, "- Hi".into()), (61_000, "- Hello".into())]
        );
    }

    /// What the depacketizer returns for a caption: [`write()`]'s lines.
    fn expected_lines(text: &str) -> Vec<String> {
        let written = write(text);
        let body = written.trim_end_matches(LINE_SEPARATOR);
        if body.is_empty() {
            Vec::new()
        } else {
            body.split('\n').map(str::to_owned).collect()
        }
    }

    proptest! {
        #[test]
        fn write_then_receive_split_anywhere(
            text in "\\PC{1,200}",
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            start in any::<u32>(),
        ) {
            let mut p = Packetizer::new(1200);
            let blocks = p.push(&cue(u64::from(start), &text));
            let data: Vec<u8> = blocks.iter().flat_map(|b| b.data.clone()).collect();
            let written = write(&text);
            prop_assert_eq!(data.as_slice(), written.as_bytes());
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            at.push(0);
            at.push(data.len());
            at.sort_unstable();
            let mut d = Depacketizer::new();
            for w in at.windows(2) {
                d.push(start, &data[w[0]..w[1]]);
            }
            let got = lines(&mut d);
            prop_assert!(got.iter().all(|(t, _)| *t == start));
            let got: Vec<String> = got.into_iter().map(|(_, t)| t).collect();
            prop_assert_eq!(&got, &expected_lines(&text));
            // Without separators in it, the text comes back whole.
            if !text.contains([LINE_SEPARATOR, '\u{2029}']) {
                prop_assert_eq!(got, vec![text.clone()]);
            }
            prop_assert_eq!(d.counts(), Counts::default());
        }

        #[test]
        fn small_payloads_rebuild_the_text(text in "\\PC{1,100}", max in 0usize..12) {
            let mut p = Packetizer::new(max);
            let blocks = p.push(&cue(0, &text));
            let mut d = Depacketizer::new();
            for b in &blocks {
                prop_assert!(b.data.len() <= max.max(4));
                prop_assert!(std::str::from_utf8(&b.data).is_ok());
                d.push(b.timestamp, &b.data);
            }
            prop_assert_eq!(texts(&mut d), expected_lines(&text));
        }

        #[test]
        fn any_bytes_any_cuts(
            data in prop::collection::vec(any::<u8>(), 0..300),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            max in 0usize..40,
        ) {
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            at.push(0);
            at.push(data.len());
            at.sort_unstable();
            let mut d = Depacketizer::new();
            d.set_max_line(max);
            for w in at.windows(2) {
                d.push(0, &data[w[0]..w[1]]);
                prop_assert!(d.partial().len() <= max.max(4));
            }
            d.flush(0);
            for (_, text) in lines(&mut d) {
                prop_assert!(text.len() <= max.max(4));
                prop_assert!(!text.chars().any(|c| c.is_control() || c == LINE_SEPARATOR));
            }
        }
    }
}
