//! The subcommands people run by hand, next to the controller: [`status`] reads
//! WetixCredentials, [`refresh`] asks the operator for a refresh now, [`token`] talks to WeTix
//! directly, [`completion`] prints a shell completion script. Each renders its output with pure functions of the data and `now`; the `run`
//! functions only fetch, call those, and print.
//!
//! Exit codes are the same for all of them (see [`Exit`]), and an error prints as one line on
//! stderr: what failed, then each cause once. The user guide, with sample output, is
//! `docs/cli.md`.

pub mod completion;
pub mod refresh;
pub mod status;
pub mod token;

use std::{io::Write, process::ExitCode};

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, and the credential (if any) is Ready.
    Success,
    /// Done, but the outcome is a failure: not Ready, refused by WeTix, the API unreachable.
    Failed,
    /// Nothing was done: bad input, not found, or a wait that timed out. Also clap's code for
    /// a usage error, so scripts see one code for "fix the invocation".
    Usage,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failed => ExitCode::from(1),
            Exit::Usage => ExitCode::from(2),
        }
    }
}

/// An error of a command, with the exit code it ends the process with.
pub trait CommandError: std::error::Error + 'static {
    fn exit(&self) -> Exit;
}

/// Prints a failed command's error chain as one line on stderr, prefixed with the name the
/// binary was invoked by, and turns the outcome into the exit code.
pub fn finish<E: CommandError>(program: &str, outcome: Result<Exit, E>) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("{program}: {}", crate::error_chain::error_chain(&error));
            error.exit().into()
        }
    }
}

/// A Kubernetes client from the usual places: in-cluster config, `KUBECONFIG`,
/// `~/.kube/config`. Ring must already be the process's rustls provider (`main` installs it).
pub async fn kube_client() -> Result<kube::Client, kube::Error> {
    kube::Client::try_default().await
}

/// Writes a command's output to stdout. A closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Whether an API error says the object does not exist.
fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
