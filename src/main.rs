// As in the library (see `lib.rs`): nothing here may panic on input.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::ExitCode;

use wetix_operator::{
    cli::{Cli, ClientEnv, Command},
    commands,
};

// One thread: the controller polls every reconcile on the task that runs it (`controller`), so
// worker threads would only carry the HTTP connections, and each response would cross
// threads to wake its reconcile. At 10,000 credentials one thread used 5.4 MiB less peak RSS
// at the same throughput (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (invocation, cli) = Cli::parse_invoked();
    let program = invocation.display_name();
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Crd => {
            print!("{}", wetix_operator::credential::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Run(args) => match wetix_operator::run::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!(
                    "{program}: {}",
                    wetix_operator::error_chain::error_chain(&err)
                );
                ExitCode::FAILURE
            }
        },
        Command::Status(args) => commands::finish(program, commands::status::run(args).await),
        Command::Refresh(args) => commands::finish(program, commands::refresh::run(args).await),
        Command::Completion { shell } => {
            commands::finish(program, commands::completion::run(shell))
        }
        Command::Token(args) => {
            let env = ClientEnv::from_process();
            commands::finish(program, commands::token::run(args, env).await)
        }
    }
}
