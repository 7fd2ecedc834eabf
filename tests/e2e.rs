//! End to end: the real operator binary against a Kubernetes API and the fake WeTix server,
//! with token lifetimes of seconds. Each scenario runs on the real API server (etcd,
//! kube-apiserver, kube-controller-manager; the operator as the ServiceAccount of `deploy/`)
//! and on the emulator; `WETIX_TEST_CLUSTER` picks (see `support::cluster`). Scenarios that
//! need the emulator's fault injection run on it alone.

mod support;

use std::time::Duration;

use fake_wetix::{Endpoint, Fault};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::*;

on_both!(
    a_new_credential_gets_a_managed_secret_with_working_tokens_and_ready_status,
    tokens_are_refreshed_before_the_access_token_expires,
    a_refresh_token_near_its_end_is_replaced_through_client_credentials,
    a_restarted_operator_reads_tokens_back_and_asks_wetix_for_nothing,
    the_refresh_annotation_refreshes_now_and_is_recorded,
    a_missing_client_secret_is_reported_then_picked_up_when_created,
    a_secret_the_credential_does_not_manage_is_never_overwritten,
    rejected_client_credentials_are_not_retried_in_a_loop_but_at_once_when_fixed,
    transient_failures_back_off_and_never_touch_the_secret,
    a_server_url_outside_the_allow_list_is_refused_and_never_called,
    a_deleted_managed_secret_is_restored_with_a_fresh_pair,
    an_edited_expiry_in_the_secret_is_restored_without_a_token_request,
    a_new_template_label_reaches_the_secret_with_the_same_tokens_and_no_request,
    no_token_or_client_secret_appears_in_logs_events_or_status,
    rollout_targets_restart_when_the_token_changes_and_a_missing_one_is_reported,
    a_rotated_client_secret_gets_a_fresh_pair_at_once,
    a_renewal_costs_one_wetix_call_one_secret_write_one_status_write_and_its_event,
    deleting_a_credential_deletes_its_secret_unless_the_policy_is_retain,
    secrets_are_watched_only_by_the_operator_s_two_labels,
    an_unlabelled_client_secret_is_read_when_needed,
    the_operator_speaks_http2_to_an_api_server_that_offers_it,
);

/// The client of the operator's requests (`src/api_client.rs`): HTTP/2 to the real server,
/// whose TLS offers it, so that they share one connection; HTTP/1.1 to the emulator's plain
/// `http://`. Every other scenario here runs the operator on it.
async fn the_operator_speaks_http2_to_an_api_server_that_offers_it(server: Server) {
    let cluster = Cluster::start(server).await;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&cluster.operator_kubeconfig())
        .expect("the operator's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("a config from it");
    let client = wetix_operator::api_client::requests(config).expect("the operator's client");
    let request = http::Request::get("/version")
        .body(kube::client::Body::empty())
        .expect("a request");
    let response = client.send(request).await.expect("an answer");
    assert_eq!(response.status(), http::StatusCode::OK);
    let expected = match server {
        Server::Real => http::Version::HTTP_2,
        Server::Emulator => http::Version::HTTP_11,
    };
    assert_eq!(response.version(), expected);
}

/// Like kube's own client, the client of the operator's requests tries a 503 again itself, with
/// a short backoff, before the reconcile sees a failure.
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_s_requests_are_retried_on_503_as_kube_s_client_retries_them() {
    let cluster = Cluster::start(Server::Emulator).await;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&cluster.operator_kubeconfig())
        .expect("the operator's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("a config from it");
    let client = wetix_operator::api_client::requests(config).expect("the operator's client");
    let emulator = cluster.emulator();
    emulator.faults().fail_next_writes("secrets", 2, 503);
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client, &cluster.namespace);
    let secret =
        serde_json::from_value(json!({"metadata": {"name": "retried"}})).expect("a Secret");
    secrets
        .create(&Default::default(), &secret)
        .await
        .expect("created on the third try");
    let posts = emulator
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/secrets"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(posts, [503, 503, 201]);
}

async fn a_new_credential_gets_a_managed_secret_with_working_tokens_and_ready_status(
    server: Server,
) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;

    let credential = stack.wait_ready("ticketing", "TokenIssued").await;
    let data = stack.secret_data("ticketing-token").await;
    let claims = stack
        .wetix
        .verify_token(&data["access_token"])
        .expect("the Secret holds a token WeTix issued");
    assert_eq!(claims.client_key, CLIENT_ID);
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(
        data["authorization"],
        format!("Bearer {}", data["access_token"])
    );
    assert!(!data["refresh_token"].is_empty());

    let status = credential.status.unwrap();
    assert_eq!(status.secret_name.as_deref(), Some("ticketing-token"));
    assert_eq!(status.observed_generation, credential.metadata.generation);
    let expires = status.access_token_expires_at.unwrap().0;
    assert_eq!(
        data["expires_at"],
        wetix_operator::managed_secret::rfc3339(expires)
    );
    assert!(status.next_refresh_time.unwrap().0 < expires);
    assert_eq!(status.failed_attempts, 0);
    assert_eq!(status.token_fingerprint.unwrap().len(), 16);
    assert_eq!(stack.wetix.calls().len(), 1);
    assert!(stack.events_text().await.contains("TokenIssued"));
}

async fn tokens_are_refreshed_before_the_access_token_expires(server: Server) {
    // Access 6 s (renew 33 % before: at ~4 s), refresh token 1 h.
    let stack = Stack::running(server, 6, 3600).await;
    stack.create_credential("ticketing", json!({})).await;
    let issued = stack.wait_ready("ticketing", "TokenIssued").await;
    let first = stack.secret_data("ticketing-token").await;
    let first_expiry = issued
        .status
        .as_ref()
        .unwrap()
        .access_token_expires_at
        .clone()
        .unwrap();

    let refreshed = stack.wait_ready("ticketing", "TokenRefreshed").await;
    let status = refreshed.status.unwrap();
    let second = stack.secret_data("ticketing-token").await;
    assert_ne!(first["access_token"], second["access_token"]);
    assert!(
        status.last_refresh_time.unwrap().0 < first_expiry.0,
        "renewed before the old token expired"
    );
    assert!(status.access_token_expires_at.unwrap().0 > first_expiry.0);
    // WeTix's refresh returns the same refresh token; it stays in the Secret unchanged.
    assert_eq!(first["refresh_token"], second["refresh_token"]);
    let endpoints: Vec<_> = stack.wetix.calls().iter().map(|c| c.endpoint).collect();
    assert_eq!(endpoints[..2], [Endpoint::Token, Endpoint::Refresh]);
}

async fn a_refresh_token_near_its_end_is_replaced_through_client_credentials(server: Server) {
    // Refresh token 9 s: due at ~6 s, before the 60 s access token.
    let stack = Stack::running(server, 60, 9).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let first = stack.secret_data("ticketing-token").await;

    stack
        .wait_for("ticketing", "a second pair", |c| {
            c.status
                .as_ref()
                .and_then(|s| s.token_fingerprint.as_deref())
                != Some(&fingerprint(&first["access_token"]))
        })
        .await;
    let second = stack.secret_data("ticketing-token").await;
    assert_ne!(first["refresh_token"], second["refresh_token"]);
    let calls = stack.wetix.calls();
    assert!(
        calls.iter().all(|c| c.endpoint == Endpoint::Token),
        "only client-credentials calls: {calls:?}"
    );
    assert!(calls.len() >= 2);
}

async fn a_restarted_operator_reads_tokens_back_and_asks_wetix_for_nothing(server: Server) {
    let mut stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    let before = stack.wait_ready("ticketing", "TokenIssued").await;
    let exit = stack.stop_operator().await;
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    assert!(
        stack.stopped_log_shows("shutdown requested").await,
        "{}",
        stack.logs()
    );

    stack.wetix.clear_calls();
    stack.start_operator().await;
    let metrics = stack.wait_metrics("wetix_credential_ready{").await;
    assert!(
        metrics.contains(&format!(
            "wetix_credential_ready{{namespace=\"{}\",name=\"ticketing\"}} 1",
            stack.ns
        )),
        "{metrics}"
    );
    // The restarted operator has finished reconciling what it read back.
    stack.wait_reconciles(1).await;
    assert!(stack.wetix.calls().is_empty(), "{:?}", stack.wetix.calls());
    let after = stack.credentials().get("ticketing").await.unwrap();
    assert_eq!(
        after.status.unwrap().token_fingerprint,
        before.status.unwrap().token_fingerprint
    );
}

async fn the_refresh_annotation_refreshes_now_and_is_recorded(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let first = stack.secret_data("ticketing-token").await;

    stack
        .request_refresh("ticketing", "2026-11-25T12:00:00Z")
        .await;
    let handled = stack
        .wait_for("ticketing", "request handled", |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.last_refresh_request == "2026-11-25T12:00:00Z")
        })
        .await;
    assert!(ready_is(&handled, "True", "TokenRefreshed"));
    assert_ne!(
        stack.secret_data("ticketing-token").await["access_token"],
        first["access_token"]
    );
    let refreshes = stack.calls_to(Endpoint::Refresh);
    assert_eq!(refreshes, 1, "{}", stack.logs());
}

async fn a_missing_client_secret_is_reported_then_picked_up_when_created(server: Server) {
    let mut stack = Stack::start(server, 3600, 7200).await;
    stack.start_operator().await;
    stack.create_credential("ticketing", json!({})).await;
    let waiting = stack
        .wait_not_ready("ticketing", "ClientSecretNotFound")
        .await;
    assert!(
        waiting
            .ready_condition()
            .unwrap()
            .message
            .contains("wetix-client")
    );
    assert!(stack.wetix.calls().is_empty());

    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack.wait_ready("ticketing", "TokenIssued").await;
}

async fn a_secret_the_credential_does_not_manage_is_never_overwritten(server: Server) {
    let mut stack = Stack::start(server, 3600, 7200).await;
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack
        .put_client_secret("ticketing-token", "someone", "elses")
        .await;
    stack.start_operator().await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_not_ready("ticketing", "SecretConflict").await;
    let data = stack.secret_data("ticketing-token").await;
    assert_eq!(data["client_id"], "someone");
    assert!(!data.contains_key("access_token"));
    assert!(stack.wetix.calls().is_empty());
}

async fn rejected_client_credentials_are_not_retried_in_a_loop_but_at_once_when_fixed(
    server: Server,
) {
    let mut stack = Stack::start(server, 3600, 7200).await;
    stack
        .put_client_secret("wetix-client", CLIENT_ID, "wrong-secret")
        .await;
    stack.start_operator().await;
    stack.create_credential("ticketing", json!({})).await;
    let failed = stack.wait_not_ready("ticketing", "InvalidClient").await;
    assert_eq!(failed.status.unwrap().failed_attempts, 1);
    // Once the failed reconcile has finished, a change to the client Secret that leaves its
    // values alone makes the operator look again: that look must wait too.
    let failed_at = stack.wait_reconciles(1).await;
    stack.label_secret("wetix-client", "e2e-touched", "1").await;
    stack.wait_reconciles(failed_at + 1).await;
    assert_eq!(stack.wetix.calls().len(), 1, "no retry within five minutes");

    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    let fixed = stack.wait_ready("ticketing", "TokenIssued").await;
    assert_eq!(fixed.status.unwrap().failed_attempts, 0);
    assert_eq!(stack.wetix.calls().len(), 2);
}

async fn transient_failures_back_off_and_never_touch_the_secret(server: Server) {
    let stack = Stack::running(server, 6, 3600).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let good = stack.secrets().get("ticketing-token").await.unwrap();
    stack.wetix.inject(Endpoint::Refresh, Fault::Status(503), 1);

    let failing = stack.wait_not_ready("ticketing", "ServerUnavailable").await;
    let status = failing.status.unwrap();
    assert_eq!(status.failed_attempts, 1);
    assert!(status.last_failure_time.is_some());
    let untouched = stack.secrets().get("ticketing-token").await.unwrap();
    assert_eq!(untouched.data, good.data);
    assert_eq!(
        untouched.metadata.resource_version,
        good.metadata.resource_version
    );

    let recovered = stack.wait_ready("ticketing", "TokenRefreshed").await;
    assert_eq!(recovered.status.unwrap().failed_attempts, 0);
    assert!(stack.events_text().await.contains("ServerUnavailable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_secret_write_is_retried_with_the_same_tokens() {
    let mut stack = Stack::start(Server::Emulator, 3600, 7200).await;
    stack.wetix.set_rotation(true);
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack.start_operator().await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;

    stack
        .cluster
        .emulator()
        .faults()
        .fail_next_writes("secrets", 4, 500);
    stack.request_refresh("ticketing", "now-1").await;
    let done = stack
        .wait_for("ticketing", "refresh written", |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.last_refresh_request == "now-1")
        })
        .await;
    assert!(ready_is(&done, "True", "TokenRefreshed"));
    let refreshes = stack.calls_to(Endpoint::Refresh);
    assert_eq!(
        refreshes, 1,
        "one WeTix call; the write was retried with its tokens"
    );
    let data = stack.secret_data("ticketing-token").await;
    assert_eq!(
        done.status.unwrap().token_fingerprint.unwrap(),
        fingerprint(&data["access_token"])
    );
    // The rotated refresh token in the Secret is the live one.
    assert!(stack.wetix.verify_token(&data["refresh_token"]).is_some());
}

async fn a_server_url_outside_the_allow_list_is_refused_and_never_called(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack
        .create_credential(
            "ticketing",
            json!({"server": {"url": "https://oauth.attacker.example"}}),
        )
        .await;
    let refused = stack.wait_not_ready("ticketing", "ServerNotAllowed").await;
    assert!(
        refused
            .ready_condition()
            .unwrap()
            .message
            .contains("oauth.attacker.example")
    );
    assert!(stack.wetix.calls().is_empty());
}

async fn a_deleted_managed_secret_is_restored_with_a_fresh_pair(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let first = stack.secret_data("ticketing-token").await;
    stack
        .secrets()
        .delete("ticketing-token", &Default::default())
        .await
        .unwrap();

    // The operator first creates the absent Secret empty, as its claim, then writes the new
    // pair into it: the real server is slow enough for a read to land in between.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let secret = stack.secrets().get_opt("ticketing-token").await;
        let data = secret
            .ok()
            .flatten()
            .and_then(|s| s.data)
            .unwrap_or_default();
        if let Some(token) = data.get("access_token") {
            let token = String::from_utf8(token.0.clone()).unwrap();
            assert_ne!(token, first["access_token"]);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack.wetix.calls().len(), 2);
}

async fn an_edited_expiry_in_the_secret_is_restored_without_a_token_request(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let first = stack.secret_data("ticketing-token").await;
    let edit = json!({"stringData": {"expires_at": "2099-01-01T00:00:00Z"}});
    stack
        .secrets()
        .patch(
            "ticketing-token",
            &PatchParams::default(),
            &Patch::Merge(&edit),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while stack.secret_data("ticketing-token").await["expires_at"] != first["expires_at"] {
        assert!(tokio::time::Instant::now() < deadline, "{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack.wetix.calls().len(), 1);
}

async fn a_new_template_label_reaches_the_secret_with_the_same_tokens_and_no_request(
    server: Server,
) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let first = stack.secret_data("ticketing-token").await;
    let label = json!({"spec": {"secretTemplate": {"labels": {"team": "box-office"}}}});
    stack
        .credentials()
        .patch("ticketing", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let secret = stack.secrets().get("ticketing-token").await.unwrap();
        if secret.metadata.labels.unwrap_or_default().get("team") == Some(&"box-office".into()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The Secret is written again with the tokens it held, access token and all.
    assert_eq!(stack.secret_data("ticketing-token").await, first);
    assert_eq!(stack.wetix.calls().len(), 1);
}

async fn no_token_or_client_secret_appears_in_logs_events_or_status(server: Server) {
    let stack = Stack::running(server, 4, 3600).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenRefreshed").await;
    stack.wetix.inject(Endpoint::Any, Fault::MalformedJson, 1);
    stack.request_refresh("ticketing", "x").await;
    stack
        .wait_not_ready("ticketing", "InvalidServerResponse")
        .await;

    let data = stack.secret_data("ticketing-token").await;
    let status =
        serde_json::to_string(&stack.credentials().get("ticketing").await.unwrap()).unwrap();
    let events = stack.events_text().await;
    let logs = stack.logs();
    let metrics = stack.wait_metrics("wetix_token_requests_total").await;
    for (what, text) in [
        ("status", &status),
        ("events", &events),
        ("logs", &logs),
        ("metrics", &metrics),
    ] {
        assert!(!text.contains(CLIENT_SECRET), "client secret in {what}");
        assert!(
            !text.contains(&data["access_token"]),
            "access token in {what}"
        );
        assert!(
            !text.contains(&data["refresh_token"]),
            "refresh token in {what}"
        );
        assert!(!text.contains("Basic "), "Authorization header in {what}");
    }
}

fn fingerprint(token: &str) -> String {
    wetix_operator::tokens::fingerprint(&wetix_operator::sensitive::Sensitive::new(token))
}

async fn rollout_targets_restart_when_the_token_changes_and_a_missing_one_is_reported(
    server: Server,
) {
    use k8s_openapi::api::apps::v1::Deployment;
    let mut stack = Stack::start(server, 3600, 7200).await;
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(stack.client.clone(), &stack.ns);
    // `checkout` opts in to restarts by this credential; `bystander` does not.
    for (name, opt_in) in [("checkout", "ticketing"), ("bystander", "someone-else")] {
        let deployment: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": stack.ns,
                "annotations": {"wetix.my/restart-on-token-change": opt_in}},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": {"keep": "me"}},
                    "spec": {"containers": [{"name": "app", "image": "checkout:1"}]}
                }
            }
        }))
        .unwrap();
        deployments
            .create(&Default::default(), &deployment)
            .await
            .unwrap();
    }
    stack.start_operator().await;
    stack
        .create_credential(
            "ticketing",
            json!({"rolloutRestartTargets": [
                {"kind": "Deployment", "name": "checkout"},
                {"kind": "StatefulSet", "name": "missing"},
                {"kind": "Deployment", "name": "bystander"}
            ]}),
        )
        .await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let restarted_at = |d: &Deployment| {
        d.spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap()
    };
    let first = restarted_at(&deployments.get("checkout").await.unwrap());
    assert!(first.contains_key("wetix.my/restartedAt"), "{first:?}");
    assert_eq!(first["keep"], "me");
    let events = stack.events_text().await;
    assert!(
        events.contains("RolloutRestartFailed") && events.contains("missing"),
        "{events}"
    );
    let bystander = restarted_at(&deployments.get("bystander").await.unwrap());
    assert!(
        !bystander.contains_key("wetix.my/restartedAt"),
        "a workload that did not opt in is never restarted: {bystander:?}"
    );
    assert!(
        events.contains("wetix.my/restart-on-token-change does not list"),
        "{events}"
    );

    // A new token within the minute: the restart is skipped, and said so.
    stack.request_refresh("ticketing", "again").await;
    stack
        .wait_for("ticketing", "refresh handled", |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.last_refresh_request == "again")
        })
        .await;
    let second = restarted_at(&deployments.get("checkout").await.unwrap());
    assert_eq!(
        first["wetix.my/restartedAt"],
        second["wetix.my/restartedAt"]
    );
    let events = stack.events_text().await;
    assert!(events.contains("RolloutRestartSkipped"), "{events}");
}

async fn a_rotated_client_secret_gets_a_fresh_pair_at_once(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    let issued = stack.wait_ready("ticketing", "TokenIssued").await;
    let first = issued.status.unwrap().token_fingerprint;

    stack.wetix.add_client(CLIENT_ID, "rotated-s3cret");
    stack
        .put_client_secret("wetix-client", CLIENT_ID, "rotated-s3cret")
        .await;
    stack
        .wait_for("ticketing", "a pair for the new secret", |c| {
            c.status.as_ref().map(|s| &s.token_fingerprint) != Some(&first)
                && ready_is(c, "True", "TokenIssued")
        })
        .await;
    assert_eq!(stack.calls_to(Endpoint::Token), 2);
    assert_eq!(stack.calls_to(Endpoint::Refresh), 0);
}

async fn a_renewal_costs_one_wetix_call_one_secret_write_one_status_write_and_its_event(
    server: Server,
) {
    let stack = Stack::running(server, 5, 3600).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    // Once the reconcile has finished, count one renewal's requests: those of the
    // reconcile that renews, finished too.
    let issued = stack.wait_reconciles(1).await;
    stack.cluster.clear_requests();
    stack.wetix.clear_calls();
    stack.wait_ready("ticketing", "TokenRefreshed").await;
    stack.wait_reconciles(issued + 1).await;

    let mut requests: Vec<String> = stack
        .cluster
        .operator_requests()
        .await
        .into_iter()
        .filter(|r| !r.query.contains("watch=true"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    requests.sort();
    let ns = &stack.ns;
    assert_eq!(
        requests,
        [
            format!("PATCH /api/v1/namespaces/{ns}/secrets/ticketing-token"),
            format!(
                "PATCH /apis/wetix.my/v1alpha1/namespaces/{ns}/wetixcredentials/ticketing/status"
            ),
            format!("POST /apis/events.k8s.io/v1/namespaces/{ns}/events"),
        ]
    );
    assert_eq!(stack.wetix.calls().len(), 1);
}

/// On the real server the garbage collector of kube-controller-manager does the deleting,
/// following the Secret's ownerReference.
async fn deleting_a_credential_deletes_its_secret_unless_the_policy_is_retain(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    stack
        .create_credential("kept", json!({"deletionPolicy": "Retain"}))
        .await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    stack.wait_ready("kept", "TokenIssued").await;
    let retained = stack.secret_data("kept-token").await;

    for name in ["ticketing", "kept"] {
        stack
            .credentials()
            .delete(name, &Default::default())
            .await
            .expect("credential deleted");
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while stack
        .secrets()
        .get_opt("ticketing-token")
        .await
        .expect("get")
        .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the owned Secret outlived its credential by {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = stack.secrets().get("kept-token").await.expect("kept");
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "a Retain Secret has no owner to be collected with"
    );
    assert_eq!(stack.secret_data("kept-token").await, retained);
}

/// A cluster's other Secrets cost the operator nothing: each Secret watch it opens selects
/// managed Secrets or labelled client Secrets, never all.
async fn secrets_are_watched_only_by_the_operator_s_two_labels(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let mut selectors: Vec<String> = stack
        .cluster
        .operator_requests()
        .await
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets") && r.method == "GET")
        .map(|r| {
            let selector = r
                .query
                .split('&')
                .find_map(|p| p.strip_prefix("labelSelector="))
                .unwrap_or("(none)");
            selector.replace("%3D", "=").replace("%2F", "/")
        })
        .collect();
    selectors.sort();
    selectors.dedup();
    assert_eq!(
        selectors,
        [
            "app.kubernetes.io/managed-by=wetix-operator",
            "wetix.my/watch=true"
        ]
    );
}

/// Without the watch label a client Secret still works: it is read each time it is needed.
async fn an_unlabelled_client_secret_is_read_when_needed(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    stack
        .put_client_secret_labelled("plain-client", CLIENT_ID, CLIENT_SECRET, &[])
        .await;
    stack
        .create_credential(
            "ticketing",
            json!({"clientSecretRef": {"name": "plain-client"}}),
        )
        .await;
    stack.wait_ready("ticketing", "TokenIssued").await;
    let ns = &stack.ns;
    let reads = stack
        .cluster
        .operator_requests()
        .await
        .into_iter()
        .filter(|r| {
            r.method == "GET" && r.path == format!("/api/v1/namespaces/{ns}/secrets/plain-client")
        })
        .count();
    assert!(reads >= 1, "the unlabelled client Secret was read");
    assert_eq!(stack.calls_to(Endpoint::Token), 1);
}
