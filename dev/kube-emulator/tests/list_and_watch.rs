//! List and watch: selectors (L5/L6), pagination (L3/L4), metadata-only requests (P1–P3),
//! watch replay and too-old resource versions (W3/W4), bookmarks and timeouts (W5/W7).

mod common;

use common::{api_error, bounded, rv, start};
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

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    bounded(async {
        let (_emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn empty_list_has_items_array_and_current_resource_version() {
    bounded(async {
        let (emu, client) = start().await;
        let api: Api<Secret> = Api::namespaced(client.clone(), "empty");
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
        let raw = reqwest_get(&format!("{}/api/v1/namespaces/empty/secrets", emu.url())).await;
        assert_eq!(raw["items"], json!([]));
        assert_eq!(raw["kind"], "SecretList");
    })
    .await
}

async fn reqwest_get(url: &str) -> serde_json::Value {
    let uri: http::Uri = url.parse().unwrap();
    let addr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap());
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        uri.path_and_query().unwrap()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn pages_carry_continue_until_the_last_and_repeat_the_first_resource_version() {
    bounded(async {
        let (_emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn metadata_list_and_get_answer_partial_object_metadata_without_data() {
    bounded(async {
        let (_emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn raw_watch_replays_changes_after_the_given_version_and_reports_selector_exits_as_deleted() {
    bounded(async {
        let (_emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn watch_from_a_compacted_version_gets_one_410_error_event_over_http_200() {
    bounded(async {
        let (emu, client) = start().await;
        let api: Api<Secret> = Api::default_namespaced(client);
        api.create(&PostParams::default(), &secret("a", json!({})))
            .await
            .unwrap();
        emu.faults().compact_history();
        let mut stream = api
            .watch(&WatchParams::default(), "1")
            .await
            .unwrap()
            .boxed();
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Error(e) => {
                assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
                assert!(
                    e.message.starts_with("too old resource version: 1"),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected ERROR, got {other:?}"),
        }
        assert!(stream.try_next().await.unwrap().is_none());
        let watch_request = emu
            .requests()
            .into_iter()
            .rfind(|r| r.query.contains("watch=true"))
            .unwrap();
        assert_eq!(watch_request.status, 200);
    })
    .await
}

#[tokio::test]
async fn bookmarks_arrive_at_start_and_before_the_server_side_timeout_closes_the_stream() {
    bounded(async {
        let (_emu, client) = start().await;
        let api: Api<Secret> = Api::default_namespaced(client);
        let s = api
            .create(&PostParams::default(), &secret("a", json!({})))
            .await
            .unwrap();
        let wp = WatchParams::default().timeout(1);
        let started = std::time::Instant::now();
        let events: Vec<WatchEvent<Secret>> = api
            .watch(&wp, &s.metadata.resource_version.clone().unwrap())
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert!(events.len() >= 2, "{events:?}");
        for e in events {
            match e {
                WatchEvent::Bookmark(b) => assert_eq!(
                    b.metadata.resource_version,
                    s.metadata.resource_version.clone().unwrap()
                ),
                other => panic!("expected only bookmarks, got {other:?}"),
            }
        }
    })
    .await
}

#[tokio::test]
async fn watcher_relists_after_a_too_old_error_and_sees_the_missed_object() {
    bounded(async {
        let (emu, client) = start().await;
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
        // Give the watch time to open, then make its resume point unusable.
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    })
    .await
}

#[tokio::test]
async fn metadata_watcher_sees_partial_objects_with_owner_references_and_no_data() {
    bounded(async {
        let (_emu, client) = start().await;
        let api: Api<Secret> = Api::default_namespaced(client.clone());
        let meta: Api<PartialObjectMeta<Secret>> = Api::default_namespaced(client);
        let mut events = watcher::watcher(meta, watcher::Config::default()).boxed();
        loop {
            if let Event::InitDone = events.try_next().await.unwrap().unwrap() {
                break;
            }
        }
        let owner = json!({"apiVersion": "example.com/v1", "kind": "Foo", "name": "o", "uid": "u-1", "controller": true});
        let s: Secret = serde_json::from_value(json!({"metadata": {"name": "a", "ownerReferences": [owner]}, "stringData": {"k": "v"}})).unwrap();
        api.create(&PostParams::default(), &s).await.unwrap();
        loop {
            if let Event::Apply(m) = events.try_next().await.unwrap().unwrap() {
                assert_eq!(m.metadata.name.as_deref(), Some("a"));
                assert_eq!(m.metadata.owner_references.unwrap()[0].uid, "u-1");
                break;
            }
        }
    })
    .await
}
