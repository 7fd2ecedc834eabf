use std::process::ExitCode;

use clap::Parser;
use wetix_operator::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", wetix_operator::credential::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Run(args) => match wetix_operator::run::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("wetix-operator: {}", wetix_operator::run::error_chain(&err));
                ExitCode::FAILURE
            }
        },
    }
}
