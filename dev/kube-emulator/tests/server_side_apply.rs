//! Server-side apply (X4, M5) and the Lease traffic of a lease manager (E4, E5).

mod common;

use common::{Target, api_error, api_version, foo_crd, foos, on_both};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn foo_apply(spec: serde_json::Value) -> Patch<serde_json::Value> {
    Patch::Apply(
        json!({"apiVersion": api_version(), "kind": "Foo", "metadata": {"name": "a"}, "spec": spec}),
    )
}

async fn apply_creates_then_conflicts_with_another_manager_until_forced(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    let created = api
        .patch("a", &PatchParams::apply("a"), &foo_apply(json!({"x": 1})))
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["x"], 1);
    let err = api
        .patch("a", &PatchParams::apply("b"), &foo_apply(json!({"x": 2})))
        .await
        .unwrap_err();
    let s = api_error(err);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    let cause = &s.details.unwrap().causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.field.as_str()),
        ("FieldManagerConflict", ".spec.x")
    );
    assert!(
        cause.message.contains("conflict with \"a\""),
        "{}",
        cause.message
    );
    let forced = api
        .patch(
            "a",
            &PatchParams::apply("b").force(),
            &foo_apply(json!({"x": 2})),
        )
        .await
        .unwrap();
    assert_eq!(forced.data["spec"]["x"], 2);
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec!["b"]);
}

async fn apply_of_the_same_value_by_two_managers_shares_ownership(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    api.patch("a", &PatchParams::apply("a"), &foo_apply(json!({"x": 1})))
        .await
        .unwrap();
    let shared = api
        .patch("a", &PatchParams::apply("b"), &foo_apply(json!({"x": 1})))
        .await
        .unwrap();
    assert_eq!(shared.metadata.managed_fields.unwrap().len(), 2);
    // `a` stops applying x; `b` still owns it, so it stays.
    let kept = api
        .patch("a", &PatchParams::apply("a"), &foo_apply(json!({})))
        .await
        .unwrap();
    assert_eq!(kept.data["spec"]["x"], 1);
}

async fn apply_removes_fields_its_manager_stops_applying(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let pp = PatchParams::apply("op");
    let body = |labels: serde_json::Value, data: serde_json::Value| {
        Patch::Apply(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": labels}, "data": data}),
        )
    };
    let first = api
        .patch(
            "s",
            &pp,
            &body(
                json!({"a": "1", "b": "2"}),
                json!({"k": "dg==", "j": "dg=="}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(first.metadata.labels.as_ref().unwrap().len(), 2);
    let second = api
        .patch("s", &pp, &body(json!({"a": "1"}), json!({"k": "dg=="})))
        .await
        .unwrap();
    assert_eq!(
        second.metadata.labels.unwrap().keys().collect::<Vec<_>>(),
        vec!["a"]
    );
    assert_eq!(second.data.unwrap().keys().collect::<Vec<_>>(), vec!["k"]);
}

async fn managed_fields_record_apply_and_update_managers(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let apply = Patch::Apply(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}),
    );
    api.patch("s", &PatchParams::apply("op"), &apply)
        .await
        .unwrap();
    let merged = api
        .patch(
            "s",
            &PatchParams {
                field_manager: Some("x".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"metadata": {"labels": {"l": "1"}}})),
        )
        .await
        .unwrap();
    let entries: Vec<(String, String)> = merged
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| (m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(
        entries,
        vec![("op".into(), "Apply".into()), ("x".into(), "Update".into())]
    );
}

async fn apply_without_field_manager_is_422_and_yaml_bodies_are_accepted(t: Target) {
    let client = t.client.clone();
    let url = format!("/api/v1/namespaces/{}/secrets/from-yaml", t.ns);
    let req = http::Request::patch(url.clone())
        .header("content-type", "application/apply-patch+yaml")
        .body(
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-yaml\nstringData:\n  a: x\n"
                .to_vec(),
        )
        .unwrap();
    let s = api_error(client.request::<serde_json::Value>(req).await.unwrap_err());
    assert_eq!(
        (s.code, s.details.unwrap().kind.as_str()),
        (422, "PatchOptions")
    );
    let req = http::Request::patch(format!("{url}?fieldManager=m"))
        .header("content-type", "application/apply-patch+yaml")
        .body(
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-yaml\nstringData:\n  a: x\n"
                .to_vec(),
        )
        .unwrap();
    let created: Secret = client.request(req).await.unwrap();
    assert_eq!(created.data.unwrap()["a"].0, b"x");
}

async fn deployment_strategic_merge_keeps_existing_pod_template_annotations(t: Target) {
    let client = t.client.clone();
    let api: Api<Deployment> = Api::default_namespaced(client);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
            "metadata": {"labels": {"app": "d"}, "annotations": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.unwrap();
    let restart =
        json!({"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}});
    let patched = api
        .patch("d", &PatchParams::default(), &Patch::Strategic(restart))
        .await
        .unwrap();
    let ann = patched.spec.template.metadata.unwrap().annotations.unwrap();
    assert_eq!(
        (ann["a"].as_str(), ann["restartedAt"].as_str()),
        ("1", "now")
    );
    assert_eq!(patched.metadata.generation, Some(2));
}

fn lease_apply(holder: &str) -> Patch<serde_json::Value> {
    Patch::Apply(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
            "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": "2026-01-01T00:00:00.000000Z"}
    }))
}

async fn lease_contender_conflicts_until_the_holder_releases_by_strategic_merge(t: Target) {
    let client = t.client.clone();
    let api: Api<Lease> = Api::default_namespaced(client);
    let empty: Lease =
        serde_json::from_value(json!({"metadata": {"name": "l"}, "spec": {}})).unwrap();
    api.create(&PostParams::default(), &empty).await.unwrap();
    assert!(
        api_error(
            api.create(&PostParams::default(), &empty)
                .await
                .unwrap_err()
        )
        .is_already_exists()
    );
    api.patch("l", &PatchParams::apply("A"), &lease_apply("A"))
        .await
        .unwrap();
    let s = api_error(
        api.patch("l", &PatchParams::apply("B"), &lease_apply("B"))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    let release = json!({"spec": {"holderIdentity": null, "acquireTime": null, "renewTime": null, "leaseDurationSeconds": null}});
    let released = api
        .patch("l", &PatchParams::default(), &Patch::Strategic(release))
        .await
        .unwrap();
    assert!(released.spec.unwrap().holder_identity.is_none());
    let taken = api
        .patch("l", &PatchParams::apply("B"), &lease_apply("B"))
        .await
        .unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("B"));
    let bad = api
        .patch(
            "l",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"leaseDurationSeconds": 0}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(bad).code, 422);
}

on_both!(
    apply_creates_then_conflicts_with_another_manager_until_forced,
    apply_of_the_same_value_by_two_managers_shares_ownership,
    apply_removes_fields_its_manager_stops_applying,
    managed_fields_record_apply_and_update_managers,
    apply_without_field_manager_is_422_and_yaml_bodies_are_accepted,
    deployment_strategic_merge_keeps_existing_pod_template_annotations,
    lease_contender_conflicts_until_the_holder_releases_by_strategic_merge,
);
