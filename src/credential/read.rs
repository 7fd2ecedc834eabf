//! Reading a stored WetixCredential without trusting it. The schema may be missing, old or
//! edited, and status may be written by anyone allowed the subresource, so a spec or status
//! that does not parse as today's types must not fail the list or watch of every credential:
//! it is read as an "unreadable" value naming the field, and the reconcile reports it on that
//! one object (a spec) or overwrites it (a status).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    ClientSecretRef, DeletionPolicy, Environment, ServerSpec, WetixCredentialSpec,
    WetixCredentialStatus, default_client_id_key, default_client_secret_key, default_refresh_path,
    default_renew_before_percentage, default_token_path,
};

/// The longest problem description kept: the field path and serde's words for the problem.
const MAX_PROBLEM: usize = 300;

impl<'de> Deserialize<'de> for WetixCredentialSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(strictly::<StrictSpec>(value, "spec").map_or_else(unreadable_spec, |s| s.0))
    }
}

impl Serialize for WetixCredentialSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WetixCredentialSpec::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for WetixCredentialStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(strictly::<StrictStatus>(value, "status").map_or_else(
            |problem| WetixCredentialStatus {
                unreadable: Some(problem),
                ..WetixCredentialStatus::default()
            },
            |s| s.0,
        ))
    }
}

impl Serialize for WetixCredentialStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WetixCredentialStatus::serialize(self, serializer)
    }
}

/// The derived, strict reading of each type, for the path-tracking deserializer.
struct StrictSpec(WetixCredentialSpec);
struct StrictStatus(WetixCredentialStatus);

impl<'de> Deserialize<'de> for StrictSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WetixCredentialSpec::deserialize(deserializer).map(Self)
    }
}

impl<'de> Deserialize<'de> for StrictStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WetixCredentialStatus::deserialize(deserializer).map(Self)
    }
}

/// Reads `value` strictly, or says which field under `root` failed and why.
fn strictly<T: for<'de> Deserialize<'de>>(
    value: serde_json::Value,
    root: &str,
) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            root.to_owned()
        } else {
            format!("{root}.{path}")
        };
        let problem = format!("{field}: {}", error.inner());
        problem.chars().take(MAX_PROBLEM).collect()
    })
}

/// A spec that says only why it could not be read; the reconcile reports that and does nothing
/// else with it.
pub(crate) fn unreadable_spec(problem: String) -> WetixCredentialSpec {
    WetixCredentialSpec {
        server: ServerSpec {
            environment: Environment::Sandbox,
            url: None,
            token_path: default_token_path(),
            refresh_path: default_refresh_path(),
        },
        client_secret_ref: ClientSecretRef {
            name: String::new(),
            client_id_key: default_client_id_key(),
            client_secret_key: default_client_secret_key(),
        },
        refresh_token_secret_ref: None,
        renew_before: None,
        renew_before_percentage: default_renew_before_percentage(),
        secret_name: None,
        secret_template: None,
        deletion_policy: DeletionPolicy::Retain,
        rollout_restart_targets: vec![],
        suspend: false,
        unreadable: Some(problem),
    }
}

#[cfg(test)]
mod tests;
