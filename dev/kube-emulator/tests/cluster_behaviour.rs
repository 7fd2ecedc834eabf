//! Garbage collection (G2), fault injection, the request log, Events (E1/E2) and discovery
//! as kubectl uses it (Y1).

mod common;

use common::{api_error, bounded, foo, foo_crd, foos, start};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn deleting_an_owner_removes_its_dependents_after_the_delete_call() {
    bounded(async {
        let (emu, client) = start().await;
        emu.install_crd(foo_crd());
        let owner = foos(&client)
            .create(&PostParams::default(), &foo("o", json!({})))
            .await
            .unwrap();
        let secrets: Api<Secret> = Api::default_namespaced(client.clone());
        let mut child: Secret =
            serde_json::from_value(json!({"metadata": {"name": "child"}})).unwrap();
        child.metadata.owner_references = Some(vec![
            owner.controller_owner_ref(&common::foo_resource()).unwrap(),
        ]);
        secrets
            .create(&PostParams::default(), &child)
            .await
            .unwrap();
        let unrelated: Secret =
            serde_json::from_value(json!({"metadata": {"name": "kept"}})).unwrap();
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
        foos(&client)
            .delete("o", &DeleteParams::default())
            .await
            .unwrap();
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
    })
    .await
}

#[tokio::test]
async fn injected_write_failures_hit_the_next_writes_then_stop() {
    bounded(async {
        let (emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn dropped_watches_end_and_delay_slows_every_response() {
    bounded(async {
        let (emu, client) = start().await;
        let api: Api<Secret> = Api::default_namespaced(client);
        let mut watch = api
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        tokio::time::sleep(Duration::from_millis(50)).await;
        emu.faults().drop_watches();
        while let Some(e) = watch.try_next().await.unwrap() {
            assert!(matches!(e, WatchEvent::Bookmark(_)), "{e:?}");
        }
        emu.faults().set_delay(Duration::from_millis(300));
        let started = Instant::now();
        api.get_opt("x").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
    })
    .await
}

#[tokio::test]
async fn request_log_records_method_path_query_content_type_manager_and_status() {
    bounded(async {
        let (emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn request_log_records_the_user_agent_of_each_client() {
    bounded(async {
        let (emu, test_client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn recorder_events_are_created_and_repeats_fold_into_a_series() {
    bounded(async {
        let (_emu, client) = start().await;
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
    })
    .await
}

#[tokio::test]
async fn event_without_event_time_is_422_with_a_cause_on_event_time() {
    bounded(async {
        let (_emu, client) = start().await;
        let events: Api<K8sEvent> = Api::default_namespaced(client);
        let ev: K8sEvent =
            serde_json::from_value(json!({"metadata": {"name": "e"}, "type": "Normal",
            "reportingController": "c", "reportingInstance": "i", "action": "a", "reason": "r"}))
            .unwrap();
        let s = api_error(
            events
                .create(&PostParams::default(), &ev)
                .await
                .unwrap_err(),
        );
        assert_eq!(s.code, 422);
        assert_eq!(s.details.unwrap().causes[0].field, "eventTime");
    })
    .await
}

#[tokio::test]
async fn discovery_lists_builtin_and_crd_resources() {
    bounded(async {
        let (emu, client) = start().await;
        emu.install_crd(foo_crd());
        let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
        let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
        for g in [
            "",
            "apps",
            "coordination.k8s.io",
            "events.k8s.io",
            "example.com",
        ] {
            assert!(
                groups.contains(&g.to_string()),
                "{g} missing from {groups:?}"
            );
        }
        let (ar, caps) = discovery
            .resolve_gvk(&kube::api::GroupVersionKind::gvk(
                "example.com",
                "v1",
                "Foo",
            ))
            .unwrap();
        assert_eq!(ar.plural, "foos");
        assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));
        assert_eq!(client.apiserver_version().await.unwrap().major, "1");
    })
    .await
}

#[tokio::test]
async fn kubectl_gets_and_applies_against_the_emulator() {
    bounded(async {
        if std::process::Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_err()
        {
            println!("note: kubectl not on PATH; skipping the kubectl check");
            return;
        }
        let (emu, client) = start().await;
        let dir =
            std::env::temp_dir().join(format!("kube-emulator-kubectl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, emu.kubeconfig_yaml("default")).unwrap();
        let manifest = dir.join("secret.yaml");
        std::fs::write(
            &manifest,
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-kubectl\nstringData:\n  a: b\n",
        )
        .unwrap();
        let run = |args: &[&str]| {
            let kubeconfig = kubeconfig.clone();
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            async move {
                tokio::process::Command::new("kubectl")
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .args(&args)
                    .output()
                    .await
                    .unwrap()
            }
        };
        let applied = run(&["apply", "-f", manifest.to_str().unwrap()]).await;
        assert!(
            applied.status.success(),
            "{}",
            String::from_utf8_lossy(&applied.stderr)
        );
        let listed = run(&["get", "secrets"]).await;
        assert!(
            listed.status.success(),
            "{}",
            String::from_utf8_lossy(&listed.stderr)
        );
        assert!(String::from_utf8_lossy(&listed.stdout).contains("from-kubectl"));
        let ssa = run(&["apply", "--server-side", "-f", manifest.to_str().unwrap()]).await;
        assert!(
            ssa.status.success(),
            "{}",
            String::from_utf8_lossy(&ssa.stderr)
        );
        let api: Api<Secret> = Api::default_namespaced(client);
        assert_eq!(
            api.get("from-kubectl").await.unwrap().data.unwrap()["a"].0,
            b"b"
        );
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
}
