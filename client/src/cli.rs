//! What the command-line programs built on the client share (`hdstream-client`,
//! `hdstream-call`): how they log, end, and hand over their report.

use std::fmt::Display;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

/// Runs a program's `run`: logs go to stderr, filtered by `RUST_LOG` or else by
/// `default_filter` (`"warn,hdstream_client=info"`); an error is printed as `name: error`
/// (with its causes, as `{:#}` shows them) and makes exit code 1.
pub fn main<E: Display>(
    name: &str,
    default_filter: &str,
    run: impl FnOnce() -> Result<(), E>,
) -> ExitCode {
    hdstream_common::logs::init(default_filter);
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `report` (its table) to stderr and, when `json` names a file, writes it there as
/// pretty JSON. The error names the file.
pub fn report<R: Display + Serialize>(report: &R, json: Option<&Path>) -> io::Result<()> {
    eprint!("{report}");
    let Some(path) = json else {
        return Ok(());
    };
    let text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}
