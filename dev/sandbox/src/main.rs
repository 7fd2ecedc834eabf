//! `cargo run -p wetix-sandbox`: an in-memory Kubernetes API, a fake WeTix server and the
//! operator in one process, a credential applied, and its tokens watched as they renew.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
    time::Duration,
};

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wetix_sandbox::{Options, operator_log};

/// Run the operator against an in-memory cluster and a fake WeTix server, and watch a
/// credential's tokens renew. Needs no cluster, container runtime or network.
#[derive(Debug, Parser)]
#[command(name = "wetix-sandbox")]
struct Cli {
    /// Lifetime of the access tokens the fake WeTix server issues. Renewal times are whole
    /// seconds, so below about 5 s the first renewal may follow the issue within a second.
    #[arg(long, env = "WETIX_SANDBOX_ACCESS_LIFETIME", value_name = "SECONDS",
          default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    access_lifetime: u64,

    /// Lifetime of the refresh tokens the fake WeTix server issues.
    #[arg(long, env = "WETIX_SANDBOX_REFRESH_LIFETIME", value_name = "SECONDS",
          default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    refresh_lifetime: u64,

    /// Stop after this many renewals of the access token.
    #[arg(
        long,
        env = "WETIX_SANDBOX_RENEWALS",
        default_value_t = 2,
        conflicts_with = "forever"
    )]
    renewals: u32,

    /// Keep running until Ctrl-C.
    #[arg(long, env = "WETIX_SANDBOX_FOREVER")]
    forever: bool,

    /// Directory for the kubeconfig, the applied manifests and the operator log.
    #[arg(long, env = "WETIX_SANDBOX_DIR", default_value = ".sandbox")]
    dir: PathBuf,

    /// Port of the Kubernetes API on 127.0.0.1; 0 picks a free one.
    #[arg(long, env = "WETIX_SANDBOX_API_PORT", default_value_t = 0)]
    api_port: u16,
}

impl Cli {
    fn options(&self) -> Options {
        Options {
            dir: self.dir.clone(),
            access_lifetime: Duration::from_secs(self.access_lifetime),
            refresh_lifetime: Duration::from_secs(self.refresh_lifetime),
            renewals: (!self.forever).then_some(self.renewals),
            api_address: SocketAddr::from((Ipv4Addr::LOCALHOST, self.api_port)),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Cli::parse().options();
    if let Err(error) = std::fs::create_dir_all(&options.dir)
        .and_then(|()| operator_log::install(&options.dir, log_filter()))
    {
        eprintln!(
            "sandbox failed: setting up {}: {error}",
            options.dir.display()
        );
        return ExitCode::FAILURE;
    }
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: run until the renewals are seen.
            std::future::pending::<()>().await;
        }
    };
    match wetix_sandbox::run(&options, &mut std::io::stdout(), ctrl_c).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nsandbox failed: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            eprintln!(
                "operator log: {}",
                options.dir.join(operator_log::FILE).display()
            );
            ExitCode::FAILURE
        }
    }
}

/// RUST_LOG when set, else `info`.
fn log_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn forever_runs_without_a_renewal_limit() {
        let cli = Cli::try_parse_from(["wetix-sandbox", "--forever"]).unwrap();
        assert_eq!(cli.options().renewals, None);
        let cli = Cli::try_parse_from(["wetix-sandbox"]).unwrap();
        assert_eq!(cli.options().renewals, Some(2));
        assert_eq!(cli.options().access_lifetime, Duration::from_secs(20));
    }
}
