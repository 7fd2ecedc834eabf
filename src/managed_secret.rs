//! The managed Secret that workloads mount: what it must contain (built from the token pair),
//! and what an existing one tells us (tokens read back after a restart, or a Secret that is not
//! ours). Pure; the write happens in `reconcile` with server-side apply.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    ByteString,
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use crate::{
    credential::{DeletionPolicy, WetixCredential},
    oauth::{ClientCredentials, Endpoint},
    sensitive::Sensitive,
    tokens::{Lifetime, TokenPair, fingerprint},
};

/// Server-side apply field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "wetix-operator";

/// Data keys of the managed Secret (contract section 4).
pub mod keys {
    pub const ACCESS_TOKEN: &str = "access_token";
    pub const REFRESH_TOKEN: &str = "refresh_token";
    pub const TOKEN_TYPE: &str = "token_type";
    pub const AUTHORIZATION: &str = "authorization";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const REFRESH_TOKEN_EXPIRES_AT: &str = "refresh_token_expires_at";
}

/// Labels on the managed Secret.
pub mod labels {
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const MANAGED_BY_VALUE: &str = "wetix-operator";
    pub const CREDENTIAL: &str = "wetix.my/credential";
    /// Every label the operator writes: `secretTemplate.labels` may not set them, and
    /// [`desired`](super::desired) writes them after the template's, so they win regardless.
    pub const OWN: [&str; 2] = [MANAGED_BY, CREDENTIAL];
}

/// Annotations on the managed Secret. The first three are the contract's; the others let the
/// operator read its own state back after a restart without asking WeTix again.
pub mod annotations {
    pub const ACCESS_TOKEN_EXPIRES_AT: &str = "wetix.my/access-token-expires-at";
    pub const REFRESH_TOKEN_EXPIRES_AT: &str = "wetix.my/refresh-token-expires-at";
    pub const REFRESHED_AT: &str = "wetix.my/refreshed-at";
    /// When the refresh token was issued: a non-rotating refresh keeps the old one.
    pub const REFRESH_TOKEN_ISSUED_AT: &str = "wetix.my/refresh-token-issued-at";
    /// SHA-256 prefix of the access token: an edited token no longer matches it.
    pub const TOKEN_FINGERPRINT: &str = "wetix.my/token-fingerprint";
    /// SHA-256 prefix of the server and client credentials the tokens were issued for:
    /// a change to either no longer matches it.
    pub const ISSUED_FOR: &str = "wetix.my/issued-for";
    /// Every annotation the operator writes: `secretTemplate.annotations` may not set them,
    /// and [`desired`](super::desired) writes them after the template's, so they win regardless.
    pub const OWN: [&str; 6] = [
        ACCESS_TOKEN_EXPIRES_AT,
        REFRESH_TOKEN_EXPIRES_AT,
        REFRESHED_AT,
        REFRESH_TOKEN_ISSUED_AT,
        TOKEN_FINGERPRINT,
        ISSUED_FOR,
    ];
    /// The longest value of any of [`OWN`]: a time as [`rfc3339`](super::rfc3339) writes it,
    /// 20 bytes for years 0 to 9999 (`2026-11-25T10:00:00Z`) and 23 before that
    /// (`-009999-01-02T01:59:59Z`, which only an absurd JWT `iat` can bring); the two
    /// fingerprints are 16 hex digits. What the operator adds to the Secret's annotation
    /// total, which the API server caps at 256 KiB.
    pub const OWN_VALUE_MAX_BYTES: usize = 23;
}

/// Tokens as stored in (or about to be written to) the managed Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTokens {
    pub pair: TokenPair,
    /// [`issued_for`] of the server and client credentials the pair came from.
    pub issued_for: String,
}

/// What an existing Secret of the managed name is, seen from one credential.
#[derive(Clone, Debug, PartialEq)]
pub enum Existing {
    /// No Secret of that name.
    Missing,
    /// A Secret this credential does not manage: never overwritten.
    Foreign,
    /// Ours, but its tokens cannot be trusted (keys removed or edited by someone else).
    Damaged,
    /// Ours, with tokens read back.
    Valid(StoredTokens),
}

/// Identifies the server and client credentials behind a token pair without revealing the
/// client secret: the first 16 hex digits of SHA-256 over all of them.
pub fn issued_for(endpoint: &Endpoint, credentials: &ClientCredentials) -> String {
    let mut hasher = Sha256::new();
    for part in [
        endpoint.base_url.as_str(),
        endpoint.token_path.as_str(),
        endpoint.refresh_path.as_str(),
        credentials.client_id.as_str(),
        credentials.client_secret.expose(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `secret` is the one `credential` manages.
///
/// Both labels must name this credential, and a controller ownerReference, when there is one,
/// must point at this very object (same UID). A Secret someone else created under that name
/// fails this check, so the operator never overwrites data it does not own; a Secret left by a
/// deleted credential of the same name with `deletionPolicy: Retain` passes, and is adopted.
pub fn is_managed_by(secret: &Secret, credential: &WetixCredential) -> bool {
    let labels = secret.labels();
    let ours = labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
        && labels.get(labels::CREDENTIAL) == credential.metadata.name.as_ref();
    let controller_is_us = secret
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .is_none_or(|o| Some(&o.uid) == credential.metadata.uid.as_ref());
    ours && controller_is_us
}

/// Classifies the Secret found under the managed name.
pub fn inspect(secret: Option<&Secret>, credential: &WetixCredential) -> Existing {
    match secret {
        None => Existing::Missing,
        Some(secret) if !is_managed_by(secret, credential) => Existing::Foreign,
        Some(secret) => read_tokens(secret).map_or(Existing::Damaged, Existing::Valid),
    }
}

/// Reads the tokens and their lifetimes back; `None` when anything is missing or the access
/// token no longer matches the fingerprint written with it. A time annotation that is not an
/// RFC 3339 time within `Timestamp`'s range (an edit: the operator writes only such times)
/// counts as missing, so the Secret is damaged and a fresh pair is requested.
fn read_tokens(secret: &Secret) -> Option<StoredTokens> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
            .filter(|v| !v.is_empty())
    };
    let access_token = Sensitive::new(text(keys::ACCESS_TOKEN)?);
    let refresh_token = Sensitive::new(text(keys::REFRESH_TOKEN)?);
    let annotations = secret.annotations();
    let time = |key: &str| annotations.get(key)?.parse::<Timestamp>().ok();
    if annotations.get(annotations::TOKEN_FINGERPRINT)? != &fingerprint(&access_token) {
        return None;
    }
    let access_issued = time(annotations::REFRESHED_AT)?;
    Some(StoredTokens {
        pair: TokenPair {
            access_token: access_token.into(),
            refresh_token,
            access: Lifetime {
                issued_at: access_issued,
                expires_at: time(annotations::ACCESS_TOKEN_EXPIRES_AT)?,
            },
            refresh: Lifetime {
                issued_at: time(annotations::REFRESH_TOKEN_ISSUED_AT).unwrap_or(access_issued),
                expires_at: time(annotations::REFRESH_TOKEN_EXPIRES_AT)?,
            },
        },
        issued_for: annotations.get(annotations::ISSUED_FOR)?.clone(),
    })
}

/// The Secret that claims the managed name for `credential` before any token is requested:
/// created only if absent, so of two credentials naming one Secret exactly one gets it, decided
/// by the API server. It carries only the two labels that never change; everything else is
/// written later by server-side apply.
pub fn claim(credential: &WetixCredential) -> Secret {
    let labels = BTreeMap::from([
        (
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        ),
        (
            labels::CREDENTIAL.to_owned(),
            credential.metadata.name.clone().unwrap_or_default(),
        ),
    ]);
    Secret {
        metadata: ObjectMeta {
            name: Some(credential.secret_name()),
            namespace: credential.metadata.namespace.clone(),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        ..Secret::default()
    }
}

/// RFC 3339, UTC, whole seconds (rounded down): the form of every time the operator writes.
///
/// Every `Timestamp` prints as one that reads back as itself (to the second): years 0 to 9999
/// as RFC 3339 has them (`2026-11-25T10:00:00Z`), a year before 0 in the six-digit signed form
/// (`-009999-01-02T01:59:59Z`) that `Timestamp`'s parser, and so [`inspect`], reads.
pub fn rfc3339(t: Timestamp) -> String {
    let floored = if t.subsec_nanosecond() < 0 {
        t.as_second().saturating_sub(1)
    } else {
        t.as_second()
    };
    Timestamp::from_second(floored).unwrap_or(t).to_string()
}

/// The Secret the credential must have, as an apply body: only the fields the operator owns.
/// Tokens whose access token is withheld give a body without the two keys that hold it,
/// good only for comparing (see [`body_hash`](crate::secret_cache::body_hash)): writing
/// needs the token itself.
pub fn desired(credential: &WetixCredential, tokens: &StoredTokens) -> Secret {
    let pair = &tokens.pair;
    let text = |v: &str| ByteString(v.as_bytes().to_vec());
    let mut data = BTreeMap::from([
        (
            keys::REFRESH_TOKEN.into(),
            text(pair.refresh_token.expose()),
        ),
        (keys::TOKEN_TYPE.into(), text("Bearer")),
        (
            keys::EXPIRES_AT.into(),
            text(&rfc3339(pair.access.expires_at)),
        ),
        (
            keys::REFRESH_TOKEN_EXPIRES_AT.into(),
            text(&rfc3339(pair.refresh.expires_at)),
        ),
    ]);
    if let Some(access_token) = pair.access_token.held() {
        let access_token = access_token.expose();
        data.insert(keys::ACCESS_TOKEN.into(), text(access_token));
        let bearer = format!("Bearer {access_token}");
        data.insert(keys::AUTHORIZATION.into(), text(&bearer));
    }

    // The template first, the operator's own keys last: a template can add keys, never
    // replace ours, even if validation were skipped.
    let template = credential.spec.secret_template.clone().unwrap_or_default();
    let mut labels = template.labels;
    labels.extend(own_labels(credential));
    let mut annotations = template.annotations;
    annotations.extend(own_annotations(tokens));

    let owner_references = match credential.spec.deletion_policy {
        DeletionPolicy::Delete => credential.controller_owner_ref(&()).map(|o| vec![o]),
        DeletionPolicy::Retain => None,
    };

    Secret {
        metadata: ObjectMeta {
            name: Some(credential.secret_name()),
            namespace: credential.namespace(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references,
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    }
}

/// The labels of [`labels::OWN`] with this credential's values.
fn own_labels(credential: &WetixCredential) -> [(String, String); 2] {
    [
        (labels::MANAGED_BY.into(), labels::MANAGED_BY_VALUE.into()),
        (labels::CREDENTIAL.into(), credential.name_any()),
    ]
}

/// The annotations of [`annotations::OWN`] with the values of these tokens.
fn own_annotations(tokens: &StoredTokens) -> [(String, String); 6] {
    let pair = &tokens.pair;
    [
        (
            annotations::ACCESS_TOKEN_EXPIRES_AT.into(),
            rfc3339(pair.access.expires_at),
        ),
        (
            annotations::REFRESH_TOKEN_EXPIRES_AT.into(),
            rfc3339(pair.refresh.expires_at),
        ),
        (
            annotations::REFRESHED_AT.into(),
            rfc3339(pair.access.issued_at),
        ),
        (
            annotations::REFRESH_TOKEN_ISSUED_AT.into(),
            rfc3339(pair.refresh.issued_at),
        ),
        (annotations::TOKEN_FINGERPRINT.into(), pair.fingerprint()),
        (annotations::ISSUED_FOR.into(), tokens.issued_for.clone()),
    ]
}

/// Whether `existing` differs from `desired` in anything the operator owns: a data key, a label,
/// an annotation or the ownerReference. Keys others added are theirs and are left alone.
pub fn needs_update(existing: &Secret, desired: &Secret) -> bool {
    let subset = |want: &Option<BTreeMap<String, String>>, have: &BTreeMap<String, String>| {
        want.iter().flatten().any(|(k, v)| have.get(k) != Some(v))
    };
    let data_differs = desired
        .data
        .iter()
        .flatten()
        .any(|(k, v)| existing.data.as_ref().and_then(|d| d.get(k)) != Some(v));
    let controller =
        |refs: &[OwnerReference]| refs.iter().find(|o| o.controller == Some(true)).cloned();
    let owners_differ = controller(
        desired
            .metadata
            .owner_references
            .as_deref()
            .unwrap_or_default(),
    ) != controller(existing.owner_references());
    data_differs
        || subset(&desired.metadata.labels, existing.labels())
        || subset(&desired.metadata.annotations, existing.annotations())
        || owners_differ
}

#[cfg(test)]
mod tests;
