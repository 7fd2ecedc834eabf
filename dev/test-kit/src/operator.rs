//! How every stack starts the operator: the same `run` flags whether the binary runs as a
//! child process (the tests, the benchmark) or in-process (the sandbox parses them with the
//! binary's own parser).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::process::Stdio;

/// `--metrics-bind-address` for a child operator: any free loopback port, chosen by the
/// operator when it binds and read back from its log with [`metrics_address_in`]. A port
/// picked free beforehand can be taken by any outgoing connection before the operator binds.
pub const ANY_LOOPBACK_PORT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// The address the operator's log says it serves /metrics on, once the line is there.
pub fn metrics_address_in(logs: &str) -> Option<SocketAddr> {
    logs.lines()
        .filter(|line| line.contains("serving /metrics"))
        .find_map(|line| {
            let plain = without_colours(line);
            let (_, after) = plain.split_once("address=")?;
            after.split_whitespace().next()?.parse().ok()
        })
}

/// Waits up to `within` for `operator`'s log to name the address it serves /metrics on.
///
/// # Panics
/// If the log does not name it in time; the message carries the log so far.
pub async fn metrics_address(operator: &crate::Process, within: std::time::Duration) -> SocketAddr {
    match operator.wait_log_for(metrics_address_in, within).await {
        Some(address) => address,
        None => panic!(
            "the operator never logged its metrics address:\n{}",
            operator.logs()
        ),
    }
}

/// `line` without its ANSI escape sequences (`ESC [ ... letter`), as the text log colours
/// field names even when piped.
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

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
    fn the_metrics_address_is_read_from_the_plain_or_coloured_start_line() {
        let coloured = "\u{1b}[2m2026-12-02T05:23:05Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \
            \u{1b}[2mwetix_operator::run\u{1b}[0m\u{1b}[2m:\u{1b}[0m serving /metrics, /healthz \
            and /readyz \u{1b}[3maddress\u{1b}[0m\u{1b}[2m=\u{1b}[0m127.0.0.1:40123\n";
        let plain = "INFO wetix_operator::run: serving /metrics, /healthz and /readyz \
            address=127.0.0.1:8080\nINFO starting namespaces=[]\n";
        let cases: [(&str, Option<SocketAddr>); 4] = [
            (coloured, Some("127.0.0.1:40123".parse().unwrap())),
            (plain, Some("127.0.0.1:8080".parse().unwrap())),
            ("INFO starting namespaces=[] address=127.0.0.1:1\n", None),
            (
                "INFO serving /metrics, /healthz and /readyz address=not-an-address\n",
                None,
            ),
        ];
        for (logs, want) in cases {
            assert_eq!(metrics_address_in(logs), want, "{logs:?}");
        }
    }

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
