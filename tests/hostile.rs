//! Hostile objects: a WetixCredential whose spec or status does not read as today's types
//! affects only itself, before and after a restart. On both servers (see `support::cluster`).

mod support;

use kube::{
    Api,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
};
use serde_json::json;
use support::*;
use wetix_operator::credential::WetixCredential;

on_both!(one_unreadable_credential_never_stops_the_others_before_or_after_a_restart);

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
