//! List and watch: selectors (L5/L6), pagination (L3/L4), metadata-only requests (P1–P3),
//! watch replay and too-old resource versions (W3/W4), bookmarks and timeouts (W5/W7).

mod common;

use common::{Target, api_error, on_both, on_emulator, rv};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use std::time::Duration;

fn secret(name: &str, labels: serde_json::Value) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "type": "Opaque"}))
        .unwrap()
}

async fn names(api: &Api<Secret>, lp: &ListParams) -> Vec<String> {
    api.list(lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.metadata.name.unwrap())
        .collect()
}

async fn label_and_field_selectors_filter_lists(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    for (n, l) in [
        ("a", json!({"a": "1"})),
        ("b", json!({"a": "2"})),
        ("c", json!({})),
    ] {
        api.create(&PostParams::default(), &secret(n, l))
            .await
            .unwrap();
    }
    assert_eq!(
        names(&api, &ListParams::default().labels("a!=1")).await,
        vec!["b", "c"]
    );
    assert_eq!(
        names(&api, &ListParams::default().labels("a in (1,2)")).await,
        vec!["a", "b"]
    );
    assert_eq!(
        names(&api, &ListParams::default().fields("metadata.name=a")).await,
        vec!["a"]
    );
    assert_eq!(
        names(
            &api,
            &ListParams::default().fields("type=Opaque,metadata.name!=a")
        )
        .await,
        vec!["b", "c"]
    );
    let s = api_error(
        api.list(&ListParams::default().fields("data.x=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));
    assert!(s.message.contains("field label not supported: data.x"));
}

async fn empty_list_has_items_array_and_current_resource_version(t: Target) {
    let client = t.client.clone();
    let empty = format!("{}-empty", t.ns);
    let api: Api<Secret> = Api::namespaced(client.clone(), &empty);
    let other: Api<Secret> = Api::default_namespaced(client.clone());
    let s = other
        .create(&PostParams::default(), &secret("x", json!({})))
        .await
        .unwrap();
    let list = api.list(&ListParams::default()).await.unwrap();
    assert!(list.items.is_empty());
    assert!(
        list.metadata
            .resource_version
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= rv(&s)
    );
    let raw = t
        .raw(
            "GET",
            &format!("/api/v1/namespaces/{empty}/secrets"),
            &[("accept", "application/json")],
            b"",
        )
        .await;
    assert_eq!(raw.status, 200);
    let raw = raw.json();
    assert_eq!(raw["items"], json!([]));
    assert_eq!(raw["kind"], "SecretList");
}

async fn pages_carry_continue_until_the_last_and_repeat_the_first_resource_version(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    for n in ["a", "b", "c"] {
        api.create(&PostParams::default(), &secret(n, json!({})))
            .await
            .unwrap();
    }
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().unwrap();
    api.create(&PostParams::default(), &secret("d", json!({})))
        .await
        .unwrap();
    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.items[0].metadata.name.as_deref(), Some("c"));
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    let exact = api
        .list(&ListParams::default().match_any().at("0"))
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 4);
}

async fn a_selected_list_pages_through_every_match_and_counts_the_rest_only_without_a_selector(
    t: Target,
) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    // Five selected among unselected ones, so that a page can end on either.
    for i in 0..10 {
        let labels = if i % 2 == 0 {
            json!({"pick": "yes"})
        } else {
            json!({})
        };
        api.create(&PostParams::default(), &secret(&format!("s{i}"), labels))
            .await
            .unwrap();
    }
    let everything = api.list(&ListParams::default().limit(4)).await.unwrap();
    assert_eq!(everything.metadata.remaining_item_count, Some(6));
    let selected = ListParams::default().labels("pick=yes").limit(2);
    let (mut seen, mut token) = (vec![], None::<String>);
    loop {
        let page = match &token {
            Some(token) => selected.clone().continue_token(token),
            None => selected.clone(),
        };
        let page = api.list(&page).await.unwrap();
        assert_eq!(
            page.metadata.remaining_item_count, None,
            "not counted with a selector"
        );
        seen.extend(page.items.into_iter().map(|s| s.metadata.name.unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["s0", "s2", "s4", "s6", "s8"]);
}

async fn metadata_list_and_get_answer_partial_object_metadata_without_data(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let mut s = secret("a", json!({"k": "v"}));
    s.string_data = Some([("x".to_string(), "y".to_string())].into());
    api.create(&PostParams::default(), &s).await.unwrap();
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.labels.as_ref().unwrap()["k"], "v");
    assert!(list.items[0].metadata.managed_fields.is_some());
    let one: PartialObjectMeta<Secret> = api.get_metadata("a").await.unwrap();
    assert_eq!(one.types.unwrap().kind, "PartialObjectMetadata");
}

async fn raw_watch_replays_changes_after_the_given_version_and_reports_selector_exits_as_deleted(
    t: Target,
) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let list = api.list(&ListParams::default()).await.unwrap();
    let from = list.metadata.resource_version.unwrap();
    api.create(&PostParams::default(), &secret("a", json!({"a": "1"})))
        .await
        .unwrap();
    let wp = WatchParams::default().labels("a=1").timeout(5);
    let mut stream = api.watch(&wp, &from).await.unwrap().boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(s) => assert_eq!(s.metadata.name.as_deref(), Some("a")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    let relabelled = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "2"}}})),
        )
        .await
        .unwrap();
    let next = loop {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Bookmark(_) => continue,
            other => break other,
        }
    };
    match next {
        WatchEvent::Deleted(s) => {
            assert_eq!(rv(&s), rv(&relabelled));
            assert_eq!(s.metadata.labels.unwrap()["a"], "1");
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
}

async fn watch_from_a_compacted_version_gets_one_410_error_event_over_http_200(t: Target) {
    let api: Api<Secret> = Api::default_namespaced(t.client.clone());
    api.create(&PostParams::default(), &secret("a", json!({})))
        .await
        .unwrap();
    t.emulator().faults().compact_history();
    let mut stream = api
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(
                e.message.starts_with("too old resource version: 1 ("),
                "{}",
                e.message
            );
        }
        other => panic!("expected ERROR, got {other:?}"),
    }
    assert!(stream.try_next().await.unwrap().is_none());
    let path = format!(
        "/api/v1/namespaces/{}/secrets?watch=true&resourceVersion=1&timeoutSeconds=5",
        t.ns
    );
    let raw = t
        .raw("GET", &path, &[("accept", "application/json")], b"")
        .await;
    assert_eq!(raw.status, 200);
    let text = raw.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
}

async fn bookmarks_arrive_before_the_server_side_timeout_closes_the_stream(t: Target) {
    let api: Api<Secret> = Api::default_namespaced(t.client.clone());
    let s = api
        .create(&PostParams::default(), &secret("a", json!({})))
        .await
        .unwrap();
    // The real server sends an idle watch a bookmark about once a minute and, best-effort, two
    // seconds before its timeout; none at the start.
    let wp = WatchParams::default().timeout(5);
    let started = std::time::Instant::now();
    let mut stream = api
        .watch(&wp, &s.metadata.resource_version.clone().unwrap())
        .await
        .unwrap()
        .boxed();
    let mut bookmarks = Vec::new();
    while let Some(e) = stream.try_next().await.unwrap() {
        match e {
            WatchEvent::Bookmark(b) => {
                bookmarks.push((started.elapsed(), b.metadata.resource_version))
            }
            other => panic!("expected only bookmarks, got {other:?}"),
        }
    }
    let closed = started.elapsed();
    assert!(
        closed >= Duration::from_millis(4500) && closed < Duration::from_secs(8),
        "closed after {closed:?}"
    );
    // At the server's current version: this object's or, on a busy server, a later one.
    for (_, v) in &bookmarks {
        assert!(v.parse::<u64>().unwrap() >= rv(&s), "{bookmarks:?}");
    }
    // Whether the real server's pre-timeout bookmark comes within a short timeout depends on
    // its watch cache's timing (seen: none, one or two); the emulator sends exactly one.
    if !t.is_real() {
        assert_eq!(bookmarks.len(), 1, "{bookmarks:?}");
        let at = bookmarks[0].0;
        assert!(
            at >= Duration::from_millis(2900) && at < Duration::from_millis(4500),
            "{bookmarks:?}"
        );
    }
}

async fn watcher_relists_after_a_too_old_error_and_sees_the_missed_object(t: Target) {
    let emu = t.emulator();
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &secret("a", json!({})))
        .await
        .unwrap();
    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    loop {
        if let Event::InitDone = events.try_next().await.unwrap().unwrap() {
            break;
        }
    }
    let lists_before = emu
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && !r.query.contains("watch"))
        .count();
    assert_eq!(lists_before, 1);
    // kube's watcher opens its watch only when next polled, from the list's resourceVersion:
    // nothing watches yet, so b is missed; then that resume point is made unusable.
    assert!(
        !emu.requests().iter().any(|r| r.query.contains("watch")),
        "no watch before the watcher is polled again: {:?}",
        emu.requests()
    );
    emu.faults().compact_history();
    api.create(&PostParams::default(), &secret("b", json!({})))
        .await
        .unwrap();
    emu.faults().compact_history();
    emu.faults().drop_watches();
    let mut seen_b = false;
    let mut expired = 0;
    while !seen_b {
        match events.next().await.expect("watcher ended") {
            Ok(Event::Apply(s) | Event::InitApply(s)) => {
                seen_b = s.metadata.name.as_deref() == Some("b")
            }
            Ok(_) => {}
            // kube's watcher reports the 410 ERROR event, then relists.
            Err(watcher::Error::WatchError(s)) if s.code == 410 => expired += 1,
            Err(e) => panic!("watcher error: {e}"),
        }
    }
    assert_eq!(expired, 1);
    let requests = emu.requests();
    let lists_after = requests
        .iter()
        .filter(|r| r.method == "GET" && !r.query.contains("watch"))
        .count();
    assert_eq!(lists_after, 2, "the watcher relisted once after the 410");
    let errors = requests.iter().filter(|r| r.status >= 400).count();
    assert_eq!(errors, 0);
}

async fn metadata_watcher_sees_partial_objects_with_owner_references_and_no_data(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client.clone());
    let meta: Api<PartialObjectMeta<Secret>> = Api::default_namespaced(client);
    let mut events = watcher::watcher(meta, watcher::Config::default()).boxed();
    loop {
        if let Event::InitDone = events.try_next().await.unwrap().unwrap() {
            break;
        }
    }
    let owner = json!({"apiVersion": "example.com/v1", "kind": "Foo", "name": "o", "uid": "u-1", "controller": true});
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "a", "ownerReferences": [owner]}, "stringData": {"k": "v"}}),
    )
    .unwrap();
    api.create(&PostParams::default(), &s).await.unwrap();
    loop {
        if let Event::Apply(m) = events.try_next().await.unwrap().unwrap() {
            assert_eq!(m.metadata.name.as_deref(), Some("a"));
            assert_eq!(m.metadata.owner_references.unwrap()[0].uid, "u-1");
            break;
        }
    }
}

on_both!(
    label_and_field_selectors_filter_lists,
    empty_list_has_items_array_and_current_resource_version,
    pages_carry_continue_until_the_last_and_repeat_the_first_resource_version,
    a_selected_list_pages_through_every_match_and_counts_the_rest_only_without_a_selector,
    metadata_list_and_get_answer_partial_object_metadata_without_data,
    raw_watch_replays_changes_after_the_given_version_and_reports_selector_exits_as_deleted,
    bookmarks_arrive_before_the_server_side_timeout_closes_the_stream,
    metadata_watcher_sees_partial_objects_with_owner_references_and_no_data,
);

// History compaction and dropped watches are the emulator's fault injection. (The real server
// answers the same 410 ERROR event only once etcd has compacted, every 5 minutes: a watch from
// version 1 gets the replayed history on a young control plane.)
on_emulator!(
    watch_from_a_compacted_version_gets_one_410_error_event_over_http_200,
    watcher_relists_after_a_too_old_error_and_sees_the_missed_object,
);
