//! The header fields of one message, RFC 2326 §4.2 and §12: the [`Headers`] a message carries,
//! each read as its typed value with [`Headers::typed`].

use std::borrow::Cow;

use super::{self as header, Header};

/// The header fields of a request or response, in the order they were sent.
///
/// Names are compared case-insensitively (RFC 2326 §4.2, RFC 2616 §4.2); a name may occur
/// more than once. Values are stored without the surrounding white space, with folded
/// continuation lines joined by one space.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No header fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` occurs at all.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds a field after all others, keeping any existing fields of the same name.
    ///
    /// `name` should be a token and `value` free of line breaks: the serializer writes both as
    /// given (it only replaces CR, LF and NUL in the value with spaces).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Sets `name` to `value`: replaces the first field of that name in place and removes the
    /// others, or appends if there was none.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self
            .entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(first) => {
                self.entries[first].1 = value;
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(&name);
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Removes every field called `name`; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before - self.entries.len()
    }

    /// All fields as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The combined value of `name`: a field that occurs several times is one comma-separated
    /// list (RFC 2616 §4.2), so `Transport` on two lines reads like one line.
    pub fn combined(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self.get_all(name);
        let first = values.next()?;
        let Some(second) = values.next() else {
            return Some(Cow::Borrowed(first));
        };
        let mut joined = format!("{first},{second}");
        for v in values {
            joined.push(',');
            joined.push_str(v);
        }
        Some(Cow::Owned(joined))
    }

    /// Parses the typed header `H` from its [combined](Self::combined) value; `None` if absent.
    /// A header sent twice where the grammar allows one value (e.g. two `CSeq`) is an error.
    pub fn typed<H: Header>(&self) -> Option<Result<H, header::Error>> {
        self.combined(H::NAME).map(|v| H::parse(&v))
    }

    /// Sets the typed header `H` (see [`Headers::set`]).
    pub fn set_typed<H: Header>(&mut self, value: &H) {
        self.set(H::NAME, value.to_string());
    }

    /// Mutable access for the parser, which joins folded lines onto the last value.
    pub(crate) fn last_value_mut(&mut self) -> Option<&mut String> {
        self.entries.last_mut().map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = Self::new();
        for (n, v) in iter {
            headers.append(n, v);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::header::CSeq;

    #[test]
    fn lookup_ignores_case_and_keeps_every_value_in_order() {
        let h: Headers = [("CSeq", "3"), ("transport", "a"), ("TRANSPORT", "b")]
            .into_iter()
            .collect();
        assert_eq!(h.get("cseq"), Some("3"));
        assert_eq!(h.get_all("Transport").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(h.combined("Transport").as_deref(), Some("a,b"));
        assert_eq!(h.combined("CSEQ").as_deref(), Some("3"));
        assert!(h.contains("CSEQ") && !h.contains("Session"));
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn set_replaces_in_place_and_drops_duplicates() {
        let mut h: Headers = [("A", "1"), ("B", "2"), ("a", "3")].into_iter().collect();
        h.set("a", "9");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("A", "9"), ("B", "2")]);
        h.set("C", "4");
        assert_eq!(h.get("c"), Some("4"));
        assert_eq!(h.remove("b"), 1);
        assert_eq!(h.remove("b"), 0);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn typed_access_parses_and_rejects_duplicates() {
        let mut h = Headers::new();
        assert!(h.typed::<CSeq>().is_none());
        h.set_typed(&CSeq(7));
        assert_eq!(h.typed::<CSeq>(), Some(Ok(CSeq(7))));
        h.append("cseq", "8");
        assert!(matches!(h.typed::<CSeq>(), Some(Err(_))));
    }
}
