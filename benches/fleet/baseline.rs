//! The baseline: the least a client can do to issue a fleet's tokens, in a straight line. Per
//! credential one token POST to WeTix, one server-side apply of its Secret and one of its
//! status, at the operator's reconcile concurrency, on a set of credentials of its own (in a
//! namespace the operator does not watch). No watch, no cache, no reads, no Event: what the
//! operator does beyond this is its overhead.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use serde_json::{Value, json};
use wetix_operator::credential::WetixCredential;

use crate::setup;

/// The operator's reconcile concurrency.
pub const CONCURRENCY: usize = wetix_operator::wakeups::SLOTS;

const FIELD_MANAGER: &str = "fleet-baseline";

/// Issues tokens for the `n` credentials of `namespace` (created by
/// [`setup::create_credentials`]); how long it took.
pub async fn run(client: &Client, namespace: &str, wetix_url: &str, n: usize) -> Duration {
    let credentials: Api<WetixCredential> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), namespace);
    // The UIDs for the owner references, read before the clock starts.
    let uids: std::collections::HashMap<String, String> = credentials
        .list_metadata(&ListParams::default())
        .await
        .expect("baseline credentials listed")
        .items
        .into_iter()
        .map(|c| (c.name_any(), c.uid().unwrap_or_default()))
        .collect();
    let http = reqwest::Client::new();
    let token_url = format!("{wetix_url}/auth/token");
    let started = Instant::now();
    setup::in_flight(0..n, CONCURRENCY, |i| {
        let (http, token_url, credentials, secrets, uids) =
            (&http, &token_url, &credentials, &secrets, &uids);
        async move {
            let name = setup::credential_name(i);
            let answer: Value = http
                .post(token_url)
                .basic_auth(setup::client_id(i), Some(setup::client_secret(i)))
                .json(&json!({"grant_type": "client_credentials"}))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("baseline token request")
                .json()
                .await
                .expect("baseline token answer");
            let now = Timestamp::now();
            let access_token = answer["access_token"].as_str().unwrap_or_default();
            let refresh_token = answer["refresh_token"].as_str().unwrap_or_default();
            let expires_at = later(now, answer["expires_in"].as_i64());
            let refresh_expires_at = later(now, answer["refresh_token_expires_in"].as_i64());
            let next_refresh = later(now, answer["expires_in"].as_i64().map(|s| s * 2 / 3));
            let secret_name = format!("{name}-token");
            let secret = json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {
                    "name": secret_name,
                    "labels": {
                        "app.kubernetes.io/managed-by": FIELD_MANAGER,
                        "wetix.my/credential": name,
                    },
                    "annotations": {
                        "wetix.my/access-token-expires-at": expires_at,
                        "wetix.my/refresh-token-expires-at": refresh_expires_at,
                        "wetix.my/refreshed-at": seconds(now),
                    },
                    "ownerReferences": [{
                        "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
                        "name": name, "uid": uids.get(&name).cloned().unwrap_or_default(),
                        "controller": true,
                    }],
                },
                "type": "Opaque",
                "stringData": {
                    "access_token": access_token,
                    "refresh_token": refresh_token,
                    "token_type": "Bearer",
                    "authorization": format!("Bearer {access_token}"),
                    "expires_at": expires_at,
                    "refresh_token_expires_at": refresh_expires_at,
                },
            });
            let apply = PatchParams::apply(FIELD_MANAGER).force();
            secrets
                .patch(&secret_name, &apply, &Patch::Apply(&secret))
                .await
                .expect("baseline Secret applied");
            let status = json!({
                "apiVersion": "wetix.my/v1alpha1", "kind": "WetixCredential",
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{
                        "type": "Ready", "status": "True", "reason": "TokenIssued",
                        "message": "tokens issued", "lastTransitionTime": seconds(now),
                        "observedGeneration": 1,
                    }],
                    "secretName": secret_name,
                    "accessTokenExpiresAt": expires_at,
                    "refreshTokenExpiresAt": refresh_expires_at,
                    "lastRefreshTime": seconds(now),
                    "nextRefreshTime": next_refresh,
                    "failedAttempts": 0,
                },
            });
            credentials
                .patch_status(&name, &apply, &Patch::Apply(&status))
                .await
                .expect("baseline status applied");
        }
    })
    .await;
    started.elapsed()
}

/// `at` plus `secs` seconds, as Kubernetes writes a time.
fn later(at: Timestamp, secs: Option<i64>) -> String {
    let by = jiff::SignedDuration::from_secs(secs.unwrap_or_default());
    seconds(at.checked_add(by).unwrap_or(at))
}

fn seconds(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
