//! The everyday subcommands (`status`, `refresh`, `token`, and the `kubectl-wetix` plugin name),
//! run as the real binary against a Kubernetes API (the real one and the emulator, see
//! `support::cluster`) and the fake WeTix server. Everything listens on loopback; every child
//! process and every wait is bounded in time.
//!
//! `status -A` shows every namespace, so on the real server these tests use a control plane of
//! their own and take turns, each starting from no credentials at all.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use fake_wetix::{FakeWetix, Settings};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use kube_emulator::Emulator;
use serde_json::{Value, json};
use support::{Server, control_plane, crd, on_both};
use wetix_operator::credential::WetixCredential;
use wetix_test_kit::{TempDir, standins, tls};

const NS: &str = "shop";

on_both!(
    status_prints_a_table_per_namespace_or_across_all,
    status_of_one_name_shows_the_detail_with_the_ready_message,
    status_prints_json_and_yaml_for_scripts,
    an_unknown_credential_exits_2_with_a_clear_message,
    bad_flags_exit_2_and_name_the_flag,
    refresh_wait_reports_the_outcome_once_the_operator_handles_the_request,
    refresh_wait_exits_1_when_the_handled_request_left_it_not_ready,
    refresh_without_wait_only_sets_the_annotation_and_a_wait_times_out_with_2,
    the_kubectl_wetix_symlink_answers_as_a_kubectl_plugin,
);
const CLIENT_ID: &str = "shop-client";
const CLIENT_SECRET: &str = "cl1ent-s3cret-value";
/// The `--now` every table is rendered at, so relative times are stable.
const NOW: &str = "2026-12-16T10:00:00Z";
/// No child process or wait in these tests runs longer than this.
const BOUND: Duration = Duration::from_secs(30);

/// A Kubernetes API with the CRD, a kubeconfig for it, and a client for the test's own writes.
struct Cluster {
    _emulator: Option<Emulator>,
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
    client: Client,
    dir: TempDir,
    kubeconfig: PathBuf,
}

/// On the real server, one test at a time.
static REAL_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Cluster {
    async fn start(server: Server) -> Self {
        tls::install_crypto_provider();
        let dir = TempDir::new("wetix-cli");
        match server {
            Server::Emulator => {
                let emulator = standins::start_emulator(([127, 0, 0, 1], 0).into(), [crd()])
                    .await
                    .expect("emulator starts");
                let client = standins::emulator_client(&emulator, NS).unwrap();
                let kubeconfig = dir.write("kubeconfig", &emulator.kubeconfig_yaml(NS));
                Self {
                    _emulator: Some(emulator),
                    _turn: None,
                    client,
                    dir,
                    kubeconfig,
                }
            }
            Server::Real => {
                let plane = tokio::task::spawn_blocking(control_plane::private)
                    .await
                    .unwrap()
                    .unwrap_or_else(|why| panic!("the real control plane is not available: {why}"));
                let turn = REAL_TURN.lock().await;
                let admin = plane.admin_kubeconfig(NS);
                let client = support::cluster::client_from(&admin).await;
                let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
                    Api::all(client.clone());
                for namespace in [NS, "pay"] {
                    let _ = namespaces
                        .create(
                            &PostParams::default(),
                            &serde_json::from_value(json!({"metadata": {"name": namespace}}))
                                .unwrap(),
                        )
                        .await;
                    Api::<WetixCredential>::namespaced(client.clone(), namespace)
                        .delete_collection(&Default::default(), &Default::default())
                        .await
                        .expect("credentials of the last test deleted");
                }
                let kubeconfig = dir.write("kubeconfig", &admin);
                Self {
                    _emulator: None,
                    _turn: Some(turn),
                    client,
                    dir,
                    kubeconfig,
                }
            }
        }
    }

    fn api(&self, namespace: &str) -> Api<WetixCredential> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates a credential and sets its status through the status subresource.
    async fn credential(&self, namespace: &str, name: &str, status: Value) {
        let credential: WetixCredential = serde_json::from_value(json!({
            "apiVersion": "wetix.my/v1alpha1",
            "kind": "WetixCredential",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "server": {"environment": "Sandbox"},
                "clientSecretRef": {"name": "wetix-client"}
            }
        }))
        .unwrap();
        let api = self.api(namespace);
        api.create(&PostParams::default(), &credential)
            .await
            .unwrap();
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
    }

    async fn run(&self, args: &[&str]) -> Output {
        run(
            binary(),
            args,
            &[("KUBECONFIG", self.kubeconfig.as_os_str())],
        )
        .await
    }
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wetix-operator"))
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Environment variables for a child process.
type Env<'a> = Vec<(&'a str, &'a std::ffi::OsStr)>;

/// Runs `program` with `args` and only the given environment (plus PATH), bounded by [`BOUND`].
async fn run(program: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("the binary starts");
    let output = tokio::time::timeout(BOUND, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{args:?} did not finish within {BOUND:?}"))
        .unwrap();
    Output {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn ready(status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-25T10:00:00Z",
        "observedGeneration": 1
    })
}

fn healthy_status() -> Value {
    json!({
        "observedGeneration": 1,
        "conditions": [ready("True", "TokenIssued", "tokens issued by WeTix")],
        "secretName": "ticketing-token",
        "accessTokenExpiresAt": "2027-01-24T10:00:00Z",
        "refreshTokenExpiresAt": "2027-11-25T10:00:00Z",
        "lastRefreshTime": "2026-11-25T10:00:00Z",
        "nextRefreshTime": "2027-01-04T08:31:12Z",
        "failedAttempts": 0,
        "lastRefreshRequest": "",
        "tokenFingerprint": "3f9a1c0d2b7e4a61"
    })
}

fn failing_status() -> Value {
    json!({
        "observedGeneration": 1,
        "conditions": [ready("False", "InvalidClient",
            "the WeTix OAuth server rejected the client credentials (HTTP 401)")],
        "secretName": "billing-token",
        "accessTokenExpiresAt": "2026-12-20T10:00:00Z",
        "refreshTokenExpiresAt": "2027-11-25T10:00:00Z",
        "nextRefreshTime": "2026-12-16T10:05:00Z",
        "failedAttempts": 3,
        "lastFailureTime": "2026-12-16T07:00:00Z",
        "lastRefreshRequest": ""
    })
}

/// A status as the operator's types print it back: `lastFailureTime` is always present.
fn printed(mut status: Value) -> Value {
    status["lastFailureTime"] = Value::Null;
    status
}

async fn two_namespaces(server: Server) -> Cluster {
    let cluster = Cluster::start(server).await;
    cluster.credential(NS, "ticketing", healthy_status()).await;
    cluster.credential("pay", "billing", failing_status()).await;
    cluster
}

const TABLE_ALL: &str = "\
NAMESPACE   NAME        READY   REASON          ACCESS EXPIRES                  REFRESH EXPIRES                  NEXT REFRESH                    SECRET            FAILED   LAST FAILURE
pay         billing     False   InvalidClient   2026-12-20T10:00:00Z (in 4d)    2027-11-25T10:00:00Z (in 344d)   2026-12-16T10:05:00Z (in 5m)    billing-token     3        2026-12-16T07:00:00Z (3h ago)
shop        ticketing   True    TokenIssued     2027-01-24T10:00:00Z (in 39d)   2027-11-25T10:00:00Z (in 344d)   2027-01-04T08:31:12Z (in 18d)   ticketing-token   0        -
";

async fn status_prints_a_table_per_namespace_or_across_all(server: Server) {
    let cluster = two_namespaces(server).await;

    let all = cluster.run(&["status", "-A", "--now", NOW]).await;
    assert_eq!(all.code, 0, "{all:?}");
    assert_eq!(all.stdout, TABLE_ALL, "{all:?}");

    let shop = cluster.run(&["status", "--now", NOW]).await;
    assert_eq!(shop.code, 0, "{shop:?}");
    assert_eq!(
        shop.stdout,
        "\
NAME        READY   REASON        ACCESS EXPIRES                  REFRESH EXPIRES                  NEXT REFRESH                    SECRET            FAILED   LAST FAILURE
ticketing   True    TokenIssued   2027-01-24T10:00:00Z (in 39d)   2027-11-25T10:00:00Z (in 344d)   2027-01-04T08:31:12Z (in 18d)   ticketing-token   0        -
",
        "{shop:?}"
    );

    let empty = cluster.run(&["status", "-n", "nobody-here"]).await;
    assert_eq!(empty.code, 0, "{empty:?}");
    assert_eq!(empty.stdout, "");
    assert!(
        empty
            .stderr
            .contains("No WetixCredentials found in namespace nobody-here"),
        "{empty:?}"
    );
}

async fn status_of_one_name_shows_the_detail_with_the_ready_message(server: Server) {
    let cluster = two_namespaces(server).await;
    let out = cluster
        .run(&["status", "-n", "pay", "billing", "--now", NOW])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "\
Name:                   billing
Namespace:              pay
Ready:                  False (InvalidClient)
Message:                the WeTix OAuth server rejected the client credentials (HTTP 401)
Ready since:            2026-11-25T10:00:00Z (21d ago)
Server:                 Sandbox (https://sb-oauth.wetix.my)
Suspended:              no
Managed Secret:         billing-token
Access token expires:   2026-12-20T10:00:00Z (in 4d)
Refresh token expires:  2027-11-25T10:00:00Z (in 344d)
Last refresh:           -
Next refresh:           2026-12-16T10:05:00Z (in 5m)
Failed attempts:        3
Last failure:           2026-12-16T07:00:00Z (3h ago)
Last refresh request:   -
Token fingerprint:      -
Observed generation:    1 (current)
",
        "{out:?}"
    );
}

async fn status_prints_json_and_yaml_for_scripts(server: Server) {
    let cluster = two_namespaces(server).await;

    let list = cluster.run(&["status", "-A", "-o", "json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    let names: Vec<_> = items
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["namespace"].as_str().unwrap(),
                i["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["pay/billing", "shop/ticketing"]);
    assert_eq!(items[0]["status"]["failedAttempts"], 3);
    assert_eq!(items[1]["status"], printed(healthy_status()));

    let one = cluster.run(&["status", "ticketing", "-o", "json"]).await;
    assert_eq!(one.code, 0, "{one:?}");
    let one: Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(
        one,
        json!({"namespace": NS, "name": "ticketing", "status": printed(healthy_status())})
    );

    let yaml = cluster
        .run(&["status", "ticketing", "--output", "yaml"])
        .await;
    assert_eq!(yaml.code, 0, "{yaml:?}");
    let from_yaml: Value = serde_saphyr::from_str(&yaml.stdout).unwrap();
    assert_eq!(from_yaml, one);
}

async fn an_unknown_credential_exits_2_with_a_clear_message(server: Server) {
    let cluster = two_namespaces(server).await;
    for args in [
        &["status", "nope"][..],
        &["refresh", "nope"],
        &["refresh", "-n", "pay", "ticketing", "--wait"],
    ] {
        let out = cluster.run(args).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(
            out.stderr.starts_with("wetix-operator: WetixCredential ")
                && out.stderr.trim_end().ends_with(" not found"),
            "{args:?}: {out:?}"
        );
    }
}

async fn bad_flags_exit_2_and_name_the_flag(server: Server) {
    let cluster = Cluster::start(server).await;
    let cases: [(&[&str], &str); 3] = [
        (&["status", "-A", "-n", "shop"], "--namespace"),
        (&["status", "-o", "wide"], "--output"),
        (
            &["refresh", "x", "--wait", "--timeout", "soon"],
            "--timeout",
        ),
    ];
    for (args, flag) in cases {
        let out = cluster.run(args).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(flag), "{args:?}: {out:?}");
    }
}

/// Waits until the credential carries the refresh annotation, and returns its value.
async fn requested_value(api: &Api<WetixCredential>, name: &str) -> String {
    tokio::time::timeout(BOUND, async {
        loop {
            let credential = api.get(name).await.unwrap();
            if let Some(value) = credential
                .annotations()
                .get("wetix.my/refresh-requested-at")
            {
                return value.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the refresh annotation appears")
}

async fn refresh_wait_reports_the_outcome_once_the_operator_handles_the_request(server: Server) {
    let cluster = two_namespaces(server).await;
    let api = cluster.api(NS);
    let before = jiff::Timestamp::now().as_second();

    let kubeconfig = cluster.kubeconfig.clone();
    let waiting = tokio::spawn(async move {
        run(
            binary(),
            &["refresh", "ticketing", "--wait", "--timeout", "20s"],
            &[("KUBECONFIG", kubeconfig.as_os_str())],
        )
        .await
    });

    // Stand in for the operator: handle the request by recording its value in status.
    let value = requested_value(&api, "ticketing").await;
    let at: jiff::Timestamp = value.parse().expect("the value is an RFC 3339 time");
    assert!(at.as_second() >= before, "{value}");
    assert!(value.ends_with('Z'), "{value}");
    api.patch_status(
        "ticketing",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "lastRefreshRequest": value,
            "conditions": [ready("True", "TokenRefreshed", "access token refreshed")],
            "accessTokenExpiresAt": "2099-01-01T00:00:00Z",
        }})),
    )
    .await
    .unwrap();

    let out = waiting.await.unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with("Handled: Ready=True (TokenRefreshed): access token refreshed\n"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("Access token expires:  2099-01-01T00:00:00Z (in "),
        "{out:?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "Requested a refresh of WetixCredential shop/ticketing (wetix.my/refresh-requested-at={value})"
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("Waiting up to 20s"), "{out:?}");
}

async fn refresh_wait_exits_1_when_the_handled_request_left_it_not_ready(server: Server) {
    let cluster = two_namespaces(server).await;
    let api = cluster.api("pay");
    let kubeconfig = cluster.kubeconfig.clone();
    let waiting = tokio::spawn(async move {
        run(
            binary(),
            &["refresh", "billing", "-n", "pay", "--wait"],
            &[("KUBECONFIG", kubeconfig.as_os_str())],
        )
        .await
    });
    let value = requested_value(&api, "billing").await;
    api.patch_status(
        "billing",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"lastRefreshRequest": value}})),
    )
    .await
    .unwrap();
    let out = waiting.await.unwrap();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.starts_with(
            "Handled: Ready=False (InvalidClient): the WeTix OAuth server rejected the client credentials (HTTP 401)\n"
        ),
        "{out:?}"
    );
}

async fn refresh_without_wait_only_sets_the_annotation_and_a_wait_times_out_with_2(server: Server) {
    let cluster = two_namespaces(server).await;
    let out = cluster.run(&["refresh", "ticketing"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "");
    let credential = cluster.api(NS).get("ticketing").await.unwrap();
    assert!(
        credential
            .annotations()
            .contains_key("wetix.my/refresh-requested-at")
    );
    assert_eq!(
        credential.status.unwrap().last_refresh_request,
        "",
        "nothing handled it"
    );

    let started = std::time::Instant::now();
    let out = cluster
        .run(&["refresh", "ticketing", "--wait", "--timeout", "2s"])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "{out:?}");
    assert!(
        out.stderr.contains(
            "the operator did not handle the refresh request of shop/ticketing within 2s"
        ),
        "{out:?}"
    );
}

/// The fake WeTix server with the test client registered.
async fn wetix() -> FakeWetix {
    tls::install_crypto_provider();
    standins::start_wetix(Settings::default(), CLIENT_ID, CLIENT_SECRET)
        .await
        .expect("fake WeTix starts")
}

fn client_env() -> [(&'static str, &'static std::ffi::OsStr); 2] {
    [
        ("WETIX_CLIENT_ID", CLIENT_ID.as_ref()),
        ("WETIX_CLIENT_SECRET", CLIENT_SECRET.as_ref()),
    ]
}

fn printed_pair(out: &Output) -> Value {
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    let pair: Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    let keys: Vec<&String> = pair.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_at",
            "refresh_token",
            "refresh_token_expires_at",
            "token_type"
        ]
    );
    assert_eq!(pair["token_type"], "Bearer");
    pair
}

#[tokio::test]
async fn token_obtains_a_pair_with_client_credentials_from_the_environment() {
    let wetix = wetix().await;
    let url = wetix.url();
    let out = run(binary(), &["token", "--server-url", &url], &client_env()).await;
    let pair = printed_pair(&out);
    wetix
        .verify_token(pair["access_token"].as_str().unwrap())
        .expect("a token the server issued");
    let expires: jiff::Timestamp = pair["expires_at"].as_str().unwrap().parse().unwrap();
    let in_sixty_days = jiff::Timestamp::now().as_second() + 5_184_000;
    assert!((expires.as_second() - in_sixty_days).abs() < 60, "{pair}");
    let calls = wetix.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].endpoint, fake_wetix::Endpoint::Token);
    assert_eq!(calls[0].client_id.as_deref(), Some(CLIENT_ID));
    assert_eq!(calls[0].status, 200);
}

#[tokio::test]
async fn token_refreshes_with_the_token_file_and_the_client_secret_file() {
    let wetix = wetix().await;
    let dir = TempDir::new("wetix-cli");
    let refresh_token = wetix.mint_refresh_token(CLIENT_ID);
    let token_file = dir.write("refresh-token", &format!("{refresh_token}\n"));
    let secret_file = dir.write(
        "client.env",
        &format!("# sandbox client\nclient_id={CLIENT_ID}\nclient_secret={CLIENT_SECRET}\n"),
    );
    let url = wetix.url();
    let out = run(
        binary(),
        &[
            "token",
            "--server-url",
            &url,
            "--refresh-token-file",
            token_file.to_str().unwrap(),
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let pair = printed_pair(&out);
    assert_eq!(pair["refresh_token"], refresh_token.as_str());
    let calls = wetix.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].endpoint, fake_wetix::Endpoint::Refresh);
    assert_eq!(calls[0].status, 200);
}

#[tokio::test]
async fn token_errors_name_the_flag_or_variable_and_never_print_the_secret() {
    let wetix = wetix().await;
    let url = wetix.url();
    let dir = TempDir::new("wetix-cli");
    let missing_key = dir.write("client.env", &format!("client-secret={CLIENT_SECRET}\n"));
    let empty_token = dir.write("empty", "\n");
    let wrong_secret = "wr0ng-s3cret-value";
    let secret_file = missing_key.to_str().unwrap().to_owned();
    let empty_file = empty_token.to_str().unwrap().to_owned();

    // (args, env, exit code, what stderr must say)
    let cases: Vec<(Vec<&str>, Env, i32, String)> = vec![
        (
            vec!["token", "--server-url", &url],
            vec![("WETIX_CLIENT_ID", CLIENT_ID.as_ref())],
            2,
            "WETIX_CLIENT_SECRET is not set".to_owned(),
        ),
        (
            vec![
                "token",
                "--server-url",
                &url,
                "--client-secret-file",
                &secret_file,
            ],
            vec![],
            2,
            format!("--client-secret-file {secret_file}: line 1 has an unknown key"),
        ),
        (
            vec![
                "token",
                "--server-url",
                &url,
                "--refresh-token-file",
                &empty_file,
            ],
            client_env().to_vec(),
            2,
            format!("--refresh-token-file {empty_file}: expected exactly one refresh token"),
        ),
        (
            vec!["token", "--server-url", "http://oauth.example"],
            client_env().to_vec(),
            2,
            "--server-url \"http://oauth.example\" must use https".to_owned(),
        ),
        (
            vec!["token", "--server-url", &url],
            vec![
                ("WETIX_CLIENT_ID", CLIENT_ID.as_ref()),
                ("WETIX_CLIENT_SECRET", wrong_secret.as_ref()),
            ],
            1,
            "the client_credentials request to the WeTix OAuth server failed: \
             the WeTix OAuth server rejected the client credentials (HTTP 401)"
                .to_owned(),
        ),
    ];
    for (args, env, code, expected) in cases {
        let out = run(binary(), &args, &env).await;
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.contains(&expected), "{args:?}: {out:?}");
        for secret in [CLIENT_SECRET, wrong_secret] {
            assert!(!out.stderr.contains(secret), "{args:?}: {out:?}");
        }
    }
    // Only the wrong-secret case reached the server; the rest were refused before any call.
    assert_eq!(wetix.calls().len(), 1);
}

async fn the_kubectl_wetix_symlink_answers_as_a_kubectl_plugin(server: Server) {
    let cluster = two_namespaces(server).await;
    let plugin = cluster.dir.path().join("kubectl-wetix");
    std::os::unix::fs::symlink(binary(), &plugin).unwrap();
    let env = [("KUBECONFIG", cluster.kubeconfig.as_os_str())];

    let out = run(&plugin, &["status", "-A", "--now", NOW], &env).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, TABLE_ALL);

    let help = run(&plugin, &["refresh", "--help"], &env).await;
    assert_eq!(help.code, 0, "{help:?}");
    assert!(
        help.stdout
            .contains("Usage: kubectl wetix refresh [OPTIONS] <NAME>"),
        "{help:?}"
    );

    let missing = run(&plugin, &["status", "nope"], &env).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing
            .stderr
            .starts_with("kubectl wetix: WetixCredential shop/nope not found"),
        "{missing:?}"
    );
}
