//! Hostile objects: a WetixCredential whose spec or status does not read as today's types
//! affects only itself, before and after a restart. On both servers (see `support::cluster`).

mod support;

use kube::ResourceExt;
use kube::{
    Api,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
};
use serde_json::json;
use support::*;
use wetix_operator::credential::WetixCredential;

on_both!(
    one_unreadable_credential_never_stops_the_others_before_or_after_a_restart,
    two_credentials_naming_one_secret_at_the_same_instant_leave_it_to_exactly_one,
    a_refused_server_url_never_echoes_its_user_or_password,
    a_path_that_would_move_the_host_is_refused_naming_the_field,
);

async fn one_unreadable_credential_never_stops_the_others_before_or_after_a_restart(
    server: Server,
) {
    let mut stack = Stack::running(server, 3600, 7200).await;
    // Written as plain JSON: this test's own client must not depend on reading it.
    let raw: Api<DynamicObject> = Api::namespaced_with(
        stack.client.clone(),
        &stack.ns,
        &ApiResource::erase::<WetixCredential>(&()),
    );
    // The schema's pattern accepts this renewBefore; no duration type holds it.
    let bad = json!({
        "apiVersion": "wetix.my/v1alpha1",
        "kind": "WetixCredential",
        "metadata": {"name": "bad", "namespace": stack.ns},
        "spec": {
            "server": {"environment": "Sandbox", "url": stack.wetix.url()},
            "clientSecretRef": {"name": "wetix-client"},
            "renewBefore": "99999999999999999999999h",
        }
    });
    raw.patch("bad", &PatchParams::apply("test"), &Patch::Apply(&bad))
        .await
        .expect("the API server accepts what its schema allows");
    stack.create_credential("before", json!({})).await;

    let refused = stack.wait_not_ready("bad", "InvalidSpec").await;
    let message = &refused.ready_condition().unwrap().message;
    assert!(message.contains("spec.renewBefore"), "{message}");
    stack.wait_ready("before", "TokenIssued").await;

    // A status no operator wrote, by someone allowed the subresource, while the operator is
    // down: its first list after the restart holds it.
    stack.stop_operator().await;
    let counter_beyond_u32 = json!({"status": {"failedAttempts": 5_000_000_000u64}});
    raw.patch_status(
        "bad",
        &PatchParams::default(),
        &Patch::Merge(&counter_beyond_u32),
    )
    .await
    .expect("int64 is what the schema allows");
    stack.start_operator().await;
    stack.create_credential("after", json!({})).await;
    stack.wait_ready("after", "TokenIssued").await;

    let overwritten = stack
        .wait_for("bad", "a sane status", |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.unreadable.is_none() && s.failed_attempts == 0)
        })
        .await;
    assert!(ready_is(&overwritten, "False", "InvalidSpec"));
    assert!(
        !stack.logs().contains("5000000000"),
        "no response body is logged:\n{}",
        stack.logs()
    );
    assert_eq!(
        stack.wetix.calls().len(),
        2,
        "one issue each for before and after"
    );
}

async fn two_credentials_naming_one_secret_at_the_same_instant_leave_it_to_exactly_one(
    server: Server,
) {
    let stack = Stack::running(server, 3600, 7200).await;
    let shared = json!({"secretName": "shared-token"});
    tokio::join!(
        stack.create_credential("first", shared.clone()),
        stack.create_credential("second", shared),
    );
    let settled = |c: &wetix_operator::credential::WetixCredential| {
        ready_is(c, "True", "TokenIssued") || ready_is(c, "False", "SecretConflict")
    };
    let first = stack
        .wait_for("first", "issued or in conflict", settled)
        .await;
    let second = stack
        .wait_for("second", "issued or in conflict", settled)
        .await;
    let winners: Vec<_> = [&first, &second]
        .into_iter()
        .filter(|c| ready_is(c, "True", "TokenIssued"))
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one owns the Secret: {winners:?}");
    let winner = &winners[0];

    let secret = stack.secrets().get("shared-token").await.unwrap();
    assert_eq!(secret.labels()["wetix.my/credential"], *winner);
    let data = stack.secret_data("shared-token").await;
    stack
        .wetix
        .verify_token(&data["access_token"])
        .expect("the winner's token");
    let owner = winner_status(&first, &second, winner);
    assert_eq!(
        owner.token_fingerprint.as_deref(),
        Some(
            wetix_operator::tokens::fingerprint(&wetix_operator::sensitive::Sensitive::new(
                &data["access_token"]
            ))
            .as_str()
        ),
        "the Secret holds the winner's tokens, not the loser's"
    );
    assert_eq!(
        stack.wetix.calls().len(),
        1,
        "the loser asked WeTix for nothing"
    );

    // Whatever either credential remembers: a change to the Secret makes both look again,
    // and the Secret still holds the winner's tokens under the winner's labels.
    let before = stack.reconciles().await;
    let touch = json!({"metadata": {"labels": {"touched": "yes"}}});
    stack
        .secrets()
        .patch(
            "shared-token",
            &PatchParams::default(),
            &Patch::Merge(&touch),
        )
        .await
        .unwrap();
    stack.wait_reconciles(before + 2).await;
    let secret = stack.secrets().get("shared-token").await.unwrap();
    assert_eq!(secret.labels()["wetix.my/credential"], *winner);
    assert_eq!(stack.secret_data("shared-token").await, data);
    let loser = if winner == "first" { "second" } else { "first" };
    let loser = stack.credentials().get(loser).await.unwrap();
    assert!(ready_is(&loser, "False", "SecretConflict"));
}

fn winner_status<'a>(
    first: &'a wetix_operator::credential::WetixCredential,
    second: &'a wetix_operator::credential::WetixCredential,
    winner: &str,
) -> &'a wetix_operator::credential::WetixCredentialStatus {
    let owner = if first.metadata.name.as_deref() == Some(winner) {
        first
    } else {
        second
    };
    owner.status.as_ref().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_the_api_server_refuses_is_on_the_status_and_retried_with_the_tokens_in_hand() {
    if !Server::Emulator.selected() {
        return;
    }
    let mut stack = Stack::start(Server::Emulator, 3600, 7200).await;
    stack.wetix.set_rotation(true);
    stack
        .put_client_secret("wetix-client", CLIENT_ID, CLIENT_SECRET)
        .await;
    stack.start_operator().await;
    stack.create_credential("ticketing", json!({})).await;
    stack.wait_ready("ticketing", "TokenIssued").await;

    let faults = stack.cluster.emulator().faults();
    faults.fail_next_writes_for("secrets", "patch", 4, 422);
    stack.request_refresh("ticketing", "now-1").await;
    let refused = stack
        .wait_not_ready("ticketing", "KubernetesApiError")
        .await;
    let status = refused.status.clone().unwrap();
    let message = &refused.ready_condition().unwrap().message;
    assert!(message.contains("422"), "{message}");
    assert!(status.access_token_expires_at.is_some(), "token facts kept");

    let done = stack.wait_ready("ticketing", "TokenRefreshed").await;
    assert_eq!(done.status.unwrap().last_refresh_request, "now-1");
    assert_eq!(
        stack.calls_to(fake_wetix::Endpoint::Refresh),
        1,
        "one WeTix call; the refused write was retried with its single-use tokens"
    );
    assert!(stack.events_text().await.contains("KubernetesApiError"));
}

async fn a_refused_server_url_never_echoes_its_user_or_password(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    let url = "https://wetix-user:pa55w0rd-value@oauth.example/base";
    stack
        .create_credential("leaky", json!({"server": {"url": url}}))
        .await;
    let refused = stack.wait_not_ready("leaky", "InvalidSpec").await;
    let message = &refused.ready_condition().unwrap().message;
    assert!(message.contains("spec.server.url"), "{message}");
    let seen = format!(
        "{}\n{}\n{}",
        serde_json::to_string(&refused.status).unwrap(),
        stack.events_text().await,
        stack.logs()
    );
    for secret in ["pa55w0rd-value", "wetix-user"] {
        assert!(!seen.contains(secret), "{secret} echoed:\n{seen}");
    }
    assert!(stack.wetix.calls().is_empty());
}

async fn a_path_that_would_move_the_host_is_refused_naming_the_field(server: Server) {
    let stack = Stack::running(server, 3600, 7200).await;
    // The schema's pattern (^/\S*$) allows it; appended to a base, `@` makes the rest a host.
    stack
        .create_credential(
            "moved",
            json!({"server": {"tokenPath": "/@evil.example/x"}}),
        )
        .await;
    let refused = stack.wait_not_ready("moved", "InvalidSpec").await;
    let message = &refused.ready_condition().unwrap().message;
    assert!(message.contains("spec.server.tokenPath"), "{message}");
    assert!(stack.wetix.calls().is_empty(), "no request was made");
}
