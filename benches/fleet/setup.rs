//! The objects a run starts from, created before the operator starts: the fleet (per
//! credential its own client, registered with fake WeTix, and its own client Secret), the
//! baseline's credentials, and the unrelated Secrets that share the operator's namespace.

use std::collections::BTreeMap;

use fake_wetix::FakeWetix;
use futures::StreamExt;
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api,
    api::{DeleteParams, ListParams, ObjectMeta, PostParams},
};
use serde_json::json;
use wetix_operator::credential::WetixCredential;

/// Requests the set-up keeps in flight at once.
pub const IN_FLIGHT: usize = 32;

/// Size of each unrelated Secret's data.
pub const UNRELATED_BYTES: usize = 4096;

/// The label every client Secret carries: the operator watches only Secrets labelled so (or
/// with its own managed-by label), as a user labels the Secrets it should see.
pub const WATCH_LABEL: (&str, &str) = ("wetix.my/watch", "true");

/// The label that marks the unrelated Secrets, for deleting them in one request.
pub const UNRELATED_LABEL: (&str, &str) = ("wetix-bench/unrelated", "true");

/// The name of credential `i`.
pub fn credential_name(i: usize) -> String {
    format!("c{i:05}")
}

/// The WeTix client id of credential `i`; WeTix's call log names it, which is how a call is
/// traced back to its credential.
pub fn client_id(i: usize) -> String {
    format!("fleet-{}", credential_name(i))
}

/// The credential a client id belongs to.
pub fn credential_of_client(client_id: &str) -> Option<&str> {
    client_id.strip_prefix("fleet-")
}

/// A made-up client secret for credential `i`, registered with fake WeTix only.
pub fn client_secret(i: usize) -> String {
    format!("bench-secret-{i:05}")
}

fn client_secret_name(i: usize) -> String {
    format!("{}-client", credential_name(i))
}

/// Runs `work` over `items` with at most `limit` in flight.
pub async fn in_flight<T, F, Fut>(items: impl IntoIterator<Item = T>, limit: usize, work: F)
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = ()>,
{
    futures::stream::iter(items)
        .map(work)
        .buffer_unordered(limit)
        .collect::<Vec<()>>()
        .await;
}

/// Registers the client of each of the `n` credentials with fake WeTix.
pub fn register_clients(wetix: &FakeWetix, n: usize) {
    for i in 0..n {
        wetix.add_client(&client_id(i), &client_secret(i));
    }
}

/// The client Secret of each of the `n` credentials, labelled for the operator's watch.
pub async fn create_client_secrets(secrets: &Api<Secret>, n: usize) {
    in_flight(0..n, IN_FLIGHT, |i| async move {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(client_secret_name(i)),
                labels: Some(BTreeMap::from([(
                    WATCH_LABEL.0.to_owned(),
                    WATCH_LABEL.1.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([
                (
                    "client_id".to_owned(),
                    ByteString(client_id(i).into_bytes()),
                ),
                (
                    "client_secret".to_owned(),
                    ByteString(client_secret(i).into_bytes()),
                ),
            ])),
            ..Secret::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap_or_else(|e| panic!("client Secret {i} not created: {e}"));
    })
    .await;
}

/// `n` WetixCredentials pointing at `wetix_url`, each at its own client Secret.
pub async fn create_credentials(api: &Api<WetixCredential>, n: usize, wetix_url: &str) {
    in_flight(0..n, IN_FLIGHT, |i| async move {
        let credential: WetixCredential = serde_json::from_value(json!({
            "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
            "metadata": {"name": credential_name(i)},
            "spec": {
                "server": {"environment": "Sandbox", "url": wetix_url},
                "clientSecretRef": {"name": client_secret_name(i)}
            }
        }))
        .expect("a valid credential");
        api.create(&PostParams::default(), &credential)
            .await
            .unwrap_or_else(|e| panic!("credential {i} not created: {e}"));
    })
    .await;
}

/// `count` Secrets the operator has nothing to do with: 4 KiB of data, a few labels and
/// annotations, as an application's Secrets look.
pub async fn create_unrelated(secrets: &Api<Secret>, count: usize) {
    in_flight(0..count, IN_FLIGHT, |i| async move {
        let payload: Vec<u8> = (0..UNRELATED_BYTES)
            .map(|j| b'a' + ((i * 31 + j * 7) % 26) as u8)
            .collect();
        let labels = BTreeMap::from([
            (
                "app.kubernetes.io/name".to_owned(),
                format!("shop-{}", i % 20),
            ),
            (
                "app.kubernetes.io/part-of".to_owned(),
                "storefront".to_owned(),
            ),
            (
                "tier".to_owned(),
                ["web", "api", "worker"][i % 3].to_owned(),
            ),
            (UNRELATED_LABEL.0.to_owned(), UNRELATED_LABEL.1.to_owned()),
        ]);
        let annotations = BTreeMap::from([
            (
                "team.example.com/owner".to_owned(),
                format!("team-{}", i % 7),
            ),
            (
                "team.example.com/description".to_owned(),
                format!("settings of shop-{} replica set {i}", i % 20),
            ),
        ]);
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(format!("unrelated-{i:05}")),
                labels: Some(labels),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                "settings.conf".to_owned(),
                ByteString(payload),
            )])),
            ..Secret::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap_or_else(|e| panic!("unrelated Secret {i} not created: {e}"));
    })
    .await;
}

/// Deletes every unrelated Secret and checks that none is left: in one request where the
/// server manages it, else (kube-apiserver closes a collection delete of 50,000 after its
/// request timeout) a page at a time.
pub async fn delete_unrelated(secrets: &Api<Secret>) {
    let selector = format!("{}={}", UNRELATED_LABEL.0, UNRELATED_LABEL.1);
    let labelled = ListParams::default().labels(&selector);
    let at_once = secrets
        .delete_collection(&DeleteParams::default(), &labelled)
        .await;
    if let Err(error) = at_once {
        crate::progress(&format!(
            "deleting the unrelated Secrets in one request failed ({error}); a page at a time"
        ));
        loop {
            let page = secrets
                .list_metadata(&labelled.clone().limit(1000))
                .await
                .expect("unrelated Secrets listed");
            if page.items.is_empty() {
                break;
            }
            let names: Vec<String> = page
                .items
                .into_iter()
                .filter_map(|s| s.metadata.name)
                .collect();
            in_flight(names, IN_FLIGHT, |name| async move {
                // Gone already (the collection delete may still be running) is fine.
                let _ = secrets.delete(&name, &DeleteParams::default()).await;
            })
            .await;
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let left = secrets
            .list_metadata(&labelled.clone().limit(1))
            .await
            .expect("unrelated Secrets listed");
        if left.items.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "unrelated Secrets still there 300 s after their deletion"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
