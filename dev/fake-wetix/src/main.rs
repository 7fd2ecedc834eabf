//! `fake-wetix`: the stand-in WeTix OAuth server as a process, for people and for kind.
//!
//! ```text
//! FAKE_WETIX_CLIENT_SECRET=s3cret fake-wetix --client shop --access-lifetime-seconds 120
//! ```

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fake_wetix::{FakeWetix, Settings};

/// The environment variable holding the client secret. Never a flag: argv shows up in process
/// listings and in `kubectl describe pod`.
const CLIENT_SECRET_ENV: &str = "FAKE_WETIX_CLIENT_SECRET";

/// Stand-in WeTix OAuth server (POST /auth/token, POST /auth/refresh) for tests and sandboxes.
#[derive(Debug, Parser)]
#[command(name = "fake-wetix", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FAKE_WETIX_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The client id to accept; its secret is read from FAKE_WETIX_CLIENT_SECRET.
    #[arg(long = "client", env = "FAKE_WETIX_CLIENT_ID", value_name = "ID")]
    client: String,
    /// Access-token lifetime (WeTix: 60 days).
    #[arg(long, env = "FAKE_WETIX_ACCESS_LIFETIME_SECONDS", default_value_t = fake_wetix::WETIX_ACCESS_LIFETIME.as_secs())]
    access_lifetime_seconds: u64,
    /// Refresh-token lifetime (WeTix: 365 days).
    #[arg(long, env = "FAKE_WETIX_REFRESH_LIFETIME_SECONDS", default_value_t = fake_wetix::WETIX_REFRESH_LIFETIME.as_secs())]
    refresh_lifetime_seconds: u64,
    /// Issue a new refresh token on every refresh and spend the old one (WeTix does not).
    #[arg(long, env = "FAKE_WETIX_ROTATE_REFRESH_TOKENS")]
    rotate_refresh_tokens: bool,
    /// The `iss` claim of issued tokens.
    #[arg(
        long,
        env = "FAKE_WETIX_ISSUER",
        default_value = "https://oauth.wetix.my"
    )]
    issuer: String,
    /// The `aud` claim of issued tokens.
    #[arg(long, env = "FAKE_WETIX_AUDIENCE", default_value = "wetix-open-api")]
    audience: String,
}

impl Args {
    fn settings(&self) -> Settings {
        Settings {
            access_lifetime: Duration::from_secs(self.access_lifetime_seconds),
            refresh_lifetime: Duration::from_secs(self.refresh_lifetime_seconds),
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Plain text when the output is a file or a pod log.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let secret = match std::env::var(CLIENT_SECRET_ENV) {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            tracing::error!(variable = CLIENT_SECRET_ENV, "client secret not set");
            return ExitCode::FAILURE;
        }
    };

    let wetix = match FakeWetix::start_on(args.listen, args.settings()).await {
        Ok(wetix) => wetix,
        Err(error) => {
            tracing::error!(listen = %args.listen, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    wetix.add_client(&args.client, &secret);
    tracing::info!(
        url = %wetix.url(),
        client_id = %args.client,
        access_lifetime_seconds = args.access_lifetime_seconds,
        refresh_lifetime_seconds = args.refresh_lifetime_seconds,
        rotate_refresh_tokens = args.rotate_refresh_tokens,
        "listening"
    );

    stopped().await;
    tracing::info!("stopping");
    wetix.shutdown();
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C, or on SIGTERM (what Kubernetes sends a pod).
async fn stopped() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_are_wetix_production_on_port_8090() {
        let args = Args::try_parse_from(["fake-wetix", "--client", "shop"]).unwrap();
        assert_eq!(args.listen, "127.0.0.1:8090".parse().unwrap());
        assert_eq!(args.settings(), Settings::default());
    }

    #[test]
    fn flags_set_lifetimes_and_rotation() {
        let args = Args::try_parse_from([
            "fake-wetix",
            "--client=shop",
            "--listen=0.0.0.0:9000",
            "--access-lifetime-seconds=5",
            "--refresh-lifetime-seconds=10",
            "--rotate-refresh-tokens",
        ])
        .unwrap();
        let settings = args.settings();
        assert_eq!(settings.access_lifetime, Duration::from_secs(5));
        assert_eq!(settings.refresh_lifetime, Duration::from_secs(10));
        assert!(settings.rotate_refresh_tokens);
    }

    #[test]
    fn there_is_no_flag_for_the_client_secret() {
        let flags: Vec<String> = Args::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect();
        assert!(flags.iter().all(|f| !f.contains("secret")), "{flags:?}");
    }
}
