//! The programs' and tests' log filter: `RUST_LOG` as a list of `target=level` directives
//! (`info`, `warn,hdstream_client=debug`), read once when a program starts.
//!
//! tracing-subscriber's `Targets` does this without the regular-expression engine its
//! `EnvFilter` builds (`regex-automata` and `regex-syntax`: ~50 s of a cold build on the
//! project's 2-core machine, for span and field filters nobody used). The one place in this
//! crate that reads the environment: a process's set-up, not a protocol's.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;

/// The filter `RUST_LOG` names, else `default` (also when `RUST_LOG` does not parse: the
/// reason goes to stderr, since no subscriber is installed yet to log it).
pub fn filter(default: &str) -> Targets {
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => parse(&spec).unwrap_or_else(|e| {
            eprintln!("RUST_LOG={spec:?} is not a list of target=level ({e}); using {default:?}");
            parse(default).unwrap_or_default()
        }),
        _ => parse(default).unwrap_or_default(),
    }
}

/// `spec` as directives: `level`, `target`, or `target=level`, separated by commas.
pub fn parse(spec: &str) -> Result<Targets, String> {
    spec.parse::<Targets>().map_err(|e| e.to_string())
}

/// Installs the program's logger: formatted lines on stderr (coloured on a terminal), filtered
/// by [`filter`]`(default)` alone (the formatter's own ceiling, `INFO` unless told, is lifted:
/// `RUST_LOG=hdstream_server::driver=debug` must reach the debug lines).
pub fn init(default: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(filter(default))
        .init();
}

/// A test's logger: lines to the test harness's captured output (shown when the test fails),
/// filtered by [`filter`]`(default)`; a second call in one process is a no-op.
pub fn init_for_test(default: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(false)
        .with_test_writer()
        .finish()
        .with(filter(default))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn a_default_level_and_a_target_of_its_own() {
        let t = parse("warn,hdstream_client=debug").unwrap();
        assert!(t.would_enable("hdstream_client::pipeline", &Level::DEBUG));
        assert!(!t.would_enable("hdstream_server", &Level::INFO));
        assert!(t.would_enable("hdstream_server", &Level::WARN));
        assert_eq!(
            parse("off").unwrap().default_level(),
            Some(LevelFilter::OFF)
        );
    }

    #[test]
    fn a_module_can_be_more_verbose_than_the_default() {
        let t = parse("info,hdstream_server::driver=debug").unwrap();
        assert!(t.would_enable("hdstream_server::driver", &Level::DEBUG));
        assert!(!t.would_enable("hdstream_server::core", &Level::DEBUG));
    }

    #[test]
    fn span_filters_and_unknown_levels_are_refused() {
        assert!(parse("[span{a=1}]=debug").is_err());
        assert!(parse("hdstream_server=loud").is_err());
    }
}
