//! Rollout restarts of `spec.rolloutRestartTargets` when the access token changes, the way
//! `kubectl rollout restart` does it: a new pod-template annotation makes the workload roll,
//! so pods that read the token from an environment variable pick up the new one.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::{
    credential::{RolloutRestartTarget, WorkloadKind},
    error_chain::error_chain,
    managed_secret::{FIELD_MANAGER, rfc3339},
    reason::{Notice, Reason},
};

/// The pod-template annotation whose new value restarts the workload.
pub const RESTARTED_AT: &str = "wetix.my/restartedAt";

/// The merge patch that restarts a workload at `now`.
pub fn restart_patch(now: Timestamp) -> Value {
    json!({
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: rfc3339(now)}}}}
    })
}

/// A target that could not be restarted.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} {name:?} could not be restarted")]
pub struct RestartFailed {
    pub kind: WorkloadKind,
    pub name: String,
    /// The target does not exist (as opposed to an API error).
    pub not_found: bool,
    #[source]
    pub source: kube::Error,
}

/// The Events after restarting `targets` targets with these failures: one Warning per failure,
/// and one Normal counting the restarted, if any.
pub fn notices(targets: usize, failures: &[RestartFailed], namespace: &str) -> Vec<Notice> {
    let mut notices: Vec<Notice> = failures
        .iter()
        .map(|failure| {
            let message = if failure.not_found {
                format!("{failure}: not found in namespace {namespace:?}")
            } else {
                error_chain(failure)
            };
            Notice::warning(Reason::RolloutRestartFailed, &message, ACTION)
        })
        .collect();
    let restarted = targets.saturating_sub(failures.len());
    if restarted > 0 {
        let note = format!("restarted {restarted} of {targets} rollout targets");
        notices.push(Notice::normal(Reason::RolloutRestarted, &note, ACTION));
    }
    notices
}

const ACTION: &str = "RestartWorkload";

/// Restarts every target; the failures are returned, never fatal: the Secret is already written.
pub async fn restart_all(
    client: &Client,
    namespace: &str,
    targets: &[RolloutRestartTarget],
    now: Timestamp,
) -> Vec<RestartFailed> {
    let patch = restart_patch(now);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let mut failures = vec![];
    for target in targets {
        let result = match target.kind {
            WorkloadKind::Deployment => {
                merge_patch::<Deployment>(client, namespace, target, &params, &patch).await
            }
            WorkloadKind::StatefulSet => {
                merge_patch::<StatefulSet>(client, namespace, target, &params, &patch).await
            }
            WorkloadKind::DaemonSet => {
                merge_patch::<DaemonSet>(client, namespace, target, &params, &patch).await
            }
        };
        if let Err(source) = result {
            let not_found = matches!(&source, kube::Error::Api(status) if status.code == 404);
            failures.push(RestartFailed {
                kind: target.kind,
                name: target.name.clone(),
                not_found,
                source,
            });
        }
    }
    failures
}

async fn merge_patch<K>(
    client: &Client,
    namespace: &str,
    target: &RolloutRestartTarget,
    params: &PatchParams,
    patch: &Value,
) -> Result<(), kube::Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.patch(&target.name, params, &Patch::Merge(patch))
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_sets_only_the_pod_template_annotation() {
        let patch = restart_patch("2026-11-25T10:00:00.5Z".parse().unwrap());
        assert_eq!(
            patch,
            json!({"spec": {"template": {"metadata": {"annotations": {
                "wetix.my/restartedAt": "2026-11-25T10:00:00Z"
            }}}}})
        );
    }
}
