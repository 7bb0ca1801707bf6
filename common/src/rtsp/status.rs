//! Status codes and reason phrases, RFC 2326 §7.1.1 and §11.

use std::fmt;

/// A three-digit status code (RFC 2326 §7.1.1), 100..=999.
///
/// The associated constants are the codes RFC 2326 §7.1.1 lists; [`StatusCode::reason`] gives
/// their reason phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

status_codes! {
    reason: "The reason phrase RFC 2326 §7.1.1 gives this code, if it lists it.";
    CONTINUE = 100, "Continue";
    OK = 200, "OK";
    CREATED = 201, "Created";
    LOW_ON_STORAGE_SPACE = 250, "Low on Storage Space";
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    MOVED_TEMPORARILY = 302, "Moved Temporarily";
    SEE_OTHER = 303, "See Other";
    NOT_MODIFIED = 304, "Not Modified";
    USE_PROXY = 305, "Use Proxy";
    BAD_REQUEST = 400, "Bad Request";
    UNAUTHORIZED = 401, "Unauthorized";
    PAYMENT_REQUIRED = 402, "Payment Required";
    FORBIDDEN = 403, "Forbidden";
    NOT_FOUND = 404, "Not Found";
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    REQUEST_TIMEOUT = 408, "Request Time-out";
    GONE = 410, "Gone";
    LENGTH_REQUIRED = 411, "Length Required";
    PRECONDITION_FAILED = 412, "Precondition Failed";
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large";
    REQUEST_URI_TOO_LARGE = 414, "Request-URI Too Large";
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    PARAMETER_NOT_UNDERSTOOD = 451, "Parameter Not Understood";
    CONFERENCE_NOT_FOUND = 452, "Conference Not Found";
    NOT_ENOUGH_BANDWIDTH = 453, "Not Enough Bandwidth";
    SESSION_NOT_FOUND = 454, "Session Not Found";
    METHOD_NOT_VALID_IN_THIS_STATE = 455, "Method Not Valid in This State";
    HEADER_FIELD_NOT_VALID_FOR_RESOURCE = 456, "Header Field Not Valid for Resource";
    INVALID_RANGE = 457, "Invalid Range";
    PARAMETER_IS_READ_ONLY = 458, "Parameter Is Read-Only";
    AGGREGATE_OPERATION_NOT_ALLOWED = 459, "Aggregate operation not allowed";
    ONLY_AGGREGATE_OPERATION_ALLOWED = 460, "Only aggregate operation allowed";
    UNSUPPORTED_TRANSPORT = 461, "Unsupported transport";
    DESTINATION_UNREACHABLE = 462, "Destination unreachable";
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error";
    NOT_IMPLEMENTED = 501, "Not Implemented";
    BAD_GATEWAY = 502, "Bad Gateway";
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    GATEWAY_TIMEOUT = 504, "Gateway Time-out";
    RTSP_VERSION_NOT_SUPPORTED = 505, "RTSP Version not supported";
    OPTION_NOT_SUPPORTED = 551, "Option not supported";
}

impl StatusCode {
    /// A status code from its number; `None` outside 100..=999 (§7.1.1: three digits).
    pub const fn new(code: u16) -> Option<Self> {
        if code >= 100 && code <= 999 {
            Some(Self(code))
        } else {
            None
        }
    }

    /// The code as a number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The RFC's reason phrase, or a generic one for the code's class (§7.1.1: a client must
    /// treat an unknown code like the x00 code of its class).
    pub const fn canonical_reason(self) -> &'static str {
        match self.reason() {
            Some(reason) => reason,
            None => match self.0 / 100 {
                1 => "Informational",
                2 => "Success",
                3 => "Redirection",
                4 => "Client Error",
                5 => "Server Error",
                _ => "Unknown",
            },
        }
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        self.0 / 100 == 2
    }

    /// 4xx.
    pub const fn is_client_error(self) -> bool {
        self.0 / 100 == 4
    }

    /// 5xx.
    pub const fn is_server_error(self) -> bool {
        self.0 / 100 == 5
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.canonical_reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_a_server_answers_have_the_rfc_reason_phrases() {
        let expected = [
            (200, "OK"),
            (400, "Bad Request"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (406, "Not Acceptable"),
            (413, "Request Entity Too Large"),
            (451, "Parameter Not Understood"),
            (453, "Not Enough Bandwidth"),
            (454, "Session Not Found"),
            (455, "Method Not Valid in This State"),
            (457, "Invalid Range"),
            (459, "Aggregate operation not allowed"),
            (461, "Unsupported transport"),
            (462, "Destination unreachable"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (505, "RTSP Version not supported"),
        ];
        for (code, reason) in expected {
            let status = StatusCode::new(code).unwrap();
            assert_eq!(status.reason(), Some(reason), "{code}");
            assert_eq!(status.to_string(), format!("{code} {reason}"));
        }
        assert_eq!(StatusCode::SESSION_NOT_FOUND.as_u16(), 454);
    }

    #[test]
    fn codes_are_three_digits_and_unknown_ones_fall_back_to_their_class() {
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(1000), None);
        let odd = StatusCode::new(499).unwrap();
        assert_eq!(odd.reason(), None);
        assert_eq!(odd.canonical_reason(), "Client Error");
        assert!(odd.is_client_error() && !odd.is_success() && !odd.is_server_error());
        assert!(StatusCode::OK.is_success());
        assert!(StatusCode::NOT_IMPLEMENTED.is_server_error());
    }
}
