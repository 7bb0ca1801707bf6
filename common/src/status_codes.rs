//! One shape for a protocol's status codes: RTSP 1.0's are HTTP/1.1's and more (RFC 2326
//! §7.1.1), so `rtsp::StatusCode` and `http::StatusCode` are made by the same macro — each a
//! `StatusCode(u16)` of its own module, given its named constants and their reason phrases.

/// `status_codes! { reason: "doc of reason()"; NAME = code, "Reason Phrase"; … }`, in a module
/// that defines `struct StatusCode(u16)`: the constants and `StatusCode::reason`.
macro_rules! status_codes {
    (reason: $reason_doc:literal; $($(#[$doc:meta])* $name:ident = $code:literal, $reason:literal;)*) => {
        impl StatusCode {
            $(
                $(#[$doc])*
                #[doc = concat!("`", $code, " ", $reason, "`")]
                pub const $name: StatusCode = StatusCode($code);
            )*

            #[doc = $reason_doc]
            pub const fn reason(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($reason),)*
                    _ => None,
                }
            }
        }
    };
}
