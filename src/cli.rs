//! Command line: every flag has a long name, parsed once into typed values; the controller's
//! flags also have an environment variable. Nothing below this module reads the environment.
//!
//! The same binary answers as `kubectl wetix` when installed as the kubectl plugin
//! `kubectl-wetix` (a symlink is enough): [`Invocation`] tells the two apart by `argv[0]`.

use std::{ffi::OsString, net::SocketAddr, path::PathBuf};

use clap::{ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use crate::{duration::GoDuration, leader::LEASE_NAME, sensitive::Sensitive};

pub mod selector;

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
    /// Show WetixCredentials: readiness, token expiries, next refresh and failures.
    Status(StatusArgs),
    /// Ask the operator to refresh a credential's tokens now.
    Refresh(RefreshArgs),
    /// Obtain a token pair from WeTix directly, outside a cluster, and print it as JSON.
    #[command(after_help = TOKEN_AFTER_HELP)]
    Token(TokenArgs),
    /// Print a shell completion script (bash, zsh or fish) for wetix-operator.
    #[command(after_help = COMPLETION_AFTER_HELP)]
    Completion {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

/// The shells `completion` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

const COMPLETION_AFTER_HELP: &str = "\
Load it in the current shell, or install it where the shell looks for completions:

    source <(wetix-operator completion bash)
    wetix-operator completion bash > ~/.local/share/bash-completion/completions/wetix-operator
    wetix-operator completion zsh > \"${fpath[1]}/_wetix-operator\"
    wetix-operator completion fish > ~/.config/fish/completions/wetix-operator.fish";

/// Namespace selection shared by the commands that read WetixCredentials. Without either
/// flag, the namespace of the current kubeconfig context is used.
#[derive(Debug, Clone, Args)]
pub struct NamespaceArgs {
    /// Namespace of the WetixCredential(s); defaults to the kubeconfig context's namespace.
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Show one WetixCredential in detail; all of the namespace when omitted.
    #[arg(value_name = "NAME", conflicts_with = "all_namespaces")]
    pub name: Option<String>,

    #[command(flatten)]
    pub namespace: NamespaceArgs,

    /// List WetixCredentials in every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// The time relative times are measured from (RFC 3339); for reproducible output.
    #[arg(long, hide = true, value_name = "TIME")]
    pub now: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table, or a detailed view for one NAME.
    Table,
    /// The status objects with namespace and name, as JSON.
    Json,
    /// The status objects with namespace and name, as YAML.
    Yaml,
}

#[derive(Debug, Clone, Args)]
pub struct RefreshArgs {
    /// The WetixCredential to refresh.
    #[arg(value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub namespace: NamespaceArgs,

    /// Wait until the operator has handled the request, then print the outcome.
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits, as a Go duration.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        requires = "wait"
    )]
    pub timeout: GoDuration,
}

/// Where `token` sends its call: exactly one of `--environment` and `--server-url`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("server").required(true).args(["environment", "server_url"])))]
pub struct TokenArgs {
    /// The WeTix environment.
    #[arg(long, value_enum, ignore_case = true)]
    pub environment: Option<ServerEnvironment>,

    /// A base URL instead of an environment's; https, or http for a loopback host only.
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,

    /// Path of the client-credentials grant.
    #[arg(long, value_name = "PATH", default_value = "/auth/token", value_parser = url_path)]
    pub token_path: String,

    /// Path of the refresh grant.
    #[arg(long, value_name = "PATH", default_value = "/auth/refresh", value_parser = url_path)]
    pub refresh_path: String,

    /// Use the refresh grant with the refresh token in this file, instead of client credentials.
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,

    /// File with `client_id=...` and `client_secret=...` lines; wins over the environment.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
}

const TOKEN_AFTER_HELP: &str = "\
The client id and secret come from --client-secret-file, or else from the environment
variables WETIX_CLIENT_ID and WETIX_CLIENT_SECRET; never from the command line.

The file has one `key=value` per line, the format of `kubectl create secret generic
--from-env-file`, so the same file makes the Secret a WetixCredential refers to:

    client_id=shop-client
    client_secret=...

Blank lines and lines starting with # are ignored; spaces around keys and values are trimmed.
The tokens are printed to stdout, as JSON; nothing secret is printed anywhere else.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServerEnvironment {
    #[value(name = "Sandbox")]
    Sandbox,
    #[value(name = "Production")]
    Production,
}

/// A grant path as the CRD accepts it: starts with `/`, no whitespace.
fn url_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') && !value.contains(char::is_whitespace) {
        Ok(value.to_owned())
    } else {
        Err("expected a path starting with / and without spaces".to_owned())
    }
}

/// Environment variable holding the client id for `token`.
pub const CLIENT_ID_ENV: &str = "WETIX_CLIENT_ID";
/// Environment variable holding the client secret for `token`.
pub const CLIENT_SECRET_ENV: &str = "WETIX_CLIENT_SECRET";

/// The client id and secret for `token` from the environment, read here at the edge. They are
/// not clap arguments on purpose: a secret on the command line shows in `ps` and shell history.
#[derive(Debug, Clone, Default)]
pub struct ClientEnv {
    pub client_id: Option<String>,
    pub client_secret: Option<Sensitive>,
}

impl ClientEnv {
    /// Reads `WETIX_CLIENT_ID` and `WETIX_CLIENT_SECRET`; unset or not UTF-8 reads as absent.
    pub fn from_process() -> Self {
        Self {
            client_id: std::env::var(CLIENT_ID_ENV).ok(),
            client_secret: std::env::var(CLIENT_SECRET_ENV).ok().map(Sensitive::from),
        }
    }
}

/// The file name under which kubectl finds the binary as its `wetix` plugin.
pub const KUBECTL_PLUGIN: &str = "kubectl-wetix";

/// How the binary was started, from the file name of `argv[0]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// As `wetix-operator` (or under any other name).
    Operator,
    /// As `kubectl-wetix`, directly or through `kubectl wetix`.
    KubectlPlugin,
}

impl Invocation {
    /// Tells the plugin from the operator by `argv[0]`'s file name (`.exe` ignored).
    pub fn from_argv0(argv0: Option<&std::ffi::OsStr>) -> Self {
        let file_name = argv0
            .map(std::path::Path::new)
            .and_then(|p| p.file_name())
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let stem = file_name.strip_suffix(".exe").unwrap_or(file_name);
        if stem == KUBECTL_PLUGIN {
            Self::KubectlPlugin
        } else {
            Self::Operator
        }
    }

    /// The name users typed, for usage lines and error messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Operator => "wetix-operator",
            Self::KubectlPlugin => "kubectl wetix",
        }
    }

    /// The clap command, named after this invocation so help and usage match what was typed.
    pub fn command(self) -> clap::Command {
        let command = Cli::command();
        match self {
            Self::Operator => command.bin_name("wetix-operator"),
            Self::KubectlPlugin => command.name(KUBECTL_PLUGIN).bin_name("kubectl wetix"),
        }
    }
}

impl Cli {
    /// Parses `args` (`argv[0]` first) under the name `argv[0]` was invoked by.
    pub fn try_parse_invoked<I, T>(args: I) -> Result<(Invocation, Self), clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let invocation = Invocation::from_argv0(args.first().map(OsString::as_os_str));
        let mut command = invocation.command();
        let matches = command.try_get_matches_from_mut(args)?;
        let cli = Self::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        if let Command::Run(args) = &cli.command
            && let Some(why) = args.refusal()
        {
            let kind = clap::error::ErrorKind::MissingRequiredArgument;
            return Err(match command.find_subcommand_mut("run") {
                Some(run) => run.error(kind, why),
                None => command.error(kind, why),
            });
        }
        Ok((invocation, cli))
    }

    /// Parses the process's arguments; on a usage error prints it and exits with 2.
    pub fn parse_invoked() -> (Invocation, Self) {
        Self::try_parse_invoked(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Comma-separated namespaces to watch; all namespaces when empty.
    #[arg(long, env = "WETIX_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    pub namespaces: Vec<String>,

    /// Comma-separated base URLs that spec.server.url may use.
    #[arg(long, env = "WETIX_ALLOWED_SERVER_URLS", value_delimiter = ',', num_args = 0..)]
    pub allowed_server_urls: Vec<String>,

    /// Address serving /metrics, /healthz and /readyz (port 0: any free port, named in the
    /// log).
    #[arg(
        long,
        env = "WETIX_METRICS_BIND_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_bind_address: SocketAddr,

    /// Reconcile only the WetixCredentials whose labels match this Kubernetes label selector
    /// (`shard=a`, `shard!=a`, `shard in (a,b)`, `shard notin (a)`, `shard`, `!shard`, joined
    /// by commas). Several operators on disjoint selectors share a cluster; with
    /// --leader-elect each needs a --lease-name of its own.
    #[arg(
        long,
        env = "WETIX_CREDENTIAL_SELECTOR",
        value_name = "SELECTOR",
        value_parser = selector::parse
    )]
    pub credential_selector: Option<kube::core::Selector>,

    /// Reconcile only while holding the Lease named by --lease-name.
    #[arg(long, env = "WETIX_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,

    /// Name of the leader-election Lease: one per group of replicas, so one per
    /// --credential-selector.
    #[arg(
        long,
        env = "WETIX_LEASE_NAME",
        value_name = "NAME",
        default_value = LEASE_NAME,
        value_parser = lease_name
    )]
    pub lease_name: String,

    /// Namespace of the leader-election Lease. The manifests in deploy/ set
    /// WETIX_LEASE_NAMESPACE to the pod's namespace.
    #[arg(long, env = "WETIX_LEASE_NAMESPACE", default_value = "wetix-operator")]
    pub lease_namespace: String,

    /// This replica's name in the Lease and in its Events. The manifests in deploy/ set
    /// POD_NAME to the pod's name; with --leader-elect it must be set and unique per replica.
    #[arg(long, env = "POD_NAME", default_value = DEFAULT_IDENTITY)]
    pub identity: String,

    /// Log format.
    #[arg(long, env = "WETIX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The identity of a replica started without `--identity` or `POD_NAME`: enough to name the
/// one replica in its Events, refused with `--leader-elect`.
pub const DEFAULT_IDENTITY: &str = "wetix-operator";

impl RunArgs {
    /// Why `run` refuses these flags, if it does. With `--leader-elect` the identity is the
    /// replica's name in the Lease: two replicas with the default name (or none) would both
    /// take the Lease for their own and reconcile at once, so each needs a name of its own.
    /// And a shard (`--credential-selector`) needs a Lease of its own: on the default one,
    /// every shard's replicas would compete for one Lease, and all shards but one would sit
    /// idle with their credentials unrenewed.
    pub fn refusal(&self) -> Option<String> {
        if !self.leader_elect {
            return None;
        }
        let got = match self.identity.trim() {
            "" => Some("an empty one".to_owned()),
            DEFAULT_IDENTITY => Some(format!("the default {DEFAULT_IDENTITY:?}")),
            _ => None,
        };
        if let Some(got) = got {
            return Some(format!(
                "--leader-elect needs an identity unique to each replica, got {got}: set \
                 --identity or POD_NAME (the manifests in deploy/ set POD_NAME to the pod's name)"
            ));
        }
        if self.credential_selector().is_some() && self.lease_name == LEASE_NAME {
            return Some(format!(
                "--credential-selector with --leader-elect needs a --lease-name of its own, not \
                 the default {LEASE_NAME:?}: operators of different selectors on one Lease \
                 would take turns, and all but one would leave their credentials unrenewed"
            ));
        }
        None
    }

    /// The selector of `--credential-selector`, unless it selects every credential (empty).
    pub fn credential_selector(&self) -> Option<&kube::core::Selector> {
        self.credential_selector
            .as_ref()
            .filter(|selector| !selector.selects_all())
    }
}

/// A Lease name as the API server accepts one: a DNS-1123 subdomain.
fn lease_name(value: &str) -> Result<String, String> {
    crate::validate::dns_subdomain(value)
        .map(|()| value.to_owned())
        .map_err(|why| format!("not a valid Lease name: {why}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[cfg(test)]
mod tests;
