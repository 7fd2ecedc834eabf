//! Which credentials a change to a Secret concerns. Pure: the operator watches Secrets by
//! metadata only and maps each change back to the credentials it matters to.

use k8s_openapi::api::core::v1::Secret;
use kube::{ResourceExt, core::PartialObjectMeta, runtime::reflector::ObjectRef};

use crate::{credential::WetixCredential, managed_secret::labels};

/// The credential a managed Secret names as its owner in its labels.
pub fn owner(secret: &PartialObjectMeta<Secret>) -> Option<ObjectRef<WetixCredential>> {
    let labels = secret.labels();
    let managed = labels.get(labels::MANAGED_BY)? == labels::MANAGED_BY_VALUE;
    let owner = labels.get(labels::CREDENTIAL).filter(|_| managed)?;
    Some(ObjectRef::new(owner).within(&secret.namespace()?))
}

/// The credentials that must look again when `secret` changes: the one that manages it (by
/// its labels), and every credential in its namespace that reads it as client Secret or
/// bootstrap refresh token. Only credentials in `credentials`: another operator's (a shard
/// with another `--credential-selector`) are not this one's to reconcile.
pub fn credentials_for_secret<'a>(
    credentials: impl IntoIterator<Item = &'a WetixCredential>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<WetixCredential>> {
    let Some(namespace) = secret.namespace() else {
        return vec![];
    };
    let name = secret.name_any();
    let secret_labels = secret.labels();
    let owner = secret_labels
        .get(labels::MANAGED_BY)
        .filter(|by| *by == labels::MANAGED_BY_VALUE)
        .and_then(|_| secret_labels.get(labels::CREDENTIAL));
    let mut found = vec![];
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
            || credential.secret_name() == name
            || owner.is_some_and(|owner| credential.name_any() == *owner);
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
        let labelled = secret(
            "shop",
            "renamed-token",
            &[
                ("app.kubernetes.io/managed-by", "wetix-operator"),
                ("wetix.my/credential", "ticketing"),
            ],
        );
        let ours = [credential().named("ticketing"), credential().named("other")];
        let found = credentials_for_secret(&ours, &labelled);
        assert_eq!(names(found.clone()), ["ticketing"]);
        assert_eq!(found[0].namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn a_managed_secret_names_its_owner_only_with_both_labels() {
        let both = [
            ("app.kubernetes.io/managed-by", "wetix-operator"),
            ("wetix.my/credential", "ticketing"),
        ];
        let owner = owner(&secret("shop", "t", &both)).unwrap();
        assert_eq!(
            (owner.name.as_str(), owner.namespace.as_deref()),
            ("ticketing", Some("shop"))
        );
        let other_tool = [
            ("app.kubernetes.io/managed-by", "helm"),
            ("wetix.my/credential", "ticketing"),
        ];
        assert!(super::owner(&secret("shop", "t", &other_tool)).is_none());
        assert!(super::owner(&secret("shop", "t", &both[..1])).is_none());
    }

    #[test]
    fn a_managed_secret_of_a_credential_this_operator_does_not_reconcile_reaches_nobody() {
        let another_shard_s = secret(
            "shop",
            "bravo-token",
            &[
                ("app.kubernetes.io/managed-by", "wetix-operator"),
                ("wetix.my/credential", "bravo"),
            ],
        );
        let ours = [credential().named("alpha")];
        assert!(credentials_for_secret(&ours, &another_shard_s).is_empty());
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
