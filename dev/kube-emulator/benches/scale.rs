//! Per-request cost against a growing store: n custom resources plus n Secrets, then the
//! same fixed number of gets, patches, applies, selective lists and watched writes at each
//! size. Prints microseconds per request; asserts nothing.
//!
//!     cargo bench -p kube-emulator --bench scale              # 1000 and 10000 objects
//!     KUBE_EMULATOR_BENCH_SIZES=1000,20000 cargo bench -p kube-emulator --bench scale

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube_emulator::Emulator;
use serde_json::json;
use std::time::Instant;

/// Requests timed per kind and size.
const ROUNDS: usize = 300;
/// Concurrent creates while filling the store.
const FILL_CONCURRENCY: usize = 16;
/// Open watches on Secrets while the watched writes run.
const WATCHERS: usize = 8;

fn main() {
    let sizes: Vec<usize> = std::env::var("KUBE_EMULATOR_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 10_000]);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            for n in sizes {
                run(n).await;
            }
        });
    gc_pass();
}

fn crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "FooList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "x": {"type": "integer"},
                            "replicas": {"type": "integer", "default": 1}
                        }},
                        "status": {"type": "object", "properties": {
                            "ok": {"type": "boolean"},
                            "round": {"type": "integer"}
                        }}
                    }
                }}
            }]
        }
    })
}

fn foo_resource() -> ApiResource {
    ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Foo".into(),
        plural: "foos".into(),
    }
}

fn client_for(emulator: &Emulator) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::new(emulator.url().parse().unwrap());
    config.default_namespace = "default".into();
    kube::Client::try_from(config).unwrap()
}

fn foo(i: usize) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Foo",
        "metadata": {"name": format!("foo{i:06}"), "namespace": "default",
            "labels": {"index": i.to_string()}},
        "spec": {"x": i},
    }))
    .unwrap()
}

/// A Secret owned by Foo `i`, as the operator's managed Secrets are.
fn secret(i: usize, owner_uid: &str) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("secret{i:06}"), "namespace": "default",
            "labels": {"index": i.to_string()},
            "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Foo",
                "name": format!("foo{i:06}"), "uid": owner_uid, "controller": true}]},
        "stringData": {"token": format!("t{i}")},
    }))
    .unwrap()
}

async fn timed<F, Fut>(label: &str, n: usize, mut f: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    for i in 0..ROUNDS {
        f(i).await;
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;
    println!("n={n:<6} {label:<34} {per:>10.0} µs/request");
}

async fn run(n: usize) {
    let emulator = Emulator::start().await.unwrap();
    emulator.install_crd(crd());
    let client = client_for(&emulator);
    let foos: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &foo_resource());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");

    let started = Instant::now();
    let uids: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let foos = foos.clone();
            async move {
                let created = foos.create(&PostParams::default(), &foo(i)).await.unwrap();
                created.metadata.uid.unwrap()
            }
        })
        .buffered(FILL_CONCURRENCY)
        .collect()
        .await;
    futures::stream::iter(0..n)
        .map(|i| {
            let secrets = secrets.clone();
            let uid = uids[i].clone();
            async move {
                secrets
                    .create(&PostParams::default(), &secret(i, &uid))
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(FILL_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let fill = started.elapsed().as_secs_f64() * 1e6 / (2 * n) as f64;
    println!(
        "n={n:<6} {:<34} {fill:>10.0} µs/request",
        "create (filling the store)"
    );

    let pick = |i: usize| (i * 7919) % n;
    timed("get custom resource", n, |i| {
        let foos = foos.clone();
        async move {
            foos.get(&format!("foo{:06}", pick(i))).await.unwrap();
        }
    })
    .await;
    timed("get secret", n, |i| {
        let secrets = secrets.clone();
        async move {
            secrets.get(&format!("secret{:06}", pick(i))).await.unwrap();
        }
    })
    .await;
    timed("merge patch status", n, |i| {
        let foos = foos.clone();
        async move {
            let p = json!({"status": {"ok": true, "round": i}});
            foos.patch_status(
                &format!("foo{:06}", pick(i)),
                &PatchParams::default(),
                &Patch::Merge(&p),
            )
            .await
            .unwrap();
        }
    })
    .await;
    timed("server-side apply secret", n, |i| {
        let secrets = secrets.clone();
        async move {
            let name = format!("secret{:06}", pick(i));
            let p = json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "labels": {"round": i.to_string()}},
                "stringData": {"token": format!("r{i}")}});
            secrets
                .patch(
                    &name,
                    &PatchParams::apply("bench").force(),
                    &Patch::Apply(&p),
                )
                .await
                .unwrap();
        }
    })
    .await;
    timed("create + delete secret", n, |i| {
        let secrets = secrets.clone();
        let uid = uids[pick(i)].clone();
        async move {
            let mut s = secret(n + i, &uid);
            s.metadata.name = Some(format!("extra{i:06}"));
            secrets.create(&PostParams::default(), &s).await.unwrap();
            secrets
                .delete(&format!("extra{i:06}"), &DeleteParams::default())
                .await
                .unwrap();
        }
    })
    .await;
    timed("list by field selector (1 match)", n, |i| {
        let secrets = secrets.clone();
        async move {
            let lp = ListParams::default().fields(&format!("metadata.name=secret{:06}", pick(i)));
            assert_eq!(secrets.list(&lp).await.unwrap().items.len(), 1);
        }
    })
    .await;
    timed("list page of 10 (limit, continue)", n, |i| {
        let secrets = secrets.clone();
        async move {
            let mut lp = ListParams::default().limit(10);
            let first = secrets.list(&lp).await.unwrap();
            if i % 2 == 1
                && let Some(c) = first.metadata.continue_
            {
                lp = lp.continue_token(&c);
                secrets.list(&lp).await.unwrap();
            }
        }
    })
    .await;

    // Writes while watches are open, each receiving every change (resuming from now).
    let rv = secrets
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut streams = Vec::new();
    for _ in 0..WATCHERS {
        streams.push(
            secrets
                .watch(&WatchParams::default().timeout(290), &rv)
                .await
                .unwrap()
                .boxed(),
        );
    }
    timed(&format!("patch secret, {WATCHERS} watchers"), n, |i| {
        let secrets = secrets.clone();
        async move {
            let p = json!({"metadata": {"annotations": {"round": i.to_string()}}});
            secrets
                .patch(
                    &format!("secret{:06}", pick(i)),
                    &PatchParams::default(),
                    &Patch::Merge(&p),
                )
                .await
                .unwrap();
        }
    })
    .await;
    for s in &mut streams {
        let mut seen = 0;
        while seen < ROUNDS {
            match s.try_next().await.unwrap() {
                Some(WatchEvent::Modified(_)) => seen += 1,
                Some(WatchEvent::Bookmark(_)) => {}
                other => panic!("unexpected watch event {other:?}"),
            }
        }
    }
    drop(streams);
    emulator.shutdown();
}

/// One write and the garbage collection after it, with n owners and n dependents stored, in process.
fn gc_pass() {
    use kube_emulator::store::Store;
    for n in [1000, 10_000] {
        let mut store = Store::new();
        let foos = ("example.com".to_string(), "foos".to_string());
        let secrets = (String::new(), "secrets".to_string());
        for i in 0..n {
            store.commit(
                &foos,
                json!({"metadata": {"name": format!("foo{i}"), "namespace": "default", "uid": format!("u{i}")}}),
                None,
            );
            store.commit(
                &secrets,
                json!({"metadata": {"name": format!("secret{i}"), "namespace": "default", "uid": format!("s{i}"),
                    "ownerReferences": [{"uid": format!("u{i}")}]}}),
                None,
            );
        }
        kube_emulator::gc::collect(&mut store);
        // What the collector does after one ordinary write.
        let started = Instant::now();
        let mut writes = 0;
        for round in 0..ROUNDS {
            let i = (round * 7919) % n;
            let key = ("default".to_string(), format!("secret{i}"));
            let old = store.get(&secrets, &key).cloned();
            let mut new = old.clone().unwrap();
            new["metadata"]["labels"] = json!({"round": round.to_string()});
            store.commit(&secrets, new, old);
            writes += kube_emulator::gc::collect(&mut store);
        }
        let took = started.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;
        println!(
            "n={n:<6} {:<34} {took:>10.0} µs/write ({writes} collected)",
            "write + gc pass (nothing to collect)"
        );
    }
}
