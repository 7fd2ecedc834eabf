//! Reads at resourceVersions the store no longer has or never had: watches answer one 410
//! Expired ERROR event over HTTP 200 (so kube-rs relists), Exact lists are served from the
//! history or answer HTTP 410, and versions from the future answer 504.

mod common;

use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, PostParams, VersionMatch, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_emulator::Emulator;
use serde_json::json;

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

async fn create(api: &Api<Secret>, name: &str) -> Secret {
    api.create(&PostParams::default(), &secret(name))
        .await
        .unwrap()
}

/// The first event of a watch from `from`, and whether the stream ended right after it.
async fn first_event(api: &Api<Secret>, from: &str) -> (WatchEvent<Secret>, bool) {
    let mut stream = api
        .watch(&WatchParams::default(), from)
        .await
        .unwrap()
        .boxed();
    let first = stream.try_next().await.unwrap().expect("one event");
    let ended = stream.try_next().await.unwrap().is_none();
    (first, ended)
}

fn expect_expired(e: WatchEvent<Secret>, message: &str) {
    match e {
        WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert_eq!(e.message, message);
        }
        other => panic!("expected an Expired ERROR event, got {other:?}"),
    }
}

async fn a_watch_from_another_emulators_version_gets_410_expired_and_the_stream_ends(t: Target) {
    let (_old, old_client) = start().await;
    let old_api: Api<Secret> = Api::default_namespaced(old_client);
    for n in ["a", "b", "c", "d"] {
        create(&old_api, n).await;
    }
    let old_rv = rv(&create(&old_api, "e").await);

    let emu = t.emulator();
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    create(&api, "fresh").await;
    let (event, ended) = first_event(&api, &old_rv.to_string()).await;
    expect_expired(event, &format!("too old resource version: {old_rv} (0)"));
    assert!(ended);
    let watch = emu
        .requests()
        .into_iter()
        .rfind(|r| r.query.contains("watch=true"))
        .unwrap();
    assert_eq!(watch.status, 200);
}

async fn after_compaction_the_message_names_the_requested_and_the_compacted_version(t: Target) {
    let emu = t.emulator();
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let first = rv(&create(&api, "a").await);
    let last = rv(&create(&api, "b").await);
    emu.faults().compact_history();
    let (event, ended) = first_event(&api, &first.to_string()).await;
    expect_expired(
        event,
        &format!("too old resource version: {first} ({last})"),
    );
    assert!(ended);
    // The compacted version itself is still a valid starting point: nothing is missing.
    let mut stream = api
        .watch(&WatchParams::default(), &last.to_string())
        .await
        .unwrap()
        .boxed();
    create(&api, "c").await;
    loop {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Added(s) => break assert_eq!(s.metadata.name.as_deref(), Some("c")),
            other => panic!("expected ADDED, got {other:?}"),
        }
    }
}

async fn a_kube_rs_watcher_relists_after_the_emulator_restarts_on_the_same_port(_t: Target) {
    let old = Emulator::start().await.unwrap();
    let addr: std::net::SocketAddr = old.url().trim_start_matches("http://").parse().unwrap();
    let client = client_for(&old);
    let api: Api<Secret> = Api::default_namespaced(client);
    let mut seen = watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    create(&api, "before").await;
    // Enough writes that the new emulator's versions stay below the watcher's.
    for n in ["x1", "x2", "x3", "x4", "x5"] {
        create(&api, n).await;
    }
    loop {
        let s = seen.try_next().await.unwrap().unwrap();
        if s.metadata.name.as_deref() == Some("x5") {
            break;
        }
    }
    drop(old);
    let new = loop {
        match Emulator::start_on(addr).await {
            Ok(e) => break e,
            Err(_) => tokio::task::yield_now().await,
        }
    };
    let api: Api<Secret> = Api::default_namespaced(client_for(&new));
    create(&api, "after").await;
    // The watcher reports the 410 (and any refused connection while the port was
    // free) as errors, relists, and then sees the new emulator's objects.
    let mut expired = false;
    loop {
        match seen.next().await.unwrap() {
            Ok(s) if s.metadata.name.as_deref() == Some("after") => break,
            Ok(_) => {}
            Err(watcher::Error::WatchError(e)) => expired |= e.code == 410,
            Err(_) => {}
        }
    }
    assert!(
        expired,
        "the resumed watch should have answered 410 Expired"
    );
}

async fn an_exact_list_of_an_earlier_version_shows_that_version_until_it_is_compacted(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let a = rv(&create(&api, "a").await);
    create(&api, "b").await;
    api.delete("a", &Default::default()).await.unwrap();
    let exact = ListParams::default()
        .at(&a.to_string())
        .matching(VersionMatch::Exact);
    let then = api.list(&exact).await.unwrap();
    let names: Vec<_> = then
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(then.metadata.resource_version, Some(a.to_string()));
    let now = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(now.items.len(), 1);
    assert_eq!(now.items[0].metadata.name.as_deref(), Some("b"));

    // Compaction on demand is the emulator's; the real server compacts every 5 minutes.
    if !t.is_real() {
        t.emulator().faults().compact_history();
        let e = api.list(&exact).await.map_err(api_error).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
        assert_eq!(
            e.message,
            "The resourceVersion for the provided list is too old."
        );
    }
    // NotOlderThan an old version is the current state.
    let any = ListParams::default()
        .at(&a.to_string())
        .matching(VersionMatch::NotOlderThan);
    assert_eq!(api.list(&any).await.unwrap().items.len(), 1);
}

async fn gets_and_lists_at_a_version_not_reached_yet_answer_504_too_large(t: Target) {
    // kube-rs retries 504s by default; this test wants to see the first answer (at once from
    // the emulator, after about 3 s from the real server).
    let client = t.client_without_retries().await;
    let api: Api<Secret> = Api::default_namespaced(client);
    let s = create(&api, "a").await;
    let future = (rv(&s) + 1000).to_string();
    let e = api
        .list(&ListParams::default().at(&future))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (504, "Timeout"));
    assert!(
        e.message
            .starts_with(&format!("Timeout: Too large resource version: {future}"))
    );
    let cause = &e.details.unwrap().causes[0];
    assert_eq!(cause.reason, "ResourceVersionTooLarge");
    let e = api
        .get_with(
            "a",
            &kube::api::GetParams {
                resource_version: Some(future),
            },
        )
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(e.code, 504);
}

async fn a_streaming_list_from_an_old_version_sends_the_current_state_not_410(t: Target) {
    let client = t.client.clone();
    let api: Api<Secret> = Api::default_namespaced(client);
    let a = rv(&create(&api, "a").await);
    create(&api, "b").await;
    // On the emulator `a` is compacted away; the real server never answers a streaming list
    // with 410.
    if !t.is_real() {
        t.emulator().faults().compact_history();
    }
    let wp = WatchParams::streaming_lists();
    let mut stream = api.watch(&wp, &a.to_string()).await.unwrap().boxed();
    let mut added = Vec::new();
    loop {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(s) => added.push(s.metadata.name.unwrap()),
            WatchEvent::Bookmark(b) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    added.sort();
    assert_eq!(added, ["a", "b"]);
}

on_both!(
    an_exact_list_of_an_earlier_version_shows_that_version_until_it_is_compacted,
    gets_and_lists_at_a_version_not_reached_yet_answer_504_too_large,
    a_streaming_list_from_an_old_version_sends_the_current_state_not_410,
);

// Other emulators' versions, restarts and compaction on demand have no real-server
// counterpart a test can bring about (the real server waits for a version it has not reached).
on_emulator!(
    a_watch_from_another_emulators_version_gets_410_expired_and_the_stream_ends,
    after_compaction_the_message_names_the_requested_and_the_compacted_version,
    a_kube_rs_watcher_relists_after_the_emulator_restarts_on_the_same_port,
);
