//! The three pieces, started in this process: the Kubernetes API emulator with the CRD, the fake
//! WeTix server with the sandbox's client (both as the tests start them, through the workspace's
//! test kit), and the operator itself, with the flags the tests run its binary with.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clap::{CommandFactory, FromArgMatches};
use fake_wetix::FakeWetix;
use futures::FutureExt;
use kube_emulator::Emulator;
use tokio::{sync::oneshot, task::JoinHandle};
use wetix_operator::{
    cli::{Cli, Command, RunArgs},
    credential::WetixCredential,
    oauth::HttpTokenIssuer,
    run::RunError,
};
use wetix_test_kit::{net, operator, standins, tls};

use crate::{Options, SandboxError, manifests};

/// How long the operator may take to finish in-flight reconciles once asked to stop.
pub const OPERATOR_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything running. The emulator and the fake server stop when dropped; the operator stops
/// with [`Stack::stop`].
pub struct Stack {
    pub emulator: Emulator,
    pub wetix: FakeWetix,
    /// A client for the emulator, as a user's kubeconfig would give.
    pub client: kube::Client,
    pub metrics_address: SocketAddr,
    operator: Option<Operator>,
}

struct Operator {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), RunError>>,
}

impl Stack {
    pub async fn start(options: &Options) -> Result<Stack, SandboxError> {
        // One TLS crypto provider for kube and reqwest, as the operator's own `run` does.
        tls::install_crypto_provider();

        let crd = serde_json::to_value(<WetixCredential as kube::CustomResourceExt>::crd())
            .expect("the CRD is plain data and always serializes");
        let emulator = standins::start_emulator(options.api_address, [crd])
            .await
            .map_err(|source| SandboxError::StartEmulator {
                address: options.api_address,
                source,
            })?;

        let lifetimes = standins::lifetimes(options.access_lifetime, options.refresh_lifetime);
        let wetix =
            standins::start_wetix(lifetimes, manifests::CLIENT_ID, manifests::CLIENT_SECRET)
                .await
                .map_err(SandboxError::StartWetix)?;

        let client = standins::emulator_client(&emulator, manifests::NAMESPACE)
            .map_err(SandboxError::KubeClient)?;

        let metrics_address = net::free_loopback_address().map_err(SandboxError::FreePort)?;
        let args = run_args(&wetix.url(), metrics_address);
        let issuer = Arc::new(HttpTokenIssuer::new().map_err(SandboxError::Issuer)?);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = stopped.map(|_| ()).boxed();
        let task = tokio::spawn(wetix_operator::run::run_with(
            args,
            wetix_operator::api_client::Clients::one(client.clone()),
            issuer,
            shutdown,
        ));

        Ok(Stack {
            emulator,
            wetix,
            client,
            metrics_address,
            operator: Some(Operator { stop, task }),
        })
    }

    /// Whether the operator has stopped (only ever on its own before [`Stack::stop`]).
    pub fn operator_exited(&self) -> bool {
        self.operator
            .as_ref()
            .is_none_or(|op| op.task.is_finished())
    }

    /// Completes the operator's shutdown future and waits for it to finish. An operator that
    /// had already stopped on its own reports why.
    pub async fn stop(&mut self) -> Result<(), SandboxError> {
        let Some(Operator { stop, task }) = self.operator.take() else {
            return Ok(());
        };
        let exited_early = task.is_finished();
        let _ = stop.send(());
        let result = tokio::time::timeout(OPERATOR_STOP_TIMEOUT, task)
            .await
            .map_err(|_| SandboxError::OperatorStuck(OPERATOR_STOP_TIMEOUT))?
            .map_err(|_| SandboxError::OperatorPanicked)?;
        match result {
            Err(error) => Err(SandboxError::OperatorFailed(error)),
            Ok(()) if exited_early => Err(SandboxError::OperatorExitedQuietly),
            Ok(()) => Ok(()),
        }
    }
}

/// The operator's flags, parsed by `wetix-operator run`'s own parser so the sandbox gets the
/// binary's defaults: every namespace, and only the fake server allowed as a `spec.server.url`.
/// The flags' environment variables are switched off, so a `WETIX_*` variable left in the
/// shell cannot change the sandbox.
fn run_args(wetix_url: &str, metrics_address: SocketAddr) -> RunArgs {
    let command = Cli::command().mut_subcommand("run", |run| {
        let ids: Vec<clap::Id> = run
            .get_arguments()
            .map(|arg| arg.get_id().clone())
            .collect();
        ids.into_iter()
            .fold(run, |run, id| run.mut_arg(id, |arg| arg.env(None)))
    });
    let argv = std::iter::once("wetix-operator".to_owned())
        .chain(operator::run_args(wetix_url, metrics_address));
    let matches = command
        .try_get_matches_from(argv)
        .expect("the sandbox's operator flags are valid");
    match Cli::from_arg_matches(&matches).map(|cli| cli.command) {
        Ok(Command::Run(args)) => args,
        other => unreachable!("parsed a run command, got {other:?}"),
    }
}
