//! Which credentials a change to a Secret concerns. Pure: the operator watches Secrets by
//! metadata only and maps each change back to the credentials it matters to.

use k8s_openapi::api::core::v1::Secret;
use kube::{ResourceExt, core::PartialObjectMeta, runtime::reflector::ObjectRef};

use crate::{credential::WetixCredential, managed_secret::labels};

/// The credentials that must look again when `secret` changes: the one that manages it (by
/// its labels), and every credential in its namespace that reads it as client Secret or
/// bootstrap refresh token.
pub fn credentials_for_secret<'a>(
    credentials: impl IntoIterator<Item = &'a WetixCredential>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<WetixCredential>> {
    let Some(namespace) = secret.namespace() else {
        return vec![];
    };
    let name = secret.name_any();
    let secret_labels = secret.labels();
    let mut found = vec![];
    if secret_labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
        && let Some(owner) = secret_labels.get(labels::CREDENTIAL)
    {
        found.push(ObjectRef::new(owner).within(&namespace));
    }
    for credential in credentials {
        if credential.namespace().as_deref() != Some(namespace.as_str()) {
            continue;
        }
        let spec = &credential.spec;
        let reads_it = spec.client_secret_ref.name == name
            || spec
                .refresh_token_secret_ref
                .as_ref()
                .is_some_and(|r| r.name == name)
            || credential.secret_name() == name;
        if reads_it {
            let reference = ObjectRef::from(credential);
            if !found.contains(&reference) {
                found.push(reference);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{CredentialFixture, credential};
    use kube::api::ObjectMeta;

    fn secret(namespace: &str, name: &str, labels: &[(&str, &str)]) -> PartialObjectMeta<Secret> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            _phantom: Default::default(),
        }
    }

    fn names(refs: Vec<ObjectRef<WetixCredential>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn a_client_secret_change_reaches_every_credential_that_reads_it_in_its_namespace() {
        let a = credential().named("a");
        let b = credential().named("b");
        let mut elsewhere = credential().named("c");
        elsewhere.metadata.namespace = Some("billing".into());
        let all = [a, b, elsewhere];
        let found = credentials_for_secret(&all, &secret("shop", "wetix-client", &[]));
        assert_eq!(names(found), ["a", "b"]);
    }

    #[test]
    fn a_managed_secret_change_reaches_its_credential_by_label() {
        let found = credentials_for_secret(
            [],
            &secret(
                "shop",
                "ticketing-token",
                &[
                    ("app.kubernetes.io/managed-by", "wetix-operator"),
                    ("wetix.my/credential", "ticketing"),
                ],
            ),
        );
        assert_eq!(names(found.clone()), ["ticketing"]);
        assert_eq!(found[0].namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn a_deleted_managed_secret_without_labels_still_reaches_its_credential_by_name() {
        let all = [credential()];
        let found = credentials_for_secret(&all, &secret("shop", "ticketing-token", &[]));
        assert_eq!(names(found), ["ticketing"]);
    }

    #[test]
    fn an_unrelated_secret_reaches_nobody() {
        let all = [credential()];
        assert!(credentials_for_secret(&all, &secret("shop", "other", &[])).is_empty());
    }
}
