//! The RFC 4566 §5 line grammar.

use super::{Attribute, Bandwidth, Connection, Error, Media, Origin, SessionDescription, Timing};

/// Fields of a structured line, separated by white space.
fn words(value: &str) -> impl Iterator<Item = &str> {
    value.split_ascii_whitespace()
}

fn syntax(line: usize, field: &'static str, expected: &'static str) -> Error {
    Error::Syntax {
        line,
        field,
        expected,
    }
}

/// Stores `value` in an at-most-once slot.
fn once(
    slot: &mut Option<String>,
    value: &str,
    line: usize,
    field: &'static str,
) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::Duplicate { line, field });
    }
    *slot = Some(value.to_owned());
    Ok(())
}

fn origin(value: &str, line: usize) -> Result<Origin, Error> {
    let f: Vec<&str> = words(value).collect();
    let [
        username,
        session_id,
        session_version,
        net_type,
        addr_type,
        address,
    ] = f[..]
    else {
        return Err(syntax(
            line,
            "o=",
            "<username> <sess-id> <sess-version> <nettype> <addrtype> <address>",
        ));
    };
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version: session_version.to_owned(),
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn connection(value: &str, line: usize) -> Result<Connection, Error> {
    let f: Vec<&str> = words(value).collect();
    let [net_type, addr_type, address] = f[..] else {
        return Err(syntax(
            line,
            "c=",
            "<nettype> <addrtype> <connection-address>",
        ));
    };
    Ok(Connection {
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn bandwidth(value: &str, line: usize) -> Result<Bandwidth, Error> {
    let bad = || syntax(line, "b=", "<bwtype>:<bandwidth>");
    let (bwtype, bw) = value.split_once(':').ok_or_else(bad)?;
    let bwtype = bwtype.trim();
    if bwtype.is_empty() || bwtype.bytes().any(|b| b.is_ascii_whitespace() || b == b':') {
        return Err(bad());
    }
    let bw = bw.trim();
    if !bw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(Bandwidth {
        bwtype: bwtype.to_owned(),
        bandwidth: bw.parse().map_err(|_| bad())?,
    })
}

fn timing(value: &str, line: usize) -> Result<Timing, Error> {
    let f: Vec<&str> = words(value).collect();
    let bad = || syntax(line, "t=", "<start-time> <stop-time>");
    let [start, stop] = f[..] else {
        return Err(bad());
    };
    let number = |s: &str| -> Result<u64, Error> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    Ok(Timing {
        start: number(start)?,
        stop: number(stop)?,
        repeats: Vec::new(),
    })
}

fn attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, v)) => Attribute {
            name: name.trim().to_owned(),
            value: Some(v.to_owned()),
        },
        None => Attribute::flag(value.trim()),
    }
}

fn media(value: &str, line: usize) -> Result<Media, Error> {
    let bad = || {
        syntax(
            line,
            "m=",
            "<media> <port>[/<number of ports>] <proto> <fmt> ...",
        )
    };
    let mut f = words(value);
    let (Some(kind), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(bad());
    };
    let number = |s: &str| -> Result<u16, Error> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (port, num_ports) = match port.split_once('/') {
        Some((p, n)) => (number(p)?, Some(number(n)?)),
        None => (number(port)?, None),
    };
    Ok(Media {
        media: kind.to_owned(),
        port,
        num_ports,
        proto: proto.to_owned(),
        formats: f.map(str::to_owned).collect(),
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    })
}

/// Parses a whole description.
pub(super) fn session(text: &str) -> Result<SessionDescription, Error> {
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());

    match lines.next() {
        Some((_, l)) if l.strip_prefix("v=").is_some_and(|v| v.trim() == "0") => {}
        Some((n, _)) => return Err(Error::Version { line: n }),
        None => return Err(Error::Version { line: 1 }),
    }

    let mut origin_line = None;
    let mut name = None;
    let mut sd = SessionDescription {
        origin: Origin {
            username: String::new(),
            session_id: String::new(),
            session_version: String::new(),
            net_type: String::new(),
            addr_type: String::new(),
            address: String::new(),
        },
        session_name: String::new(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        times: Vec::new(),
        time_zones: None,
        key: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };

    for (n, l) in lines {
        let (t, value) = match l.as_bytes() {
            [t, b'=', ..] if t.is_ascii_lowercase() => (*t, l.get(2..).unwrap_or_default()),
            _ => return Err(syntax(n, "line", "<type>=<value>")),
        };
        if t == b'm' {
            sd.media.push(media(value, n)?);
            continue;
        }
        if let Some(m) = sd.media.last_mut() {
            // Media-level lines (§5: i= c= b= k= a= after m=).
            match t {
                b'i' => once(&mut m.information, value, n, "i=")?,
                b'c' => m.connections.push(connection(value, n)?),
                b'b' => m.bandwidths.push(bandwidth(value, n)?),
                b'k' => once(&mut m.key, value, n, "k=")?,
                b'a' => m.attributes.push(attribute(value)),
                _ => {} // unknown or session-only types: ignored
            }
            continue;
        }
        match t {
            b'v' => {
                return Err(Error::Duplicate {
                    line: n,
                    field: "v=",
                });
            }
            b'o' => {
                if origin_line.replace(n).is_some() {
                    return Err(Error::Duplicate {
                        line: n,
                        field: "o=",
                    });
                }
                sd.origin = origin(value, n)?;
            }
            b's' => once(&mut name, value, n, "s=")?,
            b'i' => once(&mut sd.information, value, n, "i=")?,
            b'u' => once(&mut sd.uri, value, n, "u=")?,
            b'e' => sd.emails.push(value.to_owned()),
            b'p' => sd.phones.push(value.to_owned()),
            b'c' => {
                if sd.connection.is_some() {
                    return Err(Error::Duplicate {
                        line: n,
                        field: "c=",
                    });
                }
                sd.connection = Some(connection(value, n)?);
            }
            b'b' => sd.bandwidths.push(bandwidth(value, n)?),
            b't' => sd.times.push(timing(value, n)?),
            b'r' => match sd.times.last_mut() {
                Some(t) => t.repeats.push(value.to_owned()),
                None => return Err(syntax(n, "r=", "a t= line before it")),
            },
            b'z' => once(&mut sd.time_zones, value, n, "z=")?,
            b'k' => once(&mut sd.key, value, n, "k=")?,
            b'a' => sd.attributes.push(attribute(value)),
            _ => {} // unknown types are ignored
        }
    }
    if origin_line.is_none() {
        return Err(Error::Missing { field: "o=" });
    }
    sd.session_name = name.ok_or(Error::Missing { field: "s=" })?;
    Ok(sd)
}
