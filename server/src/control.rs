//! RTSP method handlers (RFC 2326 §10): one request in, one response out; session state
//! changes as Appendix A.2 draws them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hdstream_common::rtsp::header::Header as _;
use hdstream_common::rtsp::header::{
    ChannelRange, ContentBase, ContentType, LowerTransport, PortRange, Public, Range, RtpInfo,
    RtpInfoEntry, Scale, Session as SessionHeader, Speed, Transport, TransportParam, TransportSpec,
};
use hdstream_common::rtsp::{Method, Request, Response, StatusCode};
use hdstream_common::sdp::{MjpegStream, SessionDescription};

use crate::core::Server;
use crate::media::{LookupError, Media};
use crate::session::{ConnId, Delivery, Session, State};
use crate::stream::{Payload, Stream};

/// The methods the server implements, for `Public` (RFC 2326 §12.28).
const PUBLIC: [Method; 7] = [
    Method::Options,
    Method::Describe,
    Method::Setup,
    Method::Play,
    Method::Pause,
    Method::Teardown,
    Method::GetParameter,
];

/// An error reply with a short explanation in a text body.
fn error(request: &Request, status: StatusCode, why: impl std::fmt::Display) -> Response {
    let mut response = Response::reply_to(request, status);
    response
        .headers
        .set_typed(&ContentType("text/plain".into()));
    response.body = format!("{why}\r\n").into_bytes();
    response
}

/// The response to `request` on `conn`.
pub(crate) fn respond(
    server: &mut Server,
    conn: ConnId,
    request: &Request,
    now: Instant,
) -> Response {
    if !matches!(request.cseq(), Some(Ok(_))) {
        return error(
            request,
            StatusCode::BAD_REQUEST,
            "missing or malformed CSeq (RFC 2326 §12.17)",
        );
    }
    // A named session must exist and belong to this connection (RFC 2326 §12.37).
    let session_id = match request.session() {
        None => None,
        Some(Err(e)) => return error(request, StatusCode::BAD_REQUEST, e),
        Some(Ok(header)) => {
            let parts = server.parts();
            match parts.sessions.get_mut(&header.id) {
                Some(s) if s.conn == conn => {
                    s.last_heard = now;
                    Some(header.id)
                }
                _ => {
                    return error(
                        request,
                        StatusCode::SESSION_NOT_FOUND,
                        "no such session on this connection",
                    );
                }
            }
        }
    };
    let mut response = match &request.method {
        Method::Options => options(request),
        Method::Describe => describe(server, conn, request),
        Method::Setup => setup(server, conn, request, session_id.as_deref(), now),
        Method::Play => play(server, request, session_id.as_deref(), now),
        Method::Pause => pause(server, request, session_id.as_deref()),
        Method::Teardown => teardown(server, request, session_id.as_deref(), now),
        Method::GetParameter => Response::reply_to(request, StatusCode::OK),
        Method::SetParameter if request.body.is_empty() => {
            Response::reply_to(request, StatusCode::OK)
        }
        Method::SetParameter => error(
            request,
            StatusCode::PARAMETER_NOT_UNDERSTOOD,
            "no parameters can be set",
        ),
        m if m.is_extension() => error(
            request,
            StatusCode::NOT_IMPLEMENTED,
            format_args!("method {} is not implemented", m.as_str()),
        ),
        m => {
            let mut r = error(
                request,
                StatusCode::METHOD_NOT_ALLOWED,
                format_args!("{} is not allowed here", m.as_str()),
            );
            r.headers.set_typed(&Public(PUBLIC.to_vec()));
            r
        }
    };
    if let Some(id) = session_id
        && response.headers.get(SessionHeader::NAME).is_none()
        && request.method != Method::Teardown
    {
        let timeout = server.config().session_timeout.as_secs() as u32;
        response
            .headers
            .set_typed(&SessionHeader::with_timeout(id, timeout));
    }
    response
        .headers
        .set("Server", concat!("hdstream/", env!("CARGO_PKG_VERSION")));
    response
}

fn options(request: &Request) -> Response {
    let mut response = Response::reply_to(request, StatusCode::OK);
    response.headers.set_typed(&Public(PUBLIC.to_vec()));
    response
}

/// The media a URL names, or the error reply.
fn lookup(server: &Server, request: &Request) -> Result<(Arc<Media>, Option<String>), Response> {
    match server.catalogue().lookup(&request.uri) {
        Ok((media, track)) => Ok((Arc::clone(media), track)),
        Err(e @ LookupError::Forbidden) => Err(error(request, StatusCode::FORBIDDEN, e)),
        Err(e @ LookupError::Malformed(_)) => Err(error(request, StatusCode::BAD_REQUEST, e)),
        Err(e @ LookupError::NotFound(_)) => Err(error(request, StatusCode::NOT_FOUND, e)),
    }
}

/// The track control in the SDP, appended to the Content-Base.
const TRACK: &str = "trackID=0";

fn describe(server: &mut Server, conn: ConnId, request: &Request) -> Response {
    let (media, track) = match lookup(server, request) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if track.is_some() {
        return error(
            request,
            StatusCode::NOT_FOUND,
            "DESCRIBE names a presentation, not a track",
        );
    }
    if let Some(accept) = request.headers.get("Accept")
        && !accept.split(',').any(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            t.eq_ignore_ascii_case("application/sdp")
                || t == "*/*"
                || t.eq_ignore_ascii_case("application/*")
        })
    {
        return error(
            request,
            StatusCode::NOT_ACCEPTABLE,
            "only application/sdp descriptions",
        );
    }
    if let Some(why) = &media.not_ready {
        return error(
            request,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format_args!(
                "{} cannot travel as RTP/JPEG (RFC 2435): {why}; convert it with encode_mjpeg --from",
                media.name
            ),
        );
    }
    let stats = media.file.stats();
    let origin = server.parts().connections.get(&conn).map(|c| c.peer);
    let origin_address = origin.map_or("0.0.0.0".to_owned(), local_like);
    let sdp = SessionDescription::mjpeg(&MjpegStream {
        session_id: 1,
        session_version: 1,
        origin_address: &origin_address,
        session_name: &media.name,
        control: TRACK,
        duration: Some(media.duration()),
        framerate: media.fps,
        width: u32::from(stats.width),
        height: u32::from(stats.height),
    });
    let mut response = Response::reply_to(request, StatusCode::OK);
    let base = request.uri.trim_end_matches('/');
    response.headers.set_typed(&ContentBase(format!("{base}/")));
    response
        .headers
        .set_typed(&ContentType("application/sdp".into()));
    response.body = sdp.to_string().into_bytes();
    response
}

/// The address family literal for `o=` (the peer's family; the exact address does not matter).
fn local_like(peer: SocketAddr) -> String {
    if peer.is_ipv4() {
        "127.0.0.1".into()
    } else {
        "::1".into()
    }
}

/// The delivery a Transport header asks for, or why none can be had.
fn choose_transport(
    transport: &Transport,
    peer: SocketAddr,
    used_channels: &[u8],
) -> Result<(Delivery, bool, TransportSpec), &'static str> {
    let mut why = "no transport offered";
    for spec in &transport.0 {
        if spec.is_course() {
            let Some(ports) = spec.client_port() else {
                why = "course transport without client_port";
                continue;
            };
            let rtp = SocketAddr::new(peer.ip(), ports.rtp);
            return Ok((Delivery::Udp { rtp, rtcp: None }, true, spec.clone()));
        }
        if !spec.is_rtp_avp() {
            why = "only RTP/AVP transports";
            continue;
        }
        if spec.is_multicast() {
            why = "multicast is not offered";
            continue;
        }
        if let Some(dest) = spec.destination() {
            let same = dest
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip == peer.ip());
            if !same {
                // RFC 2326 §16: sending to a third party would make the server a weapon.
                why = "destination must be the RTSP peer";
                continue;
            }
        }
        match spec.lower_transport() {
            LowerTransport::Udp => {
                let Some(ports) = spec.client_port() else {
                    why = "UDP transport without client_port";
                    continue;
                };
                if ports.rtp == 0 {
                    why = "client_port 0";
                    continue;
                }
                let rtcp_port = ports.rtcp.unwrap_or(ports.rtp.wrapping_add(1));
                let delivery = Delivery::Udp {
                    rtp: SocketAddr::new(peer.ip(), ports.rtp),
                    rtcp: Some(SocketAddr::new(peer.ip(), rtcp_port)),
                };
                return Ok((delivery, false, spec.clone()));
            }
            LowerTransport::Tcp => {
                let channels = spec.interleaved().unwrap_or_else(|| {
                    let mut c = 0u8;
                    while used_channels.contains(&c) || used_channels.contains(&(c + 1)) {
                        c = c.saturating_add(2);
                    }
                    ChannelRange {
                        rtp: c,
                        rtcp: Some(c.saturating_add(1)),
                    }
                });
                let rtcp = channels.rtcp.unwrap_or(channels.rtp.saturating_add(1));
                if used_channels.contains(&channels.rtp) || used_channels.contains(&rtcp) {
                    why = "interleaved channels already in use";
                    continue;
                }
                return Ok((
                    Delivery::Tcp {
                        rtp: channels.rtp,
                        rtcp,
                    },
                    false,
                    spec.clone(),
                ));
            }
        }
    }
    Err(why)
}

fn setup(
    server: &mut Server,
    conn: ConnId,
    request: &Request,
    session_id: Option<&str>,
    now: Instant,
) -> Response {
    let (media, _track) = match lookup(server, request) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let transport = match request.headers.typed::<Transport>() {
        Some(Ok(t)) => t,
        Some(Err(e)) => return error(request, StatusCode::UNSUPPORTED_TRANSPORT, e),
        None => {
            return error(
                request,
                StatusCode::UNSUPPORTED_TRANSPORT,
                "SETUP needs a Transport header",
            );
        }
    };
    let parts = server.parts();
    let Some(peer) = parts.connections.get(&conn).map(|c| c.peer) else {
        return error(
            request,
            StatusCode::INTERNAL_SERVER_ERROR,
            "connection gone",
        );
    };
    let used: Vec<u8> = parts
        .sessions
        .values()
        .filter(|s| s.conn == conn && Some(s.id.as_str()) != session_id)
        .flat_map(|s| match s.delivery {
            Delivery::Tcp { rtp, rtcp } => vec![rtp, rtcp],
            Delivery::Udp { .. } => vec![],
        })
        .collect();
    let (delivery, course, spec) = match choose_transport(&transport, peer, &used) {
        Ok(chosen) => chosen,
        Err(why) => return error(request, StatusCode::UNSUPPORTED_TRANSPORT, why),
    };
    if !course && let Some(why) = &media.not_ready {
        return error(
            request,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format_args!("{} cannot travel as RTP/JPEG (RFC 2435): {why}", media.name),
        );
    }
    // SETUP on an existing session changes its transport while it is not playing (§10.4).
    if let Some(id) = session_id {
        let Some(session) = parts.sessions.get_mut(id) else {
            return error(request, StatusCode::SESSION_NOT_FOUND, "no such session");
        };
        if session.state == State::Playing {
            return error(
                request,
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "cannot change transport while playing",
            );
        }
        if !Arc::ptr_eq(&session.media, &media) {
            return error(
                request,
                StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED,
                "a session plays one file",
            );
        }
        if let Delivery::Udp { rtcp: Some(a), .. } = session.delivery {
            parts.rtcp_peers.remove(&a);
        }
        session.delivery = delivery;
        if let Delivery::Udp { rtcp: Some(a), .. } = delivery {
            parts.rtcp_peers.insert(a, id.to_owned());
        }
        let reply = setup_reply(request, parts.config, session, &spec);
        return reply;
    }
    if parts.sessions.len() >= parts.config.max_sessions {
        return error(
            request,
            StatusCode::SERVICE_UNAVAILABLE,
            "session limit reached",
        );
    }
    let config = parts.config.clone();
    let id = server.new_session_id();
    let random = [
        server.random_u32(),
        server.random_u32(),
        server.random_u32(),
    ];
    let payload = if course {
        Payload::Course
    } else {
        Payload::Rfc2435
    };
    let stream = Stream::new(&media, payload, config.mtu, config.looping, random, now);
    let session = Session {
        id: id.clone(),
        conn,
        peer,
        media,
        delivery,
        course,
        state: State::Ready,
        stream,
        last_heard: now,
        next_report: now,
        created: now,
        first_play: None,
        ended: false,
        rtcp_received: 0,
        control_url: request.uri.clone(),
    };
    let reply = setup_reply(request, &config, &session, &spec);
    let parts = server.parts();
    if let Delivery::Udp { rtcp: Some(a), .. } = delivery {
        parts.rtcp_peers.insert(a, id.clone());
    }
    parts.sessions.insert(id, session);
    reply
}

fn setup_reply(
    request: &Request,
    config: &crate::core::Config,
    session: &Session,
    asked: &TransportSpec,
) -> Response {
    let mut response = Response::reply_to(request, StatusCode::OK);
    let timeout = config.session_timeout.as_secs() as u32;
    response
        .headers
        .set_typed(&SessionHeader::with_timeout(session.id.clone(), timeout));
    let spec = match session.delivery {
        Delivery::Udp { rtp, rtcp } => {
            let mut spec = TransportSpec::rtp_avp(asked.lower)
                .with(TransportParam::Unicast)
                .with(TransportParam::ClientPort(PortRange {
                    rtp: rtp.port(),
                    rtcp: rtcp.map(|a| a.port()),
                }))
                .with(TransportParam::ServerPort(PortRange {
                    rtp: config.server_ports.0,
                    rtcp: Some(config.server_ports.1),
                }));
            if session.course {
                spec = asked.clone();
            }
            spec
        }
        Delivery::Tcp { rtp, rtcp } => TransportSpec::rtp_avp(Some(LowerTransport::Tcp))
            .with(TransportParam::Unicast)
            .with(TransportParam::Interleaved(ChannelRange {
                rtp,
                rtcp: Some(rtcp),
            })),
    };
    let spec = spec
        .with(TransportParam::Ssrc(session.stream.ssrc))
        .with(TransportParam::Mode("PLAY".into()));
    response.headers.set_typed(&Transport(vec![spec]));
    response
}

/// The session a method needs, or 455 when none was named (e.g. PLAY before SETUP).
fn need_session<'a>(
    server: &'a mut Server,
    request: &Request,
    id: Option<&str>,
) -> Result<&'a mut Session, Response> {
    let Some(id) = id else {
        return Err(error(
            request,
            StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
            "no session: SETUP first",
        ));
    };
    server
        .parts()
        .sessions
        .get_mut(id)
        .ok_or_else(|| error(request, StatusCode::SESSION_NOT_FOUND, "no such session"))
}

fn play(server: &mut Server, request: &Request, id: Option<&str>, now: Instant) -> Response {
    let max_speed = server.config().max_speed;
    let session = match need_session(server, request, id) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let duration = session.media.duration();
    let range = match request.headers.typed::<Range>() {
        None => None,
        Some(Err(e)) => return error(request, StatusCode::INVALID_RANGE, e),
        Some(Ok(range)) => Some(range),
    };
    let start = range.as_ref().and_then(|r| r.start_seconds());
    if let Some(start) = start
        && !(0.0..=duration).contains(&start)
    {
        return error(
            request,
            StatusCode::INVALID_RANGE,
            format_args!("start {start} s is outside 0-{duration:.3} s"),
        );
    }
    let speed = match request.headers.typed::<Speed>() {
        None => None,
        Some(Err(e)) => return error(request, StatusCode::BAD_REQUEST, e),
        Some(Ok(s)) => Some(s.get().clamp(0.25, max_speed)),
    };
    if let Some(start) = start {
        session.stream.seek(start);
    }
    session.stream.play(speed.unwrap_or(1.0), now);
    session.state = State::Playing;
    session.ended = false;
    session.first_play.get_or_insert(now);
    let mut response = Response::reply_to(request, StatusCode::OK);
    if let Some(r) = Range::between(session.stream.npt(), duration) {
        response.headers.set_typed(&r);
    }
    let url = if session.control_url.is_empty() {
        request.uri.clone()
    } else {
        session.control_url.clone()
    };
    response.headers.set_typed(&RtpInfo(vec![RtpInfoEntry {
        url,
        seq: Some(session.stream.next_sequence_number()),
        rtptime: Some(session.stream.next_timestamp()),
    }]));
    if let Some(speed) = speed.and_then(Speed::new) {
        response.headers.set_typed(&speed);
    }
    if request.headers.get(Scale::NAME).is_some() {
        // Trick play is not offered: the stream plays forward at scale 1 (§12.34 lets the
        // server answer with the scale it uses).
        if let Some(one) = Scale::new(1.0) {
            response.headers.set_typed(&one);
        }
    }
    response
}

fn pause(server: &mut Server, request: &Request, id: Option<&str>) -> Response {
    let session = match need_session(server, request, id) {
        Ok(s) => s,
        Err(response) => return response,
    };
    session.stream.pause();
    session.state = State::Ready;
    let mut response = Response::reply_to(request, StatusCode::OK);
    if let Some(r) = Range::from_seconds(session.stream.npt()) {
        response.headers.set_typed(&r);
    }
    response
}

fn teardown(server: &mut Server, request: &Request, id: Option<&str>, now: Instant) -> Response {
    let Some(id) = id else {
        return error(
            request,
            StatusCode::SESSION_NOT_FOUND,
            "TEARDOWN needs a Session",
        );
    };
    let timeout = server.config().session_timeout.as_secs() as u32;
    server.end_session(id, crate::core::Ending::Teardown, now);
    let mut response = Response::reply_to(request, StatusCode::OK);
    response
        .headers
        .set_typed(&SessionHeader::with_timeout(id.to_owned(), timeout));
    response
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
