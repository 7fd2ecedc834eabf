//! The objects a user would apply to try the operator: a namespace, the WeTix client Secret and
//! one WetixCredential. Applied through the API with server-side apply, as `kubectl apply
//! --server-side` would, and written to disk so a person can read what was applied.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};
use wetix_operator::credential::WetixCredential;

use crate::SandboxError;

pub const NAMESPACE: &str = "shop";
pub const CLIENT_SECRET_NAME: &str = "wetix-client";
pub const CREDENTIAL_NAME: &str = "ticketing";
/// The contract's default managed Secret name, `<metadata.name>-token`.
pub const MANAGED_SECRET_NAME: &str = "ticketing-token";
/// The client registered with the fake WeTix server. Not a real credential: the fake server
/// exists only in this process.
pub const CLIENT_ID: &str = "shop-sandbox";
pub const CLIENT_SECRET: &str = "sandbox-only-client-secret";
/// The field manager of the sandbox's applies.
pub const FIELD_MANAGER: &str = "wetix-sandbox";

/// One object, and the file it is written to.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub file: &'static str,
    pub kind: Kind,
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Namespace,
    Secret,
    WetixCredential,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Secret => "Secret",
            Kind::WetixCredential => "WetixCredential",
        }
    }
}

/// The three objects, in the order they are applied; the credential points at `wetix_url`.
pub fn manifests(wetix_url: &str) -> Vec<Manifest> {
    vec![
        Manifest {
            file: "namespace.yaml",
            kind: Kind::Namespace,
            body: json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": NAMESPACE},
            }),
        },
        Manifest {
            file: "wetix-client.yaml",
            kind: Kind::Secret,
            body: json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": CLIENT_SECRET_NAME,
                    "namespace": NAMESPACE,
                    "labels": {"wetix.my/watch": "true"},
                },
                "type": "Opaque",
                "stringData": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            }),
        },
        Manifest {
            file: "ticketing.yaml",
            kind: Kind::WetixCredential,
            body: json!({
                "apiVersion": "wetix.my/v1alpha1",
                "kind": "WetixCredential",
                "metadata": {"name": CREDENTIAL_NAME, "namespace": NAMESPACE},
                "spec": {
                    "server": {"environment": "Sandbox", "url": wetix_url},
                    "clientSecretRef": {"name": CLIENT_SECRET_NAME},
                },
            }),
        },
    ]
}

/// Writes each manifest to `dir` as YAML; returns the paths in order.
pub fn write(dir: &Path, manifests: &[Manifest]) -> Result<Vec<PathBuf>, SandboxError> {
    manifests
        .iter()
        .map(|manifest| {
            let yaml =
                serde_saphyr::to_string(&manifest.body).map_err(|source| SandboxError::Yaml {
                    file: manifest.file,
                    source,
                })?;
            let path = dir.join(manifest.file);
            crate::write_file(&path, &yaml)?;
            Ok(path)
        })
        .collect()
}

/// Server-side applies each manifest, in order.
pub async fn apply(client: &Client, manifests: &[Manifest]) -> Result<(), SandboxError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for manifest in manifests {
        let name = manifest.body["metadata"]["name"]
            .as_str()
            .unwrap_or_default();
        let patch = Patch::Apply(&manifest.body);
        let applied = match manifest.kind {
            Kind::Namespace => Api::<Namespace>::all(client.clone())
                .patch(name, &params, &patch)
                .await
                .map(drop),
            Kind::Secret => Api::<Secret>::namespaced(client.clone(), NAMESPACE)
                .patch(name, &params, &patch)
                .await
                .map(drop),
            Kind::WetixCredential => Api::<WetixCredential>::namespaced(client.clone(), NAMESPACE)
                .patch(name, &params, &patch)
                .await
                .map(drop),
        };
        applied.map_err(|source| SandboxError::Apply {
            kind: manifest.kind.as_str(),
            name: name.to_owned(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_a_valid_wetix_credential_pointing_at_the_fake_server() {
        let all = manifests("http://127.0.0.1:4000");
        let credential: WetixCredential = serde_json::from_value(all[2].body.clone()).unwrap();
        assert_eq!(credential.secret_name(), MANAGED_SECRET_NAME);
        assert_eq!(
            credential.spec.server.url.as_deref(),
            Some("http://127.0.0.1:4000")
        );
        assert_eq!(credential.spec.client_secret_ref.name, CLIENT_SECRET_NAME);
    }
}
