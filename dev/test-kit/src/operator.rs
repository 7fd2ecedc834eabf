//! How every stack starts the operator: the same `run` flags whether the binary runs as a
//! child process (the tests, the benchmark) or in-process (the sandbox parses them with the
//! binary's own parser).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

/// `run`, with the fake WeTix server as the only allowed `spec.server.url` and the metrics
/// and health endpoints on `metrics`.
pub fn run_args(wetix_url: &str, metrics: SocketAddr) -> Vec<String> {
    [
        "run",
        "--allowed-server-urls",
        wetix_url,
        "--metrics-bind-address",
        &metrics.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The operator binary with `args` and `KUBECONFIG=kubeconfig`, outside any cluster (no
/// in-cluster service variables, no pod name), its output piped and killed when dropped.
///
/// `WETIX_OPERATOR_WRAPPER`, when set, runs it under another program (a profiler, say):
/// `WETIX_OPERATOR_WRAPPER="valgrind --tool=massif"`.
pub fn command(binary: &Path, kubeconfig: &Path, args: &[String]) -> tokio::process::Command {
    let wrapper = std::env::var("WETIX_OPERATOR_WRAPPER").ok();
    let mut parts = wrapper.as_deref().unwrap_or_default().split_whitespace();
    let mut command = match parts.next() {
        Some(program) => {
            let mut command = tokio::process::Command::new(program);
            command.args(parts).arg(binary);
            command
        }
        None => tokio::process::Command::new(binary),
    };
    command
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("POD_NAME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_flags_allow_only_the_fake_server_and_bind_metrics_where_asked() {
        let metrics: SocketAddr = "127.0.0.1:9443".parse().unwrap();
        assert_eq!(
            run_args("http://127.0.0.1:8090", metrics),
            [
                "run",
                "--allowed-server-urls",
                "http://127.0.0.1:8090",
                "--metrics-bind-address",
                "127.0.0.1:9443"
            ]
        );
    }
}
