//! Writes the users file of `hdstream-server --users`: adds, removes and lists users. Only
//! Digest HA1 values are stored (MD5 and SHA-256 of `name:realm:password`), never passwords.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use hdstream_server::access::Users;

/// Manage the users of `hdstream-server --users FILE`.
///
/// Examples:
///   echo 's3cret' | hdstream-user add users.toml alice --read '*'
///   hdstream-user add users.toml cam1 --publish 'live/cam1' --read 'live/*'
///   hdstream-user add users.toml '*' --read 'public/*'     # anyone, no password
///   hdstream-user add users.toml ops --admin               # may read /api/v1/... and /metrics
///   hdstream-user list users.toml
#[derive(Debug, Parser)]
#[command(name = "hdstream-user", version, verbatim_doc_comment)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add a user, or replace one of the same name. The password is read from the first line of
    /// standard input (asked for when it is a terminal); none for the user "*" (anyone).
    Add {
        /// The users file (made if missing).
        file: PathBuf,
        /// The user's name; "*" is anyone, without credentials.
        name: String,
        /// Paths the user may watch: "*" for all, "dir/*" for everything below dir, or a name.
        #[arg(long, value_name = "PATTERN")]
        read: Vec<String>,
        /// Paths the user may publish to (same patterns).
        #[arg(long, value_name = "PATTERN")]
        publish: Vec<String>,
        /// The admin right: the HTTP port's operations API (/api/v1/paths, /api/v1/sessions)
        /// and Prometheus metrics (/metrics), which show every session and peer address.
        #[arg(long)]
        admin: bool,
        /// The realm of a new file (the HA1 values depend on it).
        #[arg(long, default_value = "hdstream")]
        realm: String,
    },
    /// Remove a user.
    Remove {
        /// The users file.
        file: PathBuf,
        /// The user's name.
        name: String,
    },
    /// List the users and their rights.
    List {
        /// The users file.
        file: PathBuf,
    },
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Add {
            file,
            name,
            read,
            publish,
            admin,
            realm,
        } => {
            let users = if file.exists() {
                Users::load(&file)?
            } else {
                Users {
                    realm,
                    users: Vec::new(),
                }
            };
            if read.is_empty() && publish.is_empty() && !admin {
                bail!(
                    "give the user something to do: --read PATTERN, --publish PATTERN and/or --admin"
                );
            }
            let users = if name == "*" {
                let mut users = users;
                users.users.retain(|u| u.name != "*");
                users.users.push(hdstream_server::access::User {
                    name,
                    md5: None,
                    sha256: None,
                    read,
                    publish,
                    admin,
                });
                users
            } else {
                let password = password()?;
                users
                    .with_user(&name, &password, read, publish)
                    .with_admin(&name, admin)
            };
            write(&file, &users)
        }
        Command::Remove { file, name } => {
            let mut users = Users::load(&file)?;
            let before = users.users.len();
            users.users.retain(|u| u.name != name);
            if users.users.len() == before {
                bail!("{}: no user {name:?}", file.display());
            }
            write(&file, &users)
        }
        Command::List { file } => {
            let users = Users::load(&file)?;
            println!("realm {:?}", users.realm);
            for u in &users.users {
                println!(
                    "{:<16} read {:?} publish {:?}{}",
                    u.name,
                    u.read,
                    u.publish,
                    if u.admin { " admin" } else { "" }
                );
            }
            Ok(())
        }
    }
}

/// The password: the first line of standard input.
fn password() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("empty password");
    }
    Ok(password)
}

/// Writes the file whole (temporary name, then rename), readable by its owner only.
fn write(file: &Path, users: &Users) -> Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, users.to_toml())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(())
}
