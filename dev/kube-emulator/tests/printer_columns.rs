//! Server-side printing: the `meta.k8s.io` Table form (`Accept: ...;as=Table`) with a CRD's
//! additionalPrinterColumns, checked as JSON and through `kubectl get`.

mod common;

use common::{Target, group, on_both, on_emulator};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// `widgets.<group>` with printer columns: a conditions filter, a priority-1 column
/// (shown by `-o wide`), an integer and a date.
fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{}", group())},
        "spec": {
            "group": group(),
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": [short_name()]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason"},
                    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode", "priority": 1},
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "description": "How big"},
                    {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer"},
                            "mode": {"type": "string"}
                        }},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

/// The widgets' short name, of this test binary's own like [`group`] (kubectl resolves
/// `widgets` and short names across all groups of the control plane).
fn short_name() -> String {
    format!("wd{:x}", std::process::id())
}

/// `widgets.<group>`, for kubectl.
fn qualified() -> String {
    format!("widgets.{}", group())
}

fn widgets(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: group().into(),
        version: "v1".into(),
        api_version: common::api_version(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    Api::default_namespaced_with(client.clone(), &ar)
}

/// RFC 3339 time `seconds` from now (negative for the past).
fn time_from_now(seconds: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Creates widget `name` with `spec` and, when given, `status` through the status subresource.
async fn create_widget(client: &kube::Client, name: &str, spec: Value, status: Option<Value>) {
    let api = widgets(client);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": common::api_version(), "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
    if let Some(status) = status {
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
    }
}

/// A ready widget `w1` started three hours ago (shown as `3h`) and a bare widget `w2`.
async fn seed_widgets(client: &kube::Client) {
    create_widget(
        client,
        "w1",
        json!({"size": 3, "mode": "fast"}),
        Some(json!({
            "conditions": [
                {"type": "Synced", "status": "False", "reason": "Other"},
                {"type": "Ready", "status": "True", "reason": "Fresh"}
            ],
            "startedAt": time_from_now(-3 * 3600),
        })),
    )
    .await;
    create_widget(client, "w2", json!({}), None).await;
}

fn get_request(path: &str, accept: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path)
        .header("accept", accept)
        .body(Vec::new())
        .unwrap()
}

/// GET `path` with `accept`: the status code and the JSON body (the Status on errors).
async fn get_json(client: &kube::Client, path: &str, accept: &str) -> (u16, Value) {
    match client.request_text(get_request(path, accept)).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap()),
        Err(e) => {
            let status = common::api_error(e);
            (status.code, serde_json::to_value(&status).unwrap())
        }
    }
}

fn column_names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

async fn list_as_table_has_printer_columns_and_metadata_rows(t: Target) {
    let client = t.client.clone();
    t.install_crd(widget_crd()).await;
    seed_widgets(&client).await;
    let path = &format!("/apis/{}/v1/namespaces/{}/widgets", group(), t.ns);
    let (code, table) = get_json(&client, path, TABLE_ACCEPT).await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert!(table["metadata"]["resourceVersion"].is_string());
    assert_eq!(
        column_names(&table),
        ["Name", "Ready", "Reason", "Mode", "Size", "Started"]
    );
    let defs = &table["columnDefinitions"];
    assert_eq!(
        defs[0],
        json!({"name": "Name", "type": "string", "format": "name", "description": defs[0]["description"], "priority": 0})
    );
    assert!(
        defs[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("Name must be unique")
    );
    assert_eq!(defs[3]["priority"], 1);
    assert_eq!(defs[4]["description"], "How big");
    assert_eq!(defs[5]["type"], "date");

    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["cells"],
        json!(["w1", "True", "Fresh", "fast", 3, "3h"])
    );
    assert_eq!(
        rows[1]["cells"],
        json!(["w2", null, null, null, null, null])
    );
    let object = &rows[0]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"]["name"], "w1");
    assert!(object.get("spec").is_none());
}

async fn include_object_selects_what_rows_carry(t: Target) {
    let client = t.client.clone();
    t.install_crd(widget_crd()).await;
    seed_widgets(&client).await;
    let path = &format!("/apis/{}/v1/namespaces/{}/widgets", group(), t.ns);
    let (_, full) = get_json(
        &client,
        &format!("{path}?includeObject=Object"),
        TABLE_ACCEPT,
    )
    .await;
    let object = &full["rows"][0]["object"];
    assert_eq!(object["kind"], "Widget");
    assert_eq!(object["apiVersion"], common::api_version());
    assert_eq!(object["spec"]["size"], 3);
    let (_, none) = get_json(&client, &format!("{path}?includeObject=None"), TABLE_ACCEPT).await;
    assert_eq!(none["rows"][0]["object"], Value::Null);
    assert_eq!(none["rows"][0]["cells"][0], "w1");
    let (code, status) = get_json(
        &client,
        &format!("{path}?includeObject=Everything"),
        TABLE_ACCEPT,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(status["reason"], "BadRequest");
}

async fn single_object_table_and_the_v1beta1_form(t: Target) {
    let client = t.client.clone();
    t.install_crd(widget_crd()).await;
    seed_widgets(&client).await;
    let rv = widgets(&client)
        .get("w1")
        .await
        .unwrap()
        .metadata
        .resource_version;
    let path = &format!("/apis/{}/v1/namespaces/{}/widgets/w1", group(), t.ns);
    let (code, table) = get_json(&client, path, TABLE_ACCEPT).await;
    assert_eq!(code, 200);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["metadata"]["resourceVersion"], json!(rv));
    assert_eq!(table["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        table["rows"][0]["cells"].as_array().unwrap()[0..3],
        [json!("w1"), json!("True"), json!("Fresh")]
    );

    let beta = "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let (_, table) = get_json(&client, path, beta).await;
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1beta1");

    // Without a Table in the Accept header the object itself comes back.
    let (_, plain) = get_json(&client, path, "application/json").await;
    assert_eq!(plain["kind"], "Widget");
}

async fn crd_without_columns_and_builtins_get_name_and_age(t: Target) {
    let client = t.client.clone();
    t.install_crd(common::foo_crd()).await;
    common::foos(&client)
        .create(&PostParams::default(), &common::foo("a", json!({"x": 1})))
        .await
        .unwrap();
    let (_, table) = get_json(
        &client,
        &format!("/apis/{}/v1/namespaces/{}/foos", group(), t.ns),
        TABLE_ACCEPT,
    )
    .await;
    assert_eq!(column_names(&table), ["Name", "Age"]);
    let age = table["rows"][0]["cells"][1].as_str().unwrap();
    assert!(matches!(age, "0s" | "1s" | "2s"), "{age}");

    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "s"},
        "data": {"a": "eA==", "b": "eQ=="},
    }))
    .unwrap();
    Api::<Secret>::default_namespaced(client.clone())
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let (_, table) = get_json(
        &client,
        &format!("/api/v1/namespaces/{}/secrets", t.ns),
        TABLE_ACCEPT,
    )
    .await;
    assert_eq!(column_names(&table), ["Name", "Type", "Data", "Age"]);
    assert_eq!(
        table["rows"][0]["cells"].as_array().unwrap()[0..3],
        [json!("s"), json!("Opaque"), json!(2)]
    );
}

async fn watch_as_table_sends_columns_once(t: Target) {
    let client = t.client.clone();
    t.install_crd(widget_crd()).await;
    let path = &format!(
        "/apis/{}/v1/namespaces/{}/widgets?watch=true&timeoutSeconds=5",
        group(),
        t.ns
    );
    let body = client
        .request_stream(get_request(path, TABLE_ACCEPT))
        .await
        .unwrap();
    seed_widgets(&client).await;
    let events: Vec<Value> = body
        .lines()
        .take(3)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
        .await;
    // w1 ADDED, w1 MODIFIED by the status write, w2 ADDED.
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["kind"], "Table");
    assert_eq!(column_names(&events[0]["object"])[1], "Ready");
    assert_eq!(events[1]["type"], "MODIFIED");
    assert_eq!(events[1]["object"]["columnDefinitions"], Value::Null);
    assert_eq!(events[1]["object"]["rows"][0]["cells"][1], "True");
    assert_eq!(events[2]["object"]["rows"][0]["cells"][0], "w2");
}

/// The whitespace-separated words of each output line.
fn words(output: &str) -> Vec<Vec<&str>> {
    output
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}

async fn kubectl_get_shows_printer_columns(t: Target) {
    let client = t.client.clone();
    let Some(kubectl) = t.kubectl() else {
        eprintln!("no kubectl; skipping");
        return;
    };
    t.install_crd(widget_crd()).await;
    seed_widgets(&client).await;

    let out = kubectl.run(&["get", &qualified(), "-n", &t.ns]).await;
    assert_eq!(
        words(&out),
        [
            vec!["NAME", "READY", "REASON", "SIZE", "STARTED"],
            vec!["w1", "True", "Fresh", "3", "3h"],
            // kubectl leaves null cells blank.
            vec!["w2"],
        ],
        "{out}"
    );

    let out = kubectl
        .run(&["get", &short_name(), "w1", "-o", "wide"])
        .await;
    assert_eq!(
        words(&out),
        [
            vec!["NAME", "READY", "REASON", "MODE", "SIZE", "STARTED"],
            vec!["w1", "True", "Fresh", "fast", "3", "3h"],
        ],
        "{out}"
    );

    let out = kubectl.run(&["get", &qualified(), "-A"]).await;
    assert_eq!(
        words(&out)[0],
        ["NAMESPACE", "NAME", "READY", "REASON", "SIZE", "STARTED"],
        "{out}"
    );
    // Other tests' widgets may be listed too on a shared control plane.
    assert!(
        words(&out)
            .iter()
            .any(|w| w.starts_with(&[t.ns.as_str(), "w1", "True"])),
        "{out}"
    );

    let out = kubectl
        .run(&["get", &qualified(), "--show-labels", "--no-headers"])
        .await;
    assert_eq!(
        words(&out)[0],
        ["w1", "True", "Fresh", "3", "3h", "<none>"],
        "{out}"
    );
}

async fn kubectl_get_watch_prints_new_rows(t: Target) {
    let client = t.client.clone();
    let Some(kubectl) = t.kubectl() else {
        eprintln!("no kubectl; skipping");
        return;
    };
    t.install_crd(widget_crd()).await;
    create_widget(&client, "w0", json!({"size": 1}), None).await;
    let mut child = kubectl
        .command(&["get", &qualified(), "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("kubectl printed nothing")
            .expect("kubectl exited")
    };
    lines.push(next().await);
    lines.push(next().await);
    create_widget(&client, "w9", json!({"size": 9}), None).await;
    lines.push(next().await);
    child.kill().unwrap();
    let _ = child.wait();
    let text = lines.join("\n");
    let w = words(&text);
    assert_eq!(
        w[0],
        ["NAME", "READY", "REASON", "SIZE", "STARTED"],
        "{text}"
    );
    assert_eq!(w[1][0], "w0", "{text}");
    assert_eq!(w[2], ["w9", "9"], "{text}");
    // The SIZE value sits under its header.
    assert_eq!(lines[2].rfind('9'), lines[0].find("SIZE"), "{text}");
}

/// The project's WetixCredential CRD, as the operator generates it, moved to this test
/// binary's group (a shared control plane may have the original installed).
fn wetix_crd() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crds/wetixcredentials.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut crd = serde_saphyr::from_multiple::<Value>(&text)
        .unwrap()
        .into_iter()
        .find(|d| !d.is_null())
        .expect("a CRD document");
    crd["metadata"]["name"] = json!(format!("wetixcredentials.{}", group()));
    crd["spec"]["group"] = json!(group());
    crd["spec"]["names"]["shortNames"] = json!([format!("wxc{:x}", std::process::id())]);
    crd
}

async fn kubectl_get_wxc_shows_the_project_columns(t: Target) {
    let client = t.client.clone();
    let Some(kubectl) = t.kubectl() else {
        eprintln!("no kubectl; skipping");
        return;
    };
    t.install_crd(wetix_crd()).await;
    let ar = ApiResource {
        group: group().into(),
        version: "v1alpha1".into(),
        api_version: format!("{}/v1alpha1", group()),
        kind: "WetixCredential".into(),
        plural: "wetixcredentials".into(),
    };
    let api: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &ar);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{}/v1alpha1", group()), "kind": "WetixCredential",
        "metadata": {"name": "shop"},
        "spec": {"clientSecretRef": {"name": "shop-client"}, "server": {"environment": "Sandbox"}},
    }))
    .unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
    api.patch_status(
        "shop",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "TokenRefreshed", "message": "",
                "lastTransitionTime": time_from_now(-600),
            }],
            // The project declares both as strings: shown as written, future or past.
            "accessTokenExpiresAt": "2030-01-24T10:00:00Z",
            "nextRefreshTime": "2030-01-04T08:31:12Z",
        }})),
    )
    .await
    .unwrap();

    // By its full name: `wxc` may also be the original's short name on a shared control plane.
    let resource = format!("wetixcredentials.{}", group());
    let out = kubectl.run(&["get", &resource, "-n", &t.ns]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for header in [
        "NAME",
        "READY",
        "REASON",
        "ACCESS EXPIRES",
        "NEXT REFRESH",
        "AGE",
    ] {
        assert!(lines[0].contains(header), "{header} missing from:\n{out}");
    }
    let cells = words(lines[1]);
    assert_eq!(
        cells[0][..5],
        [
            "shop",
            "True",
            "TokenRefreshed",
            "2030-01-24T10:00:00Z",
            "2030-01-04T08:31:12Z"
        ],
        "{out}"
    );
    assert!(cells[0][5].ends_with('s'), "{out}");
}

async fn namespaces_table_has_a_status_column(t: Target) {
    let (code, table) = get_json(&t.client, "/api/v1/namespaces", TABLE_ACCEPT).await;
    assert_eq!(code, 200);
    assert_eq!(column_names(&table), ["Name", "Status", "Age"]);
}

/// The emulator's clock moved on: what was created "now" is older in every table, and what
/// is created then carries the moved time.
async fn ages_and_new_timestamps_follow_the_emulators_clock(t: Target) {
    let client = t.client.clone();
    t.install_crd(common::foo_crd()).await;
    let foos = common::foos(&client);
    foos.create(&PostParams::default(), &common::foo("a", json!({})))
        .await
        .unwrap();
    t.emulator()
        .clock()
        .advance(Duration::from_secs(3 * 3600 + 5));
    let later = foos
        .create(&PostParams::default(), &common::foo("b", json!({})))
        .await
        .unwrap();
    let created = later.metadata.creation_timestamp.unwrap().0;
    let ahead = created.duration_since(jiff::Timestamp::now());
    assert!(
        ahead >= jiff::SignedDuration::from_secs(3 * 3600),
        "b created {ahead:?} ahead of the system clock"
    );
    let (_, table) = get_json(
        &client,
        &format!("/apis/{}/v1/namespaces/{}/foos", group(), t.ns),
        TABLE_ACCEPT,
    )
    .await;
    let ages: Vec<&str> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["cells"][1].as_str().unwrap())
        .collect();
    assert_eq!(ages[0], "3h", "{table}");
    assert!(matches!(ages[1], "0s" | "1s" | "2s"), "{ages:?}");
}

on_emulator!(ages_and_new_timestamps_follow_the_emulators_clock);

on_both!(
    list_as_table_has_printer_columns_and_metadata_rows,
    include_object_selects_what_rows_carry,
    single_object_table_and_the_v1beta1_form,
    crd_without_columns_and_builtins_get_name_and_age,
    watch_as_table_sends_columns_once,
    kubectl_get_shows_printer_columns,
    kubectl_get_watch_prints_new_rows,
    kubectl_get_wxc_shows_the_project_columns,
    namespaces_table_has_a_status_column,
);
