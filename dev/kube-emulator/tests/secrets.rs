//! Typed Secret CRUD through kube-rs: metadata the server sets (M1–M3), Secret rules (X7),
//! optimistic concurrency (X2) and error shapes (S1/S2).

mod common;

use common::{Target, api_error, on_both, rv};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"a": "x"}})).unwrap()
}

async fn create_sets_uid_timestamp_and_rv_and_folds_string_data_into_data(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let mut s = secret("a");
    s.metadata.uid = Some("x".into());
    s.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2000-01-01T00:00:00Z".parse().unwrap(),
    ));
    let created = api.create(&PostParams::default(), &s).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    assert_ne!(uid, "x");
    assert_eq!(uid.len(), 36);
    assert!(created.metadata.creation_timestamp.unwrap().0.as_second() > 1_700_000_000);
    assert_eq!(created.data.unwrap()["a"].0, b"x");
    assert!(created.string_data.is_none());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert_eq!(created.metadata.namespace.as_deref(), Some(t.ns.as_str()));
    let fetched = api.get("a").await.unwrap();
    assert_eq!(fetched.metadata.uid.as_deref(), Some(uid.as_str()));
}

async fn resource_version_grows_across_writes_and_a_no_op_patch_keeps_it(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let a = api
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let b = api
        .create(&PostParams::default(), &secret("b"))
        .await
        .unwrap();
    assert!(rv(&b) > rv(&a));
    let labelled = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"k": "v"}}})),
        )
        .await
        .unwrap();
    assert!(rv(&labelled) > rv(&b));
    let again = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"k": "v"}}})),
        )
        .await
        .unwrap();
    assert_eq!(rv(&again), rv(&labelled));
}

async fn second_create_is_409_already_exists_with_details(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let s = api_error(
        api.create(&PostParams::default(), &secret("a"))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(s.message, "secrets \"a\" already exists");
    let d = s.details.unwrap();
    assert_eq!(
        (d.name.as_str(), d.kind.as_str(), d.group.as_str()),
        ("a", "secrets", "")
    );
}

async fn replace_with_stale_resource_version_is_409_conflict(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let mut first = created.clone();
    first.metadata.labels = Some([("n".to_string(), "1".to_string())].into());
    api.replace("a", &PostParams::default(), &first)
        .await
        .unwrap();
    let s = api_error(
        api.replace("a", &PostParams::default(), &created)
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(
        s.message.contains("the object has been modified"),
        "{}",
        s.message
    );
}

async fn missing_secret_is_404_not_found_and_get_opt_is_none(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    assert!(api.get_opt("nope").await.unwrap().is_none());
    let s = api_error(api.get("nope").await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
    assert_eq!(s.message, "secrets \"nope\" not found");
}

async fn delete_answers_status_success_with_plural_kind(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let gone = api.delete("a", &DeleteParams::default()).await.unwrap();
    let status = gone.right().expect("a Status for an immediate delete");
    assert!(status.is_success());
    assert_eq!(status.details.unwrap().kind, "secrets");
    assert!(api.get_opt("a").await.unwrap().is_none());
}

async fn changing_the_type_of_a_secret_is_422_invalid(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let err = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"type": "kubernetes.io/tls"})),
        )
        .await
        .unwrap_err();
    let s = api_error(err);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert_eq!(s.details.unwrap().causes[0].field, "type");
}

async fn two_controller_owner_references_are_422(t: Target) {
    let api: Api<Secret> = Api::default_namespaced(t.client.clone());
    let owner = |uid: &str| json!({"apiVersion": "v1", "kind": "Secret", "name": "o", "uid": uid, "controller": true});
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "a", "ownerReferences": [owner("u1"), owner("u2")]}}),
    )
    .unwrap();
    let s = api_error(api.create(&PostParams::default(), &s).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        s.details.unwrap().causes[0].field,
        "metadata.ownerReferences"
    );
    // An exact repeat of one reference is dropped, not refused.
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "b", "ownerReferences": [owner("u1"), owner("u1")]}}),
    )
    .unwrap();
    let made = api.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(made.metadata.owner_references.unwrap().len(), 1);
}

async fn generate_name_gives_distinct_names_with_the_prefix(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let s: Secret = serde_json::from_value(json!({"metadata": {"generateName": "x-"}})).unwrap();
    let a = api
        .create(&PostParams::default(), &s)
        .await
        .unwrap()
        .metadata
        .name
        .unwrap();
    let b = api
        .create(&PostParams::default(), &s)
        .await
        .unwrap()
        .metadata
        .name
        .unwrap();
    assert!(a.starts_with("x-") && a.len() == 7, "{a}");
    assert_ne!(a, b);
}

async fn strategic_merge_patch_merges_maps_and_null_removes(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let p = json!({"metadata": {"labels": {"l": "1"}}, "data": {"b": "eQ=="}});
    api.patch("a", &PatchParams::default(), &Patch::Strategic(p))
        .await
        .unwrap();
    let p = json!({"data": {"a": null}});
    let s = api
        .patch("a", &PatchParams::default(), &Patch::Strategic(p))
        .await
        .unwrap();
    let keys: Vec<&String> = s.data.as_ref().unwrap().keys().collect();
    assert_eq!(keys, vec!["b"]);
    assert_eq!(s.metadata.labels.unwrap()["l"], "1");
}

on_both!(
    create_sets_uid_timestamp_and_rv_and_folds_string_data_into_data,
    resource_version_grows_across_writes_and_a_no_op_patch_keeps_it,
    second_create_is_409_already_exists_with_details,
    replace_with_stale_resource_version_is_409_conflict,
    missing_secret_is_404_not_found_and_get_opt_is_none,
    delete_answers_status_success_with_plural_kind,
    changing_the_type_of_a_secret_is_422_invalid,
    two_controller_owner_references_are_422,
    generate_name_gives_distinct_names_with_the_prefix,
    strategic_merge_patch_merges_maps_and_null_removes,
);
