//! RTSP method handlers (RFC 2326 §10): one request in, one response out; session state
//! changes as Appendix A.2 draws them.
//!
//! [`respond`] is the one place a request is answered, a viewer's or a publisher's: a
//! publisher's ANNOUNCE (§10.3), SETUP with `mode=record` (§12.39), RECORD (§10.11), and
//! TEARDOWN or keep-alives on its session go to the published paths; every other request to
//! the viewers' handlers. The handlers see only what a request may touch ([`Context`]: the
//! settings, the media, the published paths, the session table, who asked and when) and say
//! what the core must do beyond the reply ([`Answer`]); they never reach back into the core.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hdstream_common::course::Dialect;
use hdstream_common::rtsp::header::Header as _;
use hdstream_common::rtsp::header::{
    ChannelRange, ContentBase, ContentType, LowerTransport, PortRange, Public, Range, RtpInfo,
    RtpInfoEntry, Scale, Session as SessionHeader, Speed, Transport, TransportParam, TransportSpec,
};
use hdstream_common::rtsp::{Method, Request, Response, StatusCode};
use hdstream_common::sdp::{self, MjpegStream, RtxFormat, SessionDescription};
use hdstream_video::Container;

use crate::captions::CaptionStream;
use crate::config::Config;
use crate::delivery::Delivery;
use crate::live::TrackKind;
use crate::live_track::LiveTrackStream;
use crate::media::{Catalogue, LookupError};
use crate::publish::{Publishing, Refusal, live_path, live_target};
use crate::session::{ConnId, Program, Session, State};
use crate::sessions::Sessions;
use crate::source::Source;
use crate::stream::Stream;
use crate::track::{AudioStream, Track, TrackStream};

/// What a request handler may see and change.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// The server's settings.
    pub config: &'a Config,
    /// The media served.
    pub catalogue: &'a Catalogue,
    /// The published paths (publishers' requests change them).
    pub publishing: &'a mut Publishing,
    /// Every session.
    pub sessions: &'a mut Sessions,
    /// The connection the request came on.
    pub conn: ConnId,
    /// Its peer.
    pub peer: SocketAddr,
    /// When the request came.
    pub now: Instant,
}

/// A handler's answer: the reply, the session it concerns, and whether the core must end that
/// session (TEARDOWN: RTCP BYE, the summary line) before the reply goes out.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The reply.
    pub response: Response,
    /// The session the reply is about (named and found, or just set up).
    pub session: Option<String>,
    /// End `session`.
    pub ends_session: bool,
}

/// The methods the server implements, for `Public` (RFC 2326 §12.28).
const PUBLIC: [Method; 9] = [
    Method::Options,
    Method::Describe,
    Method::Announce,
    Method::Record,
    Method::Setup,
    Method::Play,
    Method::Pause,
    Method::Teardown,
    Method::GetParameter,
];

/// The frames `program` plays: its file, or its path's feed ([`crate::source::Gone`] once the
/// server has forgotten it). The one owner of their count, rate and liveness, which a
/// session's [`Stream`] asks.
pub(crate) fn source_of<'a>(program: &'a Program, publishing: &'a Publishing) -> &'a dyn Source {
    match program {
        Program::File(media) => media.as_ref(),
        Program::Live(path) => match publishing.feed(path) {
            Some(feed) => feed,
            None => &crate::source::Gone,
        },
    }
}

/// An error reply with a short explanation in a text body.
fn error(request: &Request, status: StatusCode, why: impl std::fmt::Display) -> Response {
    let mut response = Response::reply_to(request, status);
    response
        .headers
        .set_typed(&ContentType("text/plain".into()));
    response.body = format!("{why}\r\n").into_bytes();
    response
}

/// Whether a SETUP asks to receive (`mode=record`, or `receive` as some publishers write it;
/// any case, quoted or not).
pub(crate) fn records(request: &Request) -> bool {
    request
        .headers
        .typed::<Transport>()
        .and_then(Result::ok)
        .and_then(|t| t.0.into_iter().next())
        .and_then(|spec| spec.mode().map(str::to_ascii_lowercase))
        .is_some_and(|m| m.contains("record") || m.contains("receive"))
}

/// The answer to `request` (RFC 2326 §10), a publisher's or a viewer's.
pub(crate) fn respond(cx: &mut Context<'_>, request: &Request) -> Answer {
    let session = request.session().and_then(Result::ok).map(|s| s.id);
    // A publisher's session lives with its path, not in the session table.
    let owned = session
        .as_deref()
        .is_some_and(|id| cx.publishing.owns(id, cx.now));
    let published = match request.method {
        // Elsewhere than under live/, the viewers' handlers answer 405 (a file is not
        // published to).
        Method::Announce => match live_path(&request.uri) {
            Some(path) => announce(cx, request, &path),
            None => return respond_viewer(cx, request),
        },
        Method::Setup if records(request) => setup_record(cx, request, session),
        Method::Record if owned || live_path(&request.uri).is_some() => record(cx, session),
        Method::Teardown if owned => {
            let id = session.unwrap_or_default();
            cx.publishing.teardown(&id);
            Ok(Some((id, None)))
        }
        // GStreamer's rtspclientsink PAUSEs before its TEARDOWN: nothing to pause here.
        Method::GetParameter | Method::Options | Method::SetParameter | Method::Pause if owned => {
            Ok(session.map(|id| (id, None)))
        }
        _ => return respond_viewer(cx, request),
    };
    publisher_answer(request, published)
}

/// A publisher's answer: the session (and the transport a SETUP agreed) or why not. Its reply
/// carries no more than that (no `Server`, no session timeout: the publishing side times out
/// on silence, `Config::publish_timeout`).
type Published = Result<Option<(String, Option<TransportSpec>)>, Refusal>;

fn publisher_answer(request: &Request, published: Published) -> Answer {
    let (response, session) = match published {
        Ok(answer) => {
            let mut response = Response::reply_to(request, StatusCode::OK);
            let mut session = None;
            if let Some((id, transport)) = answer {
                response.headers.set_typed(&SessionHeader::new(id.clone()));
                if let Some(transport) = transport {
                    response.headers.set_typed(&Transport(vec![transport]));
                }
                session = Some(id);
            }
            (response, session)
        }
        Err((status, why)) => {
            let mut response = Response::reply_to(request, status);
            response.headers.set("Content-Type", "text/plain");
            response.body = format!("{why}\r\n").into_bytes();
            (response, None)
        }
    };
    Answer {
        response,
        session,
        ends_session: false,
    }
}

/// ANNOUNCE of `live/<name>` (RFC 2326 §10.3): the publisher's SDP for the path.
fn announce(cx: &mut Context<'_>, request: &Request, path: &str) -> Published {
    cx.publishing
        .announce(cx.conn, cx.peer, path, &request.body, cx.now)
        .map(|()| None)
}

/// SETUP with `mode=record` (RFC 2326 §10.4, §12.39): a track of the announced path, joining
/// the publisher's session (or starting it).
fn setup_record(cx: &mut Context<'_>, request: &Request, session: Option<String>) -> Published {
    let target = live_target(&request.uri);
    let asked = request
        .headers
        .typed::<Transport>()
        .and_then(Result::ok)
        .and_then(|t| t.0.into_iter().next());
    let (Some((path, track)), Some(asked)) = (target, asked) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "SETUP for recording needs a live/<name> URL and a Transport".into(),
        ));
    };
    let id = session.unwrap_or_else(|| cx.sessions.new_id());
    let ports = cx.config.server_ports;
    cx.publishing
        .setup(cx.conn, &path, track.as_deref(), &asked, id, ports)
        .map(|(id, transport)| Some((id, Some(transport))))
}

/// RECORD (RFC 2326 §10.11): the publisher's frames go on the air.
fn record(cx: &mut Context<'_>, session: Option<String>) -> Published {
    let Some(id) = session else {
        return Err((
            StatusCode::SESSION_NOT_FOUND,
            "RECORD needs a Session".into(),
        ));
    };
    cx.publishing.record(&id, cx.now).map(|()| Some((id, None)))
}

/// A viewer's request (or anything not a publisher's): the session table's handlers.
fn respond_viewer(cx: &mut Context<'_>, request: &Request) -> Answer {
    let refuse = |response| Answer {
        response,
        session: None,
        ends_session: false,
    };
    if !matches!(request.cseq(), Some(Ok(_))) {
        return refuse(error(
            request,
            StatusCode::BAD_REQUEST,
            "missing or malformed CSeq (RFC 2326 §12.17)",
        ));
    }
    // A named session must exist and belong to this connection (RFC 2326 §12.37).
    let session_id = match request.session() {
        None => None,
        Some(Err(e)) => return refuse(error(request, StatusCode::BAD_REQUEST, e)),
        Some(Ok(header)) => match cx.sessions.get_mut(&header.id) {
            Some(s) if s.conn == cx.conn => {
                s.last_heard = cx.now;
                Some(header.id)
            }
            _ => {
                return refuse(error(
                    request,
                    StatusCode::SESSION_NOT_FOUND,
                    "no such session on this connection",
                ));
            }
        },
    };
    let id = session_id.as_deref();
    let mut ends_session = false;
    let (mut response, session) = match &request.method {
        Method::Options => (options(request), session_id.clone()),
        Method::Describe => (describe(cx, request), session_id.clone()),
        Method::Setup => setup(cx, request, id),
        Method::Play => (play(cx, request, id), session_id.clone()),
        Method::Pause => (pause(cx, request, id), session_id.clone()),
        Method::Teardown => {
            let response = teardown(cx, request, id);
            ends_session = response.status.is_success();
            (response, session_id.clone())
        }
        Method::GetParameter => (
            Response::reply_to(request, StatusCode::OK),
            session_id.clone(),
        ),
        Method::SetParameter if request.body.is_empty() => (
            Response::reply_to(request, StatusCode::OK),
            session_id.clone(),
        ),
        Method::SetParameter => (
            error(
                request,
                StatusCode::PARAMETER_NOT_UNDERSTOOD,
                "no parameters can be set",
            ),
            session_id.clone(),
        ),
        m if m.is_extension() => (
            error(
                request,
                StatusCode::NOT_IMPLEMENTED,
                format_args!("method {} is not implemented", m.as_str()),
            ),
            session_id.clone(),
        ),
        m => {
            let mut r = error(
                request,
                StatusCode::METHOD_NOT_ALLOWED,
                format_args!("{} is not allowed here", m.as_str()),
            );
            r.headers.set_typed(&Public(PUBLIC.to_vec()));
            (r, session_id.clone())
        }
    };
    if let Some(id) = &session
        && response.headers.get(SessionHeader::NAME).is_none()
    {
        let timeout = cx.config.session_timeout.as_secs() as u32;
        response
            .headers
            .set_typed(&SessionHeader::with_timeout(id.clone(), timeout));
    }
    response
        .headers
        .set("Server", concat!("hdstream/", env!("CARGO_PKG_VERSION")));
    Answer {
        response,
        session,
        ends_session,
    }
}

fn options(request: &Request) -> Response {
    let mut response = Response::reply_to(request, StatusCode::OK);
    response.headers.set_typed(&Public(PUBLIC.to_vec()));
    response
}

/// The file or published path a URL names (and the track after it), or the error reply.
fn lookup(cx: &Context<'_>, request: &Request) -> Result<(Program, Option<String>), Response> {
    if let Some((path, track)) = live_target(&request.uri) {
        return match cx.publishing.feed(&path) {
            Some(feed) if feed.is_on_air() => Ok((Program::Live(path), track)),
            _ => Err(error(
                request,
                StatusCode::NOT_FOUND,
                format_args!("nobody is publishing {path}"),
            )),
        };
    }
    match cx.catalogue.lookup(&request.uri) {
        Ok((media, track)) => Ok((Program::File(Arc::clone(media)), track)),
        Err(e @ LookupError::Forbidden) => Err(error(request, StatusCode::FORBIDDEN, e)),
        Err(e @ LookupError::Malformed(_)) => Err(error(request, StatusCode::BAD_REQUEST, e)),
        Err(e @ LookupError::NotFound(_)) => Err(error(request, StatusCode::NOT_FOUND, e)),
    }
}

/// The video track's control in the SDP, appended to the Content-Base.
const TRACK: &str = "trackID=0";
/// The sound track's control (RFC 2326 C.1.1: one per `m=` line).
pub const AUDIO_TRACK: &str = "trackID=1";
/// The captions track's control.
pub const TEXT_TRACK: &str = "trackID=2";

/// The kind of track a control names, if it names one beside the video.
fn track_kind(control: Option<&str>) -> Option<TrackKind> {
    match control? {
        AUDIO_TRACK => Some(TrackKind::Sound),
        TEXT_TRACK => Some(TrackKind::Captions),
        _ => None,
    }
}

/// Whether `program` has a `kind` of track.
fn has_track(cx: &Context<'_>, program: &Program, kind: TrackKind) -> bool {
    match (program, kind) {
        (Program::File(media), TrackKind::Sound) => media.sound.is_some(),
        (Program::File(media), TrackKind::Captions) => media.captions.is_some(),
        (Program::Live(path), kind) => cx
            .publishing
            .feed(path)
            .is_some_and(|f| f.track(kind).is_some()),
    }
}

fn describe(cx: &Context<'_>, request: &Request) -> Response {
    let (program, track) = match lookup(cx, request) {
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
    let (duration, framerate, (width, height)) = match &program {
        Program::File(media) => {
            if let Some(why) = &media.not_ready {
                let how = match media.file.container() {
                    Container::Matroska | Container::Avi => {
                        "encode it again with ffmpeg -c:v mjpeg -pix_fmt yuvj420p -huffman default"
                    }
                    Container::Plain | Container::Course => "convert it with encode_mjpeg --from",
                };
                return error(
                    request,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format_args!(
                        "{} cannot travel as RTP/JPEG (RFC 2435): {why}; {how}",
                        media.name
                    ),
                );
            }
            let stats = media.file.stats();
            (
                Some(media.duration()),
                media.fps,
                (stats.width, stats.height),
            )
        }
        Program::Live(path) => {
            let Some(feed) = cx.publishing.feed(path) else {
                return error(request, StatusCode::NOT_FOUND, "nobody is publishing it");
            };
            (None, feed.fps(), feed.size().unwrap_or((0, 0)))
        }
    };
    let origin_address = local_like(cx.peer);
    let mut sdp = SessionDescription::mjpeg(&MjpegStream {
        session_id: 1,
        session_version: 1,
        origin_address: &origin_address,
        session_name: program.name(),
        control: TRACK,
        duration,
        live: matches!(program, Program::Live(_)),
        framerate,
        width: u32::from(width),
        height: u32::from(height),
        rtx: rtx_offer(cx.config),
    });
    let sound = match &program {
        Program::File(media) => media.sound.as_ref().map(|s| s.format),
        Program::Live(path) => cx.publishing.feed(path).and_then(|f| f.sound_format()),
    };
    if let Some(format) = sound {
        sdp.media.push(sdp::Media::audio(&format, AUDIO_TRACK));
    }
    if has_track(cx, &program, TrackKind::Captions) {
        sdp.media.push(sdp::Media::t140(
            crate::captions::T140_PAYLOAD_TYPE,
            TEXT_TRACK,
        ));
    }
    let mut response = Response::reply_to(request, StatusCode::OK);
    let base = request.uri.trim_end_matches('/');
    response.headers.set_typed(&ContentBase(format!("{base}/")));
    response
        .headers
        .set_typed(&ContentType("application/sdp".into()));
    response.body = sdp.to_string().into_bytes();
    response
}

/// The retransmission the server offers (RFC 4588 §8.1), if any.
fn rtx_offer(config: &Config) -> Option<RtxFormat> {
    (!config.rtx_time.is_zero()).then(|| RtxFormat {
        payload_type: config.rtx_payload_type,
        apt: crate::stream::PAYLOAD_TYPE,
        rtx_time_ms: u32::try_from(config.rtx_time.as_millis()).unwrap_or(u32::MAX),
    })
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
            why = "only RTP/AVP and RTP/AVPF transports";
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

/// SETUP (§10.4): a new session, or a new transport for one not playing. Also returns the
/// session's id.
fn setup(
    cx: &mut Context<'_>,
    request: &Request,
    session_id: Option<&str>,
) -> (Response, Option<String>) {
    let named = session_id.map(str::to_owned);
    let (program, track) = match lookup(cx, request) {
        Ok(found) => found,
        Err(response) => return (response, named),
    };
    if let Some(kind) = track_kind(track.as_deref()) {
        return (setup_track(cx, request, &program, kind, session_id), named);
    }
    let transport = match request.headers.typed::<Transport>() {
        Some(Ok(t)) => t,
        Some(Err(e)) => return (error(request, StatusCode::UNSUPPORTED_TRANSPORT, e), named),
        None => {
            let why = "SETUP needs a Transport header";
            return (
                error(request, StatusCode::UNSUPPORTED_TRANSPORT, why),
                named,
            );
        }
    };
    let used = cx.sessions.channels_in_use(cx.conn, session_id);
    let (delivery, course, spec) = match choose_transport(&transport, cx.peer, &used) {
        Ok(chosen) => chosen,
        Err(why) => {
            return (
                error(request, StatusCode::UNSUPPORTED_TRANSPORT, why),
                named,
            );
        }
    };
    if !course
        && let Some(media) = program.file()
        && let Some(why) = &media.not_ready
    {
        let why = format_args!("{} cannot travel as RTP/JPEG (RFC 2435): {why}", media.name);
        return (
            error(request, StatusCode::UNSUPPORTED_MEDIA_TYPE, why),
            named,
        );
    }
    // SETUP on an existing session changes its transport while it is not playing (§10.4).
    if let Some(id) = session_id {
        let Some(session) = cx.sessions.get(id) else {
            return (
                error(request, StatusCode::SESSION_NOT_FOUND, "no such session"),
                named,
            );
        };
        if session.state == State::Playing {
            let why = "cannot change transport while playing";
            return (
                error(request, StatusCode::METHOD_NOT_VALID_IN_THIS_STATE, why),
                named,
            );
        }
        if !session.program.same(&program) {
            let why = "a session plays one file";
            return (
                error(request, StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED, why),
                named,
            );
        }
        cx.sessions.set_delivery(id, delivery);
        let reply = cx
            .sessions
            .get(id)
            .map(|session| setup_reply(request, cx.config, session, &spec));
        return (
            reply.unwrap_or_else(|| Response::reply_to(request, StatusCode::OK)),
            named,
        );
    }
    if cx.sessions.len() >= cx.config.max_sessions {
        let why = "session limit reached";
        return (error(request, StatusCode::SERVICE_UNAVAILABLE, why), None);
    }
    let id = cx.sessions.new_id();
    let dialect = if course {
        Dialect::Course
    } else {
        Dialect::Standard
    };
    let random = cx.sessions.random();
    let (mtu, looping) = (cx.config.mtu, cx.config.looping);
    if let Program::Live(path) = &program
        && cx.publishing.feed(path).is_none()
    {
        return (error(request, StatusCode::NOT_FOUND, "not published"), None);
    }
    let mut stream = Stream::new(dialect, mtu, looping, random, cx.now);
    if let Some(rtx) =
        rtx_offer(cx.config).filter(|_| !course && matches!(delivery, Delivery::Udp { .. }))
    {
        // NACKs are answered on UDP (over TCP nothing is lost).
        let [ssrc, seq, _] = cx.sessions.random();
        stream.enable_rtx(rtx.payload_type, [ssrc, seq], cx.config.rtx_time);
    }
    let session = Session {
        id: id.clone(),
        conn: cx.conn,
        peer: cx.peer,
        program,
        delivery,
        course,
        state: State::Ready,
        stream,
        last_heard: cx.now,
        next_report: cx.now,
        created: cx.now,
        first_play: None,
        ended: false,
        rtcp_received: 0,
        nacks: 0,
        reported: None,
        rate: crate::tally::Rate::default(),
        control_url: request.uri.clone(),
        tracks: Vec::new(),
    };
    let reply = setup_reply(request, cx.config, &session, &spec);
    cx.sessions.insert(session);
    (reply, Some(id))
}

/// SETUP of a sound (`trackID=1`) or captions (`trackID=2`) track, into the session its video
/// was set up in (RFC 2326 §10.4: tracks join a session by naming it).
fn setup_track(
    cx: &mut Context<'_>,
    request: &Request,
    program: &Program,
    kind: TrackKind,
    session_id: Option<&str>,
) -> Response {
    if !has_track(cx, program, kind) {
        return error(request, StatusCode::NOT_FOUND, "no such track");
    }
    let Some(id) = session_id else {
        let why = "SETUP the video (trackID=0) first, then this track in its session";
        return error(request, StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED, why);
    };
    let transport = match request.headers.typed::<Transport>() {
        Some(Ok(t)) => t,
        Some(Err(e)) => return error(request, StatusCode::UNSUPPORTED_TRANSPORT, e),
        None => {
            let why = "SETUP needs a Transport header";
            return error(request, StatusCode::UNSUPPORTED_TRANSPORT, why);
        }
    };
    let used = cx.sessions.channels_in_use(cx.conn, Some(id));
    let own_video = cx.sessions.get(id).map(|s| s.delivery);
    let used: Vec<u8> = used
        .into_iter()
        .chain(own_video.into_iter().flat_map(|d| match d {
            Delivery::Tcp { rtp, rtcp } => vec![rtp, rtcp],
            Delivery::Udp { .. } => vec![],
        }))
        .collect();
    let (delivery, spec) = match choose_transport(&transport, cx.peer, &used) {
        Ok((_, true, _)) => {
            let why = "the course's transport carries video only";
            return error(request, StatusCode::UNSUPPORTED_TRANSPORT, why);
        }
        Ok((delivery, false, spec)) => (delivery, spec),
        Err(why) => return error(request, StatusCode::UNSUPPORTED_TRANSPORT, why),
    };
    let random = cx.sessions.random();
    let Some(session) = cx.sessions.get(id) else {
        return error(request, StatusCode::SESSION_NOT_FOUND, "no such session");
    };
    if session.state == State::Playing {
        let why = "cannot add a track while playing";
        return error(request, StatusCode::METHOD_NOT_VALID_IN_THIS_STATE, why);
    }
    if !session.program.same(program) {
        let why = "a session plays one file";
        return error(request, StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED, why);
    }
    let stream = match (program, kind) {
        (Program::File(media), TrackKind::Sound) => match &media.sound {
            Some(sound) => {
                let mut stream = AudioStream::new(sound, cx.config.looping, random);
                stream.seek(session.stream.npt(media.as_ref()));
                TrackStream::File(stream)
            }
            None => return error(request, StatusCode::NOT_FOUND, "no such track"),
        },
        (Program::File(media), TrackKind::Captions) => {
            let mut stream = CaptionStream::new(random);
            stream.seek(session.stream.npt(media.as_ref()));
            TrackStream::Captions(stream)
        }
        (Program::Live(_), _) => TrackStream::Live(LiveTrackStream::new(random)),
    };
    let track = Track {
        kind,
        control_url: request.uri.clone(),
        delivery,
        stream,
    };
    let reply = transport_reply(
        request,
        cx.config,
        id,
        delivery,
        track.stream.ssrc(),
        false,
        &spec,
    );
    cx.sessions.set_track(id, track);
    reply
}

fn setup_reply(
    request: &Request,
    config: &Config,
    session: &Session,
    asked: &TransportSpec,
) -> Response {
    transport_reply(
        request,
        config,
        &session.id,
        session.delivery,
        session.stream.ssrc,
        session.course,
        asked,
    )
}

/// The reply to a SETUP: the session, and the transport chosen for one track (RFC 2326
/// §12.39).
fn transport_reply(
    request: &Request,
    config: &Config,
    id: &str,
    delivery: Delivery,
    ssrc: u32,
    course: bool,
    asked: &TransportSpec,
) -> Response {
    let mut response = Response::reply_to(request, StatusCode::OK);
    let timeout = config.session_timeout.as_secs() as u32;
    response
        .headers
        .set_typed(&SessionHeader::with_timeout(id.to_owned(), timeout));
    // The profile asked for is the one answered: AVP, or AVPF (RFC 4585), which GStreamer
    // asks for when the offer says so.
    let profile = |spec: TransportSpec| TransportSpec {
        profile: if asked.is_avpf() { "AVPF" } else { "AVP" }.into(),
        ..spec
    };
    let spec = match delivery {
        Delivery::Udp { rtp, rtcp } => {
            let mut spec = profile(TransportSpec::rtp_avp(asked.lower))
                .with(TransportParam::Unicast)
                .with(TransportParam::ClientPort(PortRange {
                    rtp: rtp.port(),
                    rtcp: rtcp.map(|a| a.port()),
                }))
                .with(TransportParam::ServerPort(PortRange {
                    rtp: config.server_ports.0,
                    rtcp: Some(config.server_ports.1),
                }));
            if course {
                spec = asked.clone();
            }
            spec
        }
        Delivery::Tcp { rtp, rtcp } => profile(TransportSpec::rtp_avp(Some(LowerTransport::Tcp)))
            .with(TransportParam::Unicast)
            .with(TransportParam::Interleaved(ChannelRange {
                rtp,
                rtcp: Some(rtcp),
            })),
    };
    let spec = spec
        .with(TransportParam::Ssrc(ssrc))
        .with(TransportParam::Mode("PLAY".into()));
    response.headers.set_typed(&Transport(vec![spec]));
    response
}

/// The session a method needs, or 455 when none was named (e.g. PLAY before SETUP).
fn need_session<'a>(
    sessions: &'a mut Sessions,
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
    sessions
        .get_mut(id)
        .ok_or_else(|| error(request, StatusCode::SESSION_NOT_FOUND, "no such session"))
}

fn play(cx: &mut Context<'_>, request: &Request, id: Option<&str>) -> Response {
    let (max_speed, now) = (cx.config.max_speed, cx.now);
    let publishing = &*cx.publishing;
    let session = match need_session(cx.sessions, request, id) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let media = match &session.program {
        Program::File(media) => Arc::clone(media),
        Program::Live(path) => return play_live(request, session, publishing.feed(path), now),
    };
    let duration = media.duration();
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
    let source: &dyn Source = media.as_ref();
    if let Some(start) = start {
        session.stream.seek(source, start);
    }
    let npt = session.stream.npt(source);
    session.stream.play(source, speed.unwrap_or(1.0), now);
    let cues = session.program.file().and_then(|m| m.captions.as_deref());
    for track in &mut session.tracks {
        // After a seek every track starts from the video's position; otherwise (a resume, a
        // Speed change) each goes on from where it is, on the same schedule.
        match &mut track.stream {
            TrackStream::File(stream) => {
                if start.is_some() {
                    stream.seek(npt);
                }
                stream.play(speed.unwrap_or(1.0), now);
            }
            TrackStream::Captions(stream) => {
                if start.is_some() {
                    stream.seek(npt);
                }
                stream.play(cues.unwrap_or_default(), speed.unwrap_or(1.0), now);
            }
            TrackStream::Live(_) => {}
        }
    }
    session.state = State::Playing;
    session.ended = false;
    session.first_play.get_or_insert(now);
    let mut response = Response::reply_to(request, StatusCode::OK);
    if let Some(r) = Range::between(session.stream.npt(source), duration) {
        response.headers.set_typed(&r);
    }
    response
        .headers
        .set_typed(&rtp_info(session, source, request));
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

/// PLAY of a live path: from the next frame the publisher sends (`Range: npt=now-`); a Range
/// asked for is answered with that (no seeking in a live stream), a Speed with 1.
fn play_live(
    request: &Request,
    session: &mut Session,
    feed: Option<&crate::live::Feed>,
    now: Instant,
) -> Response {
    let Some(feed) = feed.filter(|f| f.is_on_air()) else {
        return error(
            request,
            StatusCode::NOT_FOUND,
            "nobody is publishing it now",
        );
    };
    session.stream.play(feed, 1.0, now);
    session.stream.join(feed);
    for track in &mut session.tracks {
        if let (TrackStream::Live(stream), Some(packets)) =
            (&mut track.stream, feed.track(track.kind))
        {
            stream.join(packets);
        }
    }
    session.state = State::Playing;
    session.ended = false;
    session.first_play.get_or_insert(now);
    let mut response = Response::reply_to(request, StatusCode::OK);
    response.headers.set_typed(&Range::now());
    response
        .headers
        .set_typed(&rtp_info(session, feed, request));
    if request.headers.get(Speed::NAME).is_some()
        && let Some(one) = Speed::new(1.0)
    {
        response.headers.set_typed(&one);
    }
    response
}

/// `RTP-Info` (RFC 2326 §12.33) after a PLAY: each track's first sequence number and
/// timestamp, the video's first.
fn rtp_info(session: &Session, source: &dyn Source, request: &Request) -> RtpInfo {
    let tracks = session.tracks.iter().map(|t| RtpInfoEntry {
        url: t.control_url.clone(),
        seq: Some(t.stream.next_sequence_number()),
        rtptime: Some(t.stream.next_timestamp()),
    });
    let video = RtpInfoEntry {
        url: play_url(session, request),
        seq: Some(session.stream.next_sequence_number()),
        rtptime: Some(session.stream.next_timestamp(source)),
    };
    RtpInfo(std::iter::once(video).chain(tracks).collect())
}

/// The URL `RTP-Info` names: the track's, as SETUP had it.
fn play_url(session: &Session, request: &Request) -> String {
    if session.control_url.is_empty() {
        request.uri.clone()
    } else {
        session.control_url.clone()
    }
}

fn pause(cx: &mut Context<'_>, request: &Request, id: Option<&str>) -> Response {
    let session = match need_session(cx.sessions, request, id) {
        Ok(s) => s,
        Err(response) => return response,
    };
    session.stream.pause(cx.now);
    for track in &mut session.tracks {
        track.stream.pause(cx.now);
    }
    session.state = State::Ready;
    let mut response = Response::reply_to(request, StatusCode::OK);
    match &session.program {
        Program::Live(_) => response.headers.set_typed(&Range::now()),
        Program::File(media) => {
            if let Some(r) = Range::from_seconds(session.stream.npt(media.as_ref())) {
                response.headers.set_typed(&r);
            }
        }
    }
    response
}

/// TEARDOWN (§10.7): the reply; the core then ends the session.
fn teardown(cx: &Context<'_>, request: &Request, id: Option<&str>) -> Response {
    let Some(id) = id else {
        return error(
            request,
            StatusCode::SESSION_NOT_FOUND,
            "TEARDOWN needs a Session",
        );
    };
    let timeout = cx.config.session_timeout.as_secs() as u32;
    let mut response = Response::reply_to(request, StatusCode::OK);
    response
        .headers
        .set_typed(&SessionHeader::with_timeout(id.to_owned(), timeout));
    response
}

#[cfg(test)]
mod tests;
