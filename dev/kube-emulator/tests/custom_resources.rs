//! Custom resources: CRD installation (Y2), schema defaults/pruning/validation (D1–D3),
//! generation (M4), the status subresource (X5), finalizers (M6) and patch types (X3).

mod common;

use common::{
    Target, api_error, api_version, crd_of, foo, foo_crd, foos, group, on_both, resource_of, rv,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

async fn crd_created_through_the_api_is_established_and_served(t: Target) {
    // A kind of this test's own: the other tests install `foos` with `install_crd`.
    let crds: Api<CustomResourceDefinition> = Api::all(t.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(crd_of("bars", "Bar")).unwrap();
    let name = format!("bars.{}", group());
    crds.create(&PostParams::default(), &crd).await.unwrap();
    common::wait_established(&crds, &name).await;
    let bars: Api<DynamicObject> =
        Api::default_namespaced_with(t.client.clone(), &resource_of("bars", "Bar"));
    let bar: DynamicObject = serde_json::from_value(json!({
        "apiVersion": api_version(), "kind": "Bar", "metadata": {"name": "a"}, "spec": {"x": 1},
    }))
    .unwrap();
    let created = bars.create(&PostParams::default(), &bar).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    crds.delete(&name, &DeleteParams::default()).await.unwrap();
}

async fn schema_defaults_fill_absent_fields_and_unknown_fields_are_pruned(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    let created = api
        .create(
            &PostParams::default(),
            &foo("a", json!({"x": 1, "bogus": 2})),
        )
        .await
        .unwrap();
    assert_eq!(created.data["spec"], json!({"x": 1, "replicas": 1}));
    assert_eq!(
        api.get("a").await.unwrap().data["spec"],
        json!({"x": 1, "replicas": 1})
    );
}

async fn schema_violations_are_422_invalid_with_one_cause_per_field(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    let bad = foo(
        "a",
        json!({"x": "nope", "replicas": 11, "mode": "medium", "name": "UPPER"}),
    );
    let s = api_error(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    let details = s.details.unwrap();
    assert_eq!(details.kind, "Foo");
    assert_eq!(details.group, group());
    let mut fields: Vec<String> = details.causes.iter().map(|c| c.field.clone()).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec!["spec.mode", "spec.name", "spec.replicas", "spec.x"]
    );
}

async fn generation_moves_only_on_spec_changes(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    let pp = PatchParams::default();
    assert_eq!(
        api.create(&PostParams::default(), &foo("a", json!({"x": 1})))
            .await
            .unwrap()
            .metadata
            .generation,
        Some(1)
    );
    let labelled = api
        .patch(
            "a",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"l": "1"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    let spec = api
        .patch("a", &pp, &Patch::Merge(json!({"spec": {"x": 2}})))
        .await
        .unwrap();
    assert_eq!(spec.metadata.generation, Some(2));
    let status = api
        .patch_status("a", &pp, &Patch::Merge(json!({"status": {"ok": true}})))
        .await
        .unwrap();
    assert_eq!(status.metadata.generation, Some(2));
    let same = api
        .patch("a", &pp, &Patch::Merge(json!({"spec": {"x": 2}})))
        .await
        .unwrap();
    assert_eq!(same.metadata.generation, Some(2));
    assert_eq!(rv(&same), rv(&status));
}

async fn status_writes_touch_only_status_and_main_writes_ignore_status(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    let pp = PatchParams::default();
    let mut with_status = foo("a", json!({"x": 1}));
    with_status.data["status"] = json!({"ok": true});
    let created = api
        .create(&PostParams::default(), &with_status)
        .await
        .unwrap();
    assert!(created.data.get("status").is_none());
    let patched = api
        .patch_status("a", &pp, &Patch::Merge(json!({"spec": {"x": 9}, "metadata": {"labels": {"l": "1"}}, "status": {"ok": true}})))
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["x"], 1);
    assert_eq!(patched.data["status"]["ok"], true);
    assert!(patched.metadata.labels.is_none());
    let main = api
        .patch("a", &pp, &Patch::Merge(json!({"status": {"ok": false}})))
        .await
        .unwrap();
    assert_eq!(main.data["status"]["ok"], true);
    let applied = api
        .patch_status(
            "a",
            &PatchParams::apply("op"),
            &Patch::Apply(json!({
            "apiVersion": api_version(), "kind": "Foo", "status": {"observedGeneration": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.data["status"]["observedGeneration"], 1);
    let entry = applied
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("op"))
        .unwrap();
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
}

async fn replace_without_resource_version_is_422_for_custom_resources(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    api.create(&PostParams::default(), &foo("a", json!({"x": 1})))
        .await
        .unwrap();
    let s = api_error(
        api.replace("a", &PostParams::default(), &foo("a", json!({"x": 2})))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert_eq!(
        s.details.unwrap().causes[0].field,
        "metadata.resourceVersion"
    );
}

async fn delete_with_finalizer_marks_and_removing_the_finalizer_deletes(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    let mut f = foo("a", json!({"x": 1}));
    f.metadata.finalizers = Some(vec!["a/b".into()]);
    api.create(&PostParams::default(), &f).await.unwrap();
    let marked = api
        .delete("a", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the object");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.generation, Some(2));
    let s = api_error(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["a/b", "c/d"]}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["a/b"]},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]))
    .unwrap();
    api.patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    assert!(api.get_opt("a").await.unwrap().is_none());
}

async fn failed_json_patch_test_is_422_and_strategic_merge_on_a_custom_resource_is_415(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let api = foos(&client);
    api.create(&PostParams::default(), &foo("a", json!({"x": 1})))
        .await
        .unwrap();
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/x", "value": 2}])).unwrap();
    let s = api_error(
        api.patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    let s = api_error(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"x": 3}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (415, "UnsupportedMediaType"));
}

async fn missing_custom_resource_is_404_with_group_in_details(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let s = api_error(foos(&client).get("x").await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
    let d = s.details.unwrap();
    assert_eq!(
        (d.name.as_str(), d.group.as_str(), d.kind.as_str()),
        ("x", group(), "foos")
    );
}

on_both!(
    crd_created_through_the_api_is_established_and_served,
    schema_defaults_fill_absent_fields_and_unknown_fields_are_pruned,
    schema_violations_are_422_invalid_with_one_cause_per_field,
    generation_moves_only_on_spec_changes,
    status_writes_touch_only_status_and_main_writes_ignore_status,
    replace_without_resource_version_is_422_for_custom_resources,
    delete_with_finalizer_marks_and_removing_the_finalizer_deletes,
    failed_json_patch_test_is_422_and_strategic_merge_on_a_custom_resource_is_415,
    missing_custom_resource_is_404_with_group_in_details,
);
