//! Events as one resource seen through core `v1` and `events.k8s.io/v1`: what kube-rs's
//! `Recorder` publishes is what `kubectl describe` and `kubectl get events` read.

mod common;

use common::{Target, foo, foo_crd, foo_resource, foos, on_both};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use serde_json::json;

fn recorder(client: &kube::Client) -> Recorder {
    Recorder::new(
        client.clone(),
        Reporter {
            controller: "wetix".into(),
            instance: Some("pod-1".into()),
        },
    )
}

fn refreshed() -> Event {
    Event {
        type_: EventType::Warning,
        reason: "RefreshFailed".into(),
        note: Some("token endpoint answered 503".into()),
        action: "Refresh".into(),
        secondary: None,
    }
}

async fn recorder_events_are_listed_through_core_v1_by_involved_object(t: Target) {
    let client = t.client.clone();
    t.install_crd(foo_crd()).await;
    let shop = foos(&client)
        .create(&PostParams::default(), &foo("shop", json!({})))
        .await
        .unwrap();
    let other = foos(&client)
        .create(&PostParams::default(), &foo("other", json!({})))
        .await
        .unwrap();
    let recorder = recorder(&client);
    let reference = shop.object_ref(&foo_resource());
    recorder.publish(&refreshed(), &reference).await.unwrap();
    recorder.publish(&refreshed(), &reference).await.unwrap();
    recorder
        .publish(&refreshed(), &other.object_ref(&foo_resource()))
        .await
        .unwrap();

    let core: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let selector = format!(
        "involvedObject.name=shop,involvedObject.namespace={},involvedObject.kind=Foo,involvedObject.uid={}",
        t.ns,
        shop.uid().unwrap()
    );
    let list = core
        .list(&ListParams::default().fields(&selector))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1, "{list:?}");
    let ev = &list.items[0];
    assert_eq!(ev.message.as_deref(), Some("token endpoint answered 503"));
    assert_eq!(ev.reason.as_deref(), Some("RefreshFailed"));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(ev.involved_object.name.as_deref(), Some("shop"));
    assert_eq!(ev.reporting_component.as_deref(), Some("wetix"));
    assert_eq!(ev.reporting_instance.as_deref(), Some("pod-1"));
    assert_eq!(ev.action.as_deref(), Some("Refresh"));
    assert!(ev.event_time.is_some());
    // As on the real server, the repeat is a series; core `count` mirrors only the
    // deprecated events.k8s.io count, which the Recorder never sets.
    assert_eq!(ev.series.as_ref().unwrap().count, Some(2));
    assert_eq!(ev.count, None);

    // The same object through events.k8s.io/v1: same name, uid and resourceVersion.
    let k8s: Api<K8sEvent> = Api::default_namespaced(client.clone());
    let same = k8s.get(&ev.name_any()).await.unwrap();
    assert_eq!(same.uid(), ev.uid());
    assert_eq!(same.resource_version(), ev.resource_version());
    assert_eq!(same.note.as_deref(), Some("token endpoint answered 503"));
    assert_eq!(same.series.as_ref().unwrap().count, 2);
    let got = core.get(&ev.name_any()).await.unwrap();
    assert_eq!(got.resource_version(), ev.resource_version());
    assert_eq!(
        core.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );
}

async fn core_events_are_seen_through_events_k8s_io_and_watches_see_both(t: Target) {
    let client = t.client.clone();
    let core: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let k8s: Api<K8sEvent> = Api::default_namespaced(client.clone());
    let mut watch = core
        .watch(&WatchParams::default().fields("involvedObject.name=a"), "0")
        .await
        .unwrap()
        .boxed();
    let legacy: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": "a.1"},
        "involvedObject": {"kind": "Secret", "name": "a", "namespace": t.ns},
        "reason": "Created", "message": "made", "type": "Normal",
        "source": {"component": "old-controller"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z",
        "count": 4,
    }))
    .unwrap();
    core.create(&PostParams::default(), &legacy).await.unwrap();
    let seen = k8s.get("a.1").await.unwrap();
    assert_eq!(seen.note.as_deref(), Some("made"));
    assert_eq!(seen.regarding.unwrap().name.as_deref(), Some("a"));
    assert_eq!(seen.deprecated_count, Some(4));
    assert_eq!(
        seen.deprecated_source.unwrap().component.as_deref(),
        Some("old-controller")
    );
    assert!(seen.deprecated_last_timestamp.is_some());
    let by_regarding = k8s
        .list(&ListParams::default().fields("regarding.name=a"))
        .await
        .unwrap();
    assert_eq!(by_regarding.items.len(), 1);

    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "a", "namespace": t.ns, "uid": "u-a"}});
    let reference = serde_json::from_value::<k8s_openapi::api::core::v1::Secret>(secret)
        .unwrap()
        .object_ref(&());
    recorder(&client)
        .publish(&refreshed(), &reference)
        .await
        .unwrap();
    let mut added = Vec::new();
    while added.len() < 2 {
        match watch.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(e) => added.push(e),
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added[0].message.as_deref(), Some("made"));
    assert_eq!(
        added[1].message.as_deref(),
        Some("token endpoint answered 503")
    );
}

async fn kubectl_describe_and_get_events_show_recorder_events(t: Target) {
    let client = t.client.clone();
    let Some(kubectl) = t.kubectl() else {
        eprintln!("no kubectl; skipping");
        return;
    };
    // One Recorder: it folds a repeat into a series only for Events it published itself.
    let recorder = recorder(&client);
    t.install_crd(foo_crd()).await;
    let shop = foos(&client)
        .create(&PostParams::default(), &foo("shop", json!({})))
        .await
        .unwrap();
    recorder
        .publish(&refreshed(), &shop.object_ref(&foo_resource()))
        .await
        .unwrap();

    let out = kubectl
        .run(&[
            "describe",
            &format!("foos.{}", common::group()),
            "shop",
            "-n",
            &t.ns,
        ])
        .await;
    let events = out
        .split_once("Events:")
        .unwrap_or_else(|| panic!("no Events section in:\n{out}"))
        .1;
    let row = events
        .lines()
        .find(|l| l.contains("RefreshFailed"))
        .unwrap_or_else(|| panic!("event missing from:\n{out}"));
    for cell in [
        "Warning",
        "RefreshFailed",
        "wetix",
        "token endpoint answered 503",
    ] {
        assert!(row.contains(cell), "{cell} missing from {row:?} in:\n{out}");
    }

    recorder
        .publish(&refreshed(), &shop.object_ref(&foo_resource()))
        .await
        .unwrap();
    let out = kubectl.run(&["get", "events", "-n", &t.ns]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells[1..4],
        ["Warning", "RefreshFailed", "foo/shop"],
        "{out}"
    );
    assert!(lines[1].ends_with("token endpoint answered 503"), "{out}");

    let wide = kubectl
        .run(&["get", "events", "-n", &t.ns, "-o", "wide"])
        .await;
    let row = wide.lines().nth(1).unwrap_or_default();
    assert!(row.contains("wetix, pod-1"), "{wide}");
    assert!(
        row.split_whitespace().any(|c| c == "2"),
        "count 2 in:\n{wide}"
    );
}

on_both!(
    recorder_events_are_listed_through_core_v1_by_involved_object,
    core_events_are_seen_through_events_k8s_io_and_watches_see_both,
    kubectl_describe_and_get_events_show_recorder_events,
);
