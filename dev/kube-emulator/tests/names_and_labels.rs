//! ObjectMeta syntax as the real server checks it: object names, generateName, label keys and
//! values, annotation keys and size. Violations answer 422 Invalid with the real messages.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn secret(meta: Value) -> Secret {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta})).unwrap()
}

/// (reason, field, message) of every cause.
fn causes(s: &kube::core::Status) -> Vec<(String, String, String)> {
    s.details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.reason.clone(), c.field.clone(), c.message.clone()))
                .collect()
        })
        .unwrap_or_default()
}

async fn a_secret_with_an_invalid_name_is_refused_with_the_real_servers_422(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let e = api
        .create(&PostParams::default(), &secret(json!({"name": "Bad_Name"})))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        format!(
            "Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN_RULE}"
        )
    );
    let d = e.details.as_ref().unwrap();
    assert_eq!((d.name.as_str(), d.kind.as_str()), ("Bad_Name", "Secret"));
    assert_eq!(
        causes(&e),
        [(
            "FieldValueInvalid".to_string(),
            "metadata.name".to_string(),
            format!("Invalid value: \"Bad_Name\": {SUBDOMAIN_RULE}")
        )]
    );
    assert!(api.get_opt("Bad_Name").await.unwrap().is_none());
    // Dots are fine in a subdomain; 253 characters are the limit.
    let ok = format!("{}.b", "a".repeat(251));
    api.create(&PostParams::default(), &secret(json!({"name": ok})))
        .await
        .unwrap();
    let long = "a".repeat(254);
    let e = api
        .create(&PostParams::default(), &secret(json!({"name": long})))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(
        causes(&e),
        [(
            "FieldValueInvalid".to_string(),
            "metadata.name".to_string(),
            format!("Invalid value: \"{long}\": must be no more than 253 characters")
        )]
    );
}

async fn namespace_names_are_dns_labels(t: Target) {
    let client = t.client.clone();
    let api: Api<Namespace> = Api::all(client);
    let ns = |name: &str| -> Namespace {
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
    };
    let e = api
        .create(&PostParams::default(), &ns("team.a"))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(e.code, 422);
    assert_eq!(
        e.message,
        "Namespace \"team.a\" is invalid: metadata.name: Invalid value: \"team.a\": must not contain dots"
    );
    // Names of this test's own: namespaces are cluster-wide.
    let unique = format!("{:x}", std::process::id());
    let name = |len: usize| format!("{unique}{}", "a".repeat(len - unique.len()));
    let e = api
        .create(&PostParams::default(), &ns(&name(64)))
        .await
        .map_err(api_error)
        .unwrap_err();
    // The real server also refuses the name as the value of the label it adds.
    assert!(
        causes(&e).contains(&(
            "FieldValueInvalid".to_string(),
            "metadata.name".to_string(),
            format!(
                "Invalid value: \"{}\": must be no more than 63 characters",
                name(64)
            )
        )),
        "{}",
        e.message
    );
    let e = api
        .create(&PostParams::default(), &ns("Team_A"))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Namespace \"Team_A\" is invalid: metadata.name: Invalid value: \"Team_A\": {LABEL_RULE}"
        )
    );
    let made = api
        .create(&PostParams::default(), &ns(&name(63)))
        .await
        .unwrap();
    // What the real server adds to every new namespace.
    assert_eq!(
        made.metadata.labels.unwrap()["kubernetes.io/metadata.name"],
        name(63)
    );
    assert_eq!(made.spec.unwrap().finalizers.unwrap(), ["kubernetes"]);
    assert_eq!(made.status.unwrap().phase.as_deref(), Some("Active"));
    api.delete(&name(63), &Default::default()).await.unwrap();
}

async fn generated_names_and_their_prefixes_are_checked_too(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let made = api
        .create(
            &PostParams::default(),
            &secret(json!({"generateName": "ok-"})),
        )
        .await
        .unwrap();
    assert!(made.metadata.name.unwrap().starts_with("ok-"));
    let e = api
        .create(
            &PostParams::default(),
            &secret(json!({"generateName": "Bad-"})),
        )
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(e.code, 422);
    let fields: Vec<String> = causes(&e).into_iter().map(|c| c.1).collect();
    assert!(
        fields.contains(&"metadata.generateName".to_string()),
        "{fields:?}"
    );
    assert!(fields.contains(&"metadata.name".to_string()), "{fields:?}");
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);
}

async fn an_apply_that_would_create_an_invalid_name_is_refused(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client.clone());
    let e = api
        .patch(
            "Bad_Name",
            &PatchParams::apply("op"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Bad_Name"}}),
            ),
        )
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(causes(&e)[0].1, "metadata.name");
    // Custom resources follow the same rule, with their own kind in the message.
    t.install_crd(foo_crd()).await;
    let e = foos(&client)
        .create(&PostParams::default(), &foo("Bad_Name", json!({})))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(e.code, 422);
    assert!(
        e.message.starts_with(&format!("Foo.{} \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain", group())),
        "{}",
        e.message
    );
}

async fn label_keys_label_values_and_annotations_are_checked(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let refuse = |meta: Value| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &secret(meta))
                .await
                .map_err(api_error)
                .unwrap_err()
        }
    };
    let e = refuse(json!({"name": "a", "labels": {"bad key": "v"}})).await;
    assert_eq!(
        causes(&e),
        [(
            "FieldValueInvalid".to_string(),
            "metadata.labels".to_string(),
            "Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()
        )]
    );
    let long = "v".repeat(64);
    let e = refuse(json!({"name": "a", "labels": {"example.com/k": long}})).await;
    assert_eq!(
        causes(&e),
        [(
            "FieldValueInvalid".to_string(),
            "metadata.labels".to_string(),
            format!("Invalid value: \"{long}\": must be no more than 63 bytes")
        )]
    );
    let e = refuse(json!({"name": "a", "labels": {"Example.com/k": "v"}})).await;
    assert!(
        causes(&e)[0]
            .2
            .contains("prefix part a lowercase RFC 1123 subdomain")
    );
    let e = refuse(json!({"name": "a", "annotations": {"a/b/c": "v"}})).await;
    assert_eq!(causes(&e)[0].1, "metadata.annotations");
    let e = refuse(json!({"name": "a", "annotations": {"big": "x".repeat(256 * 1024)}})).await;
    assert_eq!(
        causes(&e),
        [(
            "FieldValueTooLong".to_string(),
            "metadata.annotations".to_string(),
            "Too long: may not be more than 262144 bytes".to_string()
        )]
    );
    // Annotation keys are case-insensitive; empty label values are allowed.
    api.create(
        &PostParams::default(),
        &secret(json!({"name": "a", "labels": {"example.com/k": ""},
            "annotations": {"Example.com/Note": "x".repeat(256 * 1024 - 16)}})),
    )
    .await
    .unwrap();
}

on_both!(
    a_secret_with_an_invalid_name_is_refused_with_the_real_servers_422,
    namespace_names_are_dns_labels,
    generated_names_and_their_prefixes_are_checked_too,
    an_apply_that_would_create_an_invalid_name_is_refused,
    label_keys_label_values_and_annotations_are_checked,
);
