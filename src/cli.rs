//! Command line: every flag has a long name and an environment variable, parsed once into
//! typed values. Nothing below this module reads the environment.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "wetix-operator",
    version,
    about = "Keeps WeTix OAuth tokens fresh in Kubernetes Secrets"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller.
    Run(RunArgs),
    /// Print the WetixCredential CRD as YAML (the same bytes as crds/).
    Crd,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Comma-separated namespaces to watch; all namespaces when empty.
    #[arg(long, env = "WETIX_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    pub namespaces: Vec<String>,

    /// Comma-separated base URLs that spec.server.url may use.
    #[arg(long, env = "WETIX_ALLOWED_SERVER_URLS", value_delimiter = ',', num_args = 0..)]
    pub allowed_server_urls: Vec<String>,

    /// Address serving /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "WETIX_METRICS_BIND_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_bind_address: SocketAddr,

    /// Reconcile only while holding the Lease "wetix-operator".
    #[arg(long, env = "WETIX_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,

    /// Namespace of the leader-election Lease; defaults to the pod's namespace.
    #[arg(long, env = "WETIX_LEASE_NAMESPACE", default_value = "wetix-operator")]
    pub lease_namespace: String,

    /// This replica's name in the Lease; defaults to the pod's name.
    #[arg(long, env = "POD_NAME", default_value = "wetix-operator")]
    pub identity: String,

    /// Log format.
    #[arg(long, env = "WETIX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_match_the_contract() {
        let cli = Cli::try_parse_from(["wetix-operator", "run"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert!(args.namespaces.is_empty());
        assert!(args.allowed_server_urls.is_empty());
        assert_eq!(args.metrics_bind_address.to_string(), "0.0.0.0:8080");
        assert!(!args.leader_elect);
        assert_eq!(args.log_format, LogFormat::Text);
    }

    #[test]
    fn lists_are_comma_separated() {
        let cli = Cli::try_parse_from([
            "wetix-operator",
            "run",
            "--namespaces",
            "shop,billing",
            "--allowed-server-urls=https://a.example,https://b.example",
            "--log-format",
            "json",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.namespaces, ["shop", "billing"]);
        assert_eq!(
            args.allowed_server_urls,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(args.log_format, LogFormat::Json);
    }

    #[test]
    fn a_bad_value_names_the_flag() {
        let err =
            Cli::try_parse_from(["wetix-operator", "run", "--log-format", "xml"]).unwrap_err();
        assert!(err.to_string().contains("--log-format"), "{err}");
        let err = Cli::try_parse_from(["wetix-operator", "run", "--metrics-bind-address", "nope"])
            .unwrap_err();
        assert!(err.to_string().contains("--metrics-bind-address"), "{err}");
    }
}
