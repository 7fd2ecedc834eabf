//! Garbage collection (G2), fault injection, the request log, Events (E1/E2) and discovery
//! as kubectl uses it (Y1).

mod common;

use common::{Target, api_error, foo_crd, group, on_both, on_emulator};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

async fn deleting_an_owner_removes_its_dependents_after_the_delete_call(t: Target) {
    let client = t.client.clone();
    // A built-in owner: the real garbage collector learns the kinds of CRDs installed after
    // it started only at its next discovery (every 30 s).
    let owners: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let owner = owners
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "o"}})).unwrap(),
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let mut child: Secret = serde_json::from_value(json!({"metadata": {"name": "child"}})).unwrap();
    child.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).unwrap()]);
    secrets
        .create(&PostParams::default(), &child)
        .await
        .unwrap();
    let unrelated: Secret = serde_json::from_value(json!({"metadata": {"name": "kept"}})).unwrap();
    secrets
        .create(&PostParams::default(), &unrelated)
        .await
        .unwrap();
    let from = secrets
        .get("kept")
        .await
        .unwrap()
        .resource_version()
        .unwrap();
    let mut watch = secrets
        .watch(&WatchParams::default(), &from)
        .await
        .unwrap()
        .boxed();
    owners.delete("o", &DeleteParams::default()).await.unwrap();
    loop {
        match watch.try_next().await.unwrap().unwrap() {
            WatchEvent::Deleted(s) => {
                assert_eq!(s.name_any(), "child");
                break;
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(secrets.get_opt("kept").await.unwrap().is_some());
}

async fn injected_write_failures_hit_the_next_writes_then_stop(t: Target) {
    let emu = t.emulator();
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
    emu.faults().fail_next_writes("secrets", 2, 500);
    assert_eq!(
        api_error(api.create(&PostParams::default(), &s).await.unwrap_err()).code,
        500
    );
    assert!(
        api.get_opt("a").await.unwrap().is_none(),
        "reads are not affected"
    );
    assert_eq!(
        api_error(api.create(&PostParams::default(), &s).await.unwrap_err()).code,
        500
    );
    api.create(&PostParams::default(), &s).await.unwrap();
    emu.faults()
        .fail_next_writes_for("secrets", "patch", 1, 409);
    api.delete("a", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &s).await.unwrap();
    let err = api
        .patch("a", &PatchParams::default(), &Patch::Merge(json!({})))
        .await
        .unwrap_err();
    let status = api_error(err);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
}

async fn dropped_watches_end_and_delay_slows_every_response(t: Target) {
    let emu = t.emulator();
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let mut watch = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    // The emulator logs a request as it answers it, after opening the watch.
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.query.contains("watch=true")),
        "the watch is open: {:?}",
        emu.requests()
    );
    emu.faults().drop_watches();
    while let Some(e) = watch.try_next().await.unwrap() {
        assert!(matches!(e, WatchEvent::Bookmark(_)), "{e:?}");
    }
    emu.faults().set_delay(Duration::from_millis(300));
    let started = Instant::now();
    api.get_opt("x").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

async fn request_log_records_method_path_query_content_type_manager_and_status(t: Target) {
    let emu = t.emulator();
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    emu.clear_requests();
    let apply =
        Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}));
    api.patch("a", &PatchParams::apply("op").force(), &apply)
        .await
        .unwrap();
    let _ = api.get_opt("b").await;
    let log = emu.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "PATCH");
    assert_eq!(log[0].path, "/api/v1/namespaces/default/secrets/a");
    assert!(log[0].query.contains("force=true"));
    assert_eq!(
        log[0].content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(log[0].field_manager.as_deref(), Some("op"));
    assert_eq!(log[0].status, 201);
    assert_eq!((log[1].method.as_str(), log[1].status), ("GET", 404));
}

async fn request_log_records_the_user_agent_of_each_client(t: Target) {
    let emu = t.emulator();
    let test_client = t.client.clone();
    let mut config = kube::Config::new(emu.url().parse().unwrap());
    config.default_namespace = "default".into();
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static("wetix-operator/1.2.3"),
    ));
    let operator_client = kube::Client::try_from(config).unwrap();
    emu.clear_requests();
    let _ = Api::<Secret>::default_namespaced(operator_client)
        .get_opt("a")
        .await
        .unwrap();
    let _ = Api::<Secret>::default_namespaced(test_client)
        .get_opt("a")
        .await
        .unwrap();
    let log = emu.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].user_agent.as_deref(), Some("wetix-operator/1.2.3"));
    assert_ne!(log[1].user_agent.as_deref(), Some("wetix-operator/1.2.3"));
    assert!(
        log.iter()
            .filter(|r| r
                .user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("wetix-operator/")))
            .count()
            == 1
    );
}

async fn recorder_events_are_created_and_repeats_fold_into_a_series(t: Target) {
    let client = t.client.clone();
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
    let s = secrets.create(&PostParams::default(), &s).await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "wetix".into(),
            instance: Some("pod-1".into()),
        },
    );
    let ev = Event {
        type_: EventType::Normal,
        reason: "Refreshed".into(),
        note: Some("token refreshed".into()),
        action: "Refresh".into(),
        secondary: None,
    };
    let reference = s.object_ref(&());
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<K8sEvent> = Api::default_namespaced(client);
    let list = events.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].series.as_ref().unwrap().count, 2);
    let name = list.items[0].name_any();
    let err = events
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"note": "changed"})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(err).code, 422);
}

async fn event_without_event_time_is_422_with_a_cause_on_event_time(t: Target) {
    // Outside `default`, where an Event must name the namespace of what it regards (the
    // emulator lets a namespace be used without creating it).
    let ns = if t.is_real() { t.ns.as_str() } else { "team-a" };
    let events: Api<K8sEvent> = Api::namespaced(t.client.clone(), ns);
    let body = |regarding: serde_json::Value| -> K8sEvent {
        serde_json::from_value(json!({"metadata": {"name": "e"}, "type": "Normal",
            "reportingController": "c", "reportingInstance": "i", "action": "a", "reason": "r",
            "regarding": regarding}))
        .unwrap()
    };
    let fields = |s: kube::core::Status| -> Vec<(String, String)> {
        assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
        s.details
            .unwrap()
            .causes
            .into_iter()
            .map(|c| (c.field, c.message))
            .collect()
    };
    let regarding = json!({"kind": "Secret", "namespace": ns, "name": "s"});
    let s = api_error(
        events
            .create(&PostParams::default(), &body(regarding))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        fields(s),
        [("eventTime".to_string(), "Required value".to_string())]
    );
    let s = api_error(
        events
            .create(&PostParams::default(), &body(json!(null)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        fields(s),
        [
            (
                "involvedObject.namespace".to_string(),
                "Invalid value: \"\": does not match event.namespace".to_string()
            ),
            ("eventTime".to_string(), "Required value".to_string())
        ]
    );
}

async fn discovery_lists_builtin_and_crd_resources(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
    for g in ["", "apps", "coordination.k8s.io", "events.k8s.io", group()] {
        assert!(
            groups.contains(&g.to_string()),
            "{g} missing from {groups:?}"
        );
    }
    let (ar, caps) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(group(), "v1", "Foo"))
        .unwrap();
    assert_eq!(ar.plural, "foos");
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));
    assert_eq!(client.apiserver_version().await.unwrap().major, "1");
}

async fn kubectl_gets_and_applies(t: Target) {
    let Some(kubectl) = t.kubectl() else {
        println!("note: no kubectl; skipping the kubectl check");
        return;
    };
    let manifest = kubectl.dir().join("secret.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-kubectl\nstringData:\n  a: b\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    kubectl.run(&["apply", "-f", manifest]).await;
    let listed = kubectl.run(&["get", "secrets"]).await;
    assert!(listed.contains("from-kubectl"), "{listed}");
    kubectl
        .run(&["apply", "--server-side", "-f", manifest])
        .await;
    let api: Api<Secret> = Api::default_namespaced(t.client.clone());
    assert_eq!(
        api.get("from-kubectl").await.unwrap().data.unwrap()["a"].0,
        b"b"
    );
}

on_both!(
    deleting_an_owner_removes_its_dependents_after_the_delete_call,
    recorder_events_are_created_and_repeats_fold_into_a_series,
    event_without_event_time_is_422_with_a_cause_on_event_time,
    discovery_lists_builtin_and_crd_resources,
    kubectl_gets_and_applies,
);

// Fault injection and the request log exist only in the emulator.
on_emulator!(
    injected_write_failures_hit_the_next_writes_then_stop,
    dropped_watches_end_and_delay_slows_every_response,
    request_log_records_method_path_query_content_type_manager_and_status,
    request_log_records_the_user_agent_of_each_client,
);
