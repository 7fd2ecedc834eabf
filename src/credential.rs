//! The `WetixCredential` resource: what a user asks for (`spec`) and what the operator reports
//! (`status`). The CRD in `crds/` is printed from these types.
//!
//! Every default lives twice, on purpose: in the schema (so `kubectl get -o yaml` shows it and
//! the API server fills it in) and in serde (so an object stored without the field, or served by
//! a server that does not apply schema defaults, behaves exactly as if the default were written).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::duration::GoDuration;

mod read;

pub(crate) use read::unreadable_spec;

/// Base URL of WeTix's production OAuth server.
pub const PRODUCTION_URL: &str = "https://oauth.wetix.my";
/// Base URL of WeTix's sandbox OAuth server.
pub const SANDBOX_URL: &str = "https://sb-oauth.wetix.my";

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "wetix.my",
    version = "v1alpha1",
    kind = "WetixCredential",
    plural = "wetixcredentials",
    shortname = "wxc",
    namespaced,
    status = "WetixCredentialStatus",
    doc = "WeTix OAuth tokens kept fresh in a managed Secret",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Access Expires","type":"string","jsonPath":".status.accessTokenExpiresAt"}"#,
    printcolumn = r#"{"name":"Next Refresh","type":"string","jsonPath":".status.nextRefreshTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
/// What the user asks for: which WeTix server, which client Secret, when to renew, and which
/// Secret to keep the tokens in.
// The derived (strict) Deserialize is an inherent function: the trait impl in `read` wraps it
// so that a field that does not parse makes this one object unreadable, not the whole list.
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct WetixCredentialSpec {
    /// Which WeTix OAuth server to talk to.
    pub server: ServerSpec,
    /// The Secret, in the same namespace, holding the OAuth client id and secret.
    pub client_secret_ref: ClientSecretRef,
    /// Start from a refresh token obtained elsewhere (e.g. by the authorization-code grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_secret_ref: Option<RefreshTokenSecretRef>,
    /// Renew this long before a token expires, as a Go duration such as "72h". A value not
    /// shorter than the token's lifetime is ignored and the percentage rule applies instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<GoDuration>,
    /// Renew when this percentage of a token's lifetime is left (used when renewBefore is unset).
    #[serde(default = "default_renew_before_percentage")]
    // The API server knows only the OpenAPI formats (int32, int64, ...) and warns on others.
    #[schemars(range(min = 1, max = 99), extend("format" = "int32"))]
    pub renew_before_percentage: u8,
    /// Name of the managed Secret; defaults to "<metadata.name>-token".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: Option<String>,
    /// Extra labels and annotations for the managed Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<SecretTemplate>,
    /// What happens to the managed Secret when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Workloads in the same namespace restarted when the access token changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollout_restart_targets: Vec<RolloutRestartTarget>,
    /// Stop all calls to WeTix; the managed Secret is left as it is.
    #[serde(default)]
    pub suspend: bool,
    /// Why the stored spec could not be read as this type (the field and the problem), when it
    /// could not. Never stored: set only by reading.
    #[serde(skip)]
    #[schemars(skip)]
    pub unreadable: Option<String>,
}

/// Which WeTix OAuth server to talk to, and the paths of its two grants.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    /// The WeTix environment: Production (https://oauth.wetix.my) or Sandbox
    /// (https://sb-oauth.wetix.my).
    pub environment: Environment,
    /// Replaces the environment's base URL; only URLs the operator allows are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"))]
    pub url: Option<String>,
    /// Path of the client-credentials grant.
    #[serde(default = "default_token_path")]
    #[schemars(regex(pattern = r"^/\S*$"))]
    pub token_path: String,
    /// Path of the refresh grant.
    #[serde(default = "default_refresh_path")]
    #[schemars(regex(pattern = r"^/\S*$"))]
    pub refresh_path: String,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Environment {
    Production,
    Sandbox,
}

impl Environment {
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Production => PRODUCTION_URL,
            Self::Sandbox => SANDBOX_URL,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretRef {
    /// Name of the Secret, in the credential's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key of the Secret's data holding the OAuth client id.
    #[serde(default = "default_client_id_key")]
    #[schemars(length(min = 1))]
    pub client_id_key: String,
    /// Key of the Secret's data holding the OAuth client secret.
    #[serde(default = "default_client_secret_key")]
    #[schemars(length(min = 1))]
    pub client_secret_key: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenSecretRef {
    /// Name of the Secret, in the credential's namespace. Read only until the operator has
    /// tokens of its own.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key of the Secret's data holding the refresh token.
    #[serde(default = "default_refresh_token_key")]
    #[schemars(length(min = 1))]
    pub key: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct SecretTemplate {
    /// Labels set on the managed Secret, next to the operator's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations set on the managed Secret, next to the operator's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// The Secret is owned by the credential and deleted with it.
    #[default]
    Delete,
    /// The Secret outlives the credential.
    Retain,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RolloutRestartTarget {
    /// The workload's kind: Deployment, StatefulSet or DaemonSet.
    pub kind: WorkloadKind,
    /// The workload's name, in the credential's namespace. It must carry the annotation
    /// wetix.my/restart-on-token-change listing this credential's name to be restarted.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

/// What the operator last observed and did. Written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct WetixCredentialStatus {
    /// The metadata.generation of the spec this status was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The Ready condition: whether the managed Secret holds a valid token that is being kept
    /// fresh, and if not, the reason (e.g. InvalidClient, ServerUnavailable, Suspended).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Name of the managed Secret the tokens are written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// When the access token in the managed Secret expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<Time>,
    /// When the refresh token in the managed Secret expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<Time>,
    /// When the access token in the managed Secret was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh_time: Option<Time>,
    /// When the operator next renews the access token (or retries after a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_refresh_time: Option<Time>,
    /// Token requests that failed in a row since the last success; 0 once one succeeds.
    #[serde(default)]
    #[schemars(extend("format" = "int64"))]
    pub failed_attempts: u32,
    /// When the last of those failed requests was made; null once one succeeds.
    #[serde(default)]
    pub last_failure_time: Option<Time>,
    /// The last value of the annotation wetix.my/refresh-requested-at that the operator
    /// handled; empty if none.
    #[serde(default)]
    pub last_refresh_request: String,
    /// The first 16 hex digits of the SHA-256 of the access token in the managed Secret, to
    /// tell tokens apart without showing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_fingerprint: Option<String>,
    /// Why the stored status could not be read as this type, when it could not: it is then
    /// treated as absent and overwritten. Never stored.
    #[serde(skip)]
    #[schemars(skip)]
    pub unreadable: Option<String>,
}

impl WetixCredentialSpec {
    /// The renewal rule of section 3 of the contract, as the schedule takes it.
    pub fn renew_policy(&self) -> crate::schedule::RenewPolicy {
        crate::schedule::RenewPolicy {
            renew_before: self.renew_before.as_ref().map(GoDuration::as_duration),
            percentage: self.renew_before_percentage,
        }
    }
}

impl WetixCredential {
    /// The managed Secret's name: `spec.secretName`, else "<metadata.name>-token".
    pub fn secret_name(&self) -> String {
        match &self.spec.secret_name {
            Some(name) => name.clone(),
            None => format!(
                "{}-token",
                self.metadata.name.as_deref().unwrap_or_default()
            ),
        }
    }

    /// The `Ready` condition, if the operator has written one.
    pub fn ready_condition(&self) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
    }
}

/// The CRD as the YAML committed in `crds/` (and printed by `wetix-operator crd`).
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    // The CRD is built from constants (the types' schema); tests/crd_drift.rs serializes it on
    // every test run, so a type that could not be written would fail there, not in a cluster.
    #[allow(
        clippy::expect_used,
        reason = "the CRD is plain data, the same on every call"
    )]
    let yaml = serde_saphyr::to_string(&WetixCredential::crd())
        .expect("the CRD is plain data and always serializes");
    format!("# Generated by `wetix-operator crd`; do not edit.\n---\n{yaml}")
}

fn default_renew_before_percentage() -> u8 {
    33
}
fn default_token_path() -> String {
    "/auth/token".into()
}
fn default_refresh_path() -> String {
    "/auth/refresh".into()
}
fn default_client_id_key() -> String {
    "client_id".into()
}
fn default_client_secret_key() -> String {
    "client_secret".into()
}
fn default_refresh_token_key() -> String {
    "refresh_token".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn minimal() -> serde_json::Value {
        json!({
            "apiVersion": "wetix.my/v1alpha1",
            "kind": "WetixCredential",
            "metadata": {"name": "ticketing", "namespace": "shop"},
            "spec": {
                "server": {"environment": "Sandbox"},
                "clientSecretRef": {"name": "wetix-client"}
            }
        })
    }

    #[test]
    fn an_object_stored_without_defaults_behaves_as_if_they_were_written() {
        let cred: WetixCredential = serde_json::from_value(minimal()).unwrap();
        assert_eq!(cred.spec.server.token_path, "/auth/token");
        assert_eq!(cred.spec.server.refresh_path, "/auth/refresh");
        assert_eq!(cred.spec.client_secret_ref.client_id_key, "client_id");
        assert_eq!(
            cred.spec.client_secret_ref.client_secret_key,
            "client_secret"
        );
        assert_eq!(cred.spec.renew_before_percentage, 33);
        assert_eq!(cred.spec.deletion_policy, DeletionPolicy::Delete);
        assert!(!cred.spec.suspend);
        assert_eq!(cred.secret_name(), "ticketing-token");
    }

    #[test]
    fn the_schema_carries_the_same_defaults_as_the_types() {
        let crd = serde_json::to_value(WetixCredential::crd()).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let props = &spec["properties"];
        assert_eq!(props["renewBeforePercentage"]["default"], 33);
        assert_eq!(
            props["renewBeforePercentage"]["minimum"].as_f64(),
            Some(1.0)
        );
        assert_eq!(
            props["renewBeforePercentage"]["maximum"].as_f64(),
            Some(99.0)
        );
        assert_eq!(props["deletionPolicy"]["default"], "Delete");
        assert_eq!(props["suspend"]["default"], false);
        assert_eq!(
            props["server"]["properties"]["tokenPath"]["default"],
            "/auth/token"
        );
        assert_eq!(
            props["server"]["properties"]["refreshPath"]["default"],
            "/auth/refresh"
        );
        assert_eq!(
            props["clientSecretRef"]["properties"]["clientIdKey"]["default"],
            "client_id"
        );
        assert_eq!(
            props["server"]["properties"]["environment"]["enum"],
            json!(["Production", "Sandbox"])
        );
        let required = spec["required"].as_array().unwrap();
        assert!(required.contains(&json!("server")));
        assert!(required.contains(&json!("clientSecretRef")));
    }

    #[test]
    fn kubectl_get_shows_ready_reason_expiry_next_refresh_and_age() {
        let crd = WetixCredential::crd();
        assert_eq!(crd.spec.names.short_names, Some(vec!["wxc".to_string()]));
        let columns: Vec<String> = crd.spec.versions[0]
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            columns,
            ["Ready", "Reason", "Access Expires", "Next Refresh", "Age"]
        );
        assert!(
            crd.spec.versions[0]
                .subresources
                .as_ref()
                .unwrap()
                .status
                .is_some()
        );
    }

    #[test]
    fn an_explicit_secret_name_wins_over_the_default() {
        let mut value = minimal();
        value["spec"]["secretName"] = json!("custom");
        let cred: WetixCredential = serde_json::from_value(value).unwrap();
        assert_eq!(cred.secret_name(), "custom");
    }
}
