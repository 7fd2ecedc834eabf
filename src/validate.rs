//! The spec checked in code before anything is done with it: what the CRD schema states and
//! what the API server would refuse on the managed Secret. The schema can be missing, old or
//! edited, so nothing here trusts it.
//!
//! Pure: a credential in, `Ok(())` or the first refused field out. The reconcile step calls
//! [`spec`] before any request; an [`Invalid`] becomes `Ready=False`, reason `InvalidSpec`, with
//! its [`Display`](std::fmt::Display) as the message, and neither WeTix nor the Secret is touched.
//!
//! The rules are Kubernetes' own (apimachinery `IsDNS1123Subdomain`, `IsConfigMapKey`,
//! `IsQualifiedName`, `IsValidLabelValue`, `ValidateAnnotations`), so what passes here is what
//! the API server accepts on the Secret the operator writes.
//!
//! Messages name the field as users write it (`spec.secretTemplate.labels["x/y"]`) and show
//! the refused value, cut short and escaped; never a URL's user name, password, query or
//! fragment.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::arithmetic_side_effects
)]

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use crate::{
    credential::WetixCredential,
    managed_secret::{annotations, labels},
    reason::Reason,
};

/// Longest DNS-1123 subdomain: names of Secrets and workloads, prefixes of label keys.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Longest Secret data key (Kubernetes uses the subdomain length).
pub const SECRET_KEY_MAX: usize = 253;
/// Longest name part of a label or annotation key, and longest label value.
pub const QUALIFIED_NAME_MAX: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX: usize = 63;
/// The API server's limit on all of an object's annotations together: the bytes of every key
/// and value, summed (apimachinery `TotalAnnotationSizeLimitB`).
pub const ANNOTATIONS_TOTAL_MAX: usize = 256 * 1024;
/// Longest `spec.renewBefore`: ten years.
///
/// WeTix's longest-lived token (the refresh token) lives 365 days, and a `renewBefore` not
/// shorter than a token's lifetime falls back to the percentage rule, so nothing a user could
/// mean is refused. Ten years keeps `timestamp ± renewBefore` far inside every range the
/// operator computes in (jiff timestamps span years -9999..=9999, i64 nanoseconds about 292
/// years), so no later arithmetic on it can overflow.
pub const RENEW_BEFORE_MAX: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// `spec.renewBeforePercentage`, as in the CRD.
pub const RENEW_BEFORE_PERCENTAGE: std::ops::RangeInclusive<u8> = 1..=99;

/// How many characters of a refused value a message shows.
const SHOWN_CHARS: usize = 64;

/// A refused field: where it is, as users write the path, and what is wrong with it.
///
/// Displays as `<field> <message>`, e.g.
/// `spec.secretName "Bad_Name" is not a valid Secret name: ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct Invalid {
    field: String,
    message: String,
}

impl Invalid {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field path as users write it, e.g. `spec.rolloutRestartTargets[2].name`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, starting with the refused value when it can be shown.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The Ready reason: always `InvalidSpec`.
    pub fn reason(&self) -> Reason {
        Reason::InvalidSpec
    }
}

/// Checks everything the operator will use from `credential`, in the order of the spec.
pub fn spec(credential: &WetixCredential) -> Result<(), Invalid> {
    let spec = &credential.spec;
    secret_name(credential)?;
    credential_name(credential)?;

    let client = &spec.client_secret_ref;
    object_name("spec.clientSecretRef.name", &client.name, "Secret")?;
    data_key("spec.clientSecretRef.clientIdKey", &client.client_id_key)?;
    data_key(
        "spec.clientSecretRef.clientSecretKey",
        &client.client_secret_key,
    )?;
    if let Some(bootstrap) = &spec.refresh_token_secret_ref {
        object_name("spec.refreshTokenSecretRef.name", &bootstrap.name, "Secret")?;
        data_key("spec.refreshTokenSecretRef.key", &bootstrap.key)?;
    }

    if let Some(template) = &spec.secret_template {
        template_labels(&template.labels)?;
        template_annotations(&template.annotations)?;
    }

    renew_before_percentage(spec.renew_before_percentage)?;
    if let Some(before) = &spec.renew_before {
        renew_before(&before.to_string(), before.as_duration())?;
    }

    if let Some(url) = &spec.server.url {
        server_url(url)?;
    }
    grant_path("spec.server.tokenPath", &spec.server.token_path)?;
    grant_path("spec.server.refreshPath", &spec.server.refresh_path)?;

    for (i, target) in spec.rollout_restart_targets.iter().enumerate() {
        let field = format!("spec.rolloutRestartTargets[{i}].name");
        object_name(&field, &target.name, &format!("{:?}", target.kind))?;
    }
    Ok(())
}

/// The managed Secret's name, explicit or the default `<metadata.name>-token`.
fn secret_name(credential: &WetixCredential) -> Result<(), Invalid> {
    let field = "spec.secretName";
    match &credential.spec.secret_name {
        Some(name) => object_name(field, name, "Secret"),
        None => {
            let name = credential.secret_name();
            dns_subdomain(&name).map_err(|problem| {
                Invalid::new(
                    field,
                    format!(
                        "is unset, and the default {} (metadata.name + \"-token\") is not a \
                         valid Secret name: {problem}; set spec.secretName",
                        shown(&name)
                    ),
                )
            })
        }
    }
}

/// The credential's own name is the value of the `wetix.my/credential` label on the Secret.
fn credential_name(credential: &WetixCredential) -> Result<(), Invalid> {
    let Some(name) = credential.metadata.name.as_deref() else {
        return Ok(());
    };
    label_value(name).map_err(|problem| {
        Invalid::new(
            "metadata.name",
            format!(
                "{} cannot be the value of the label {} on the managed Secret: {problem}",
                shown(name),
                labels::CREDENTIAL
            ),
        )
    })
}

fn object_name(field: &str, name: &str, what: &str) -> Result<(), Invalid> {
    dns_subdomain(name).map_err(|problem| {
        Invalid::new(
            field,
            format!("{} is not a valid {what} name: {problem}", shown(name)),
        )
    })
}

fn data_key(field: &str, key: &str) -> Result<(), Invalid> {
    secret_data_key(key).map_err(|problem| {
        Invalid::new(
            field,
            format!("{} is not a valid Secret key: {problem}", shown(key)),
        )
    })
}

fn template_labels(template: &BTreeMap<String, String>) -> Result<(), Invalid> {
    for (key, value) in template {
        let field = format!("spec.secretTemplate.labels[{}]", shown(key));
        if labels::OWN.contains(&key.as_str()) {
            return Err(reserved(field));
        }
        qualified_name(key).map_err(|problem| {
            Invalid::new(&field, format!("is not a valid label key: {problem}"))
        })?;
        label_value(value).map_err(|problem| {
            Invalid::new(
                &field,
                format!("{} is not a valid label value: {problem}", shown(value)),
            )
        })?;
    }
    Ok(())
}

fn template_annotations(template: &BTreeMap<String, String>) -> Result<(), Invalid> {
    for key in template.keys() {
        let field = format!("spec.secretTemplate.annotations[{}]", shown(key));
        if annotations::OWN.contains(&key.as_str()) {
            return Err(reserved(field));
        }
        // The API server checks annotation keys in lower case: a prefix may have capitals.
        qualified_name(&key.to_ascii_lowercase()).map_err(|problem| {
            Invalid::new(&field, format!("is not a valid annotation key: {problem}"))
        })?;
    }
    let own = own_annotations_bytes();
    let total = template.iter().fold(own, |sum, (k, v)| {
        sum.saturating_add(k.len()).saturating_add(v.len())
    });
    if total > ANNOTATIONS_TOTAL_MAX {
        return Err(Invalid::new(
            "spec.secretTemplate.annotations",
            format!(
                "total {total} bytes (keys and values, with the operator's own {own}) exceed \
                 the API server's limit of {ANNOTATIONS_TOTAL_MAX} bytes (256 KiB)"
            ),
        ));
    }
    Ok(())
}

/// The most the operator's own annotations on the Secret can add to the total.
fn own_annotations_bytes() -> usize {
    annotations::OWN.iter().fold(0, |sum, key| {
        sum.saturating_add(key.len())
            .saturating_add(annotations::OWN_VALUE_MAX_BYTES)
    })
}

fn reserved(field: String) -> Invalid {
    Invalid::new(
        field,
        "is written by the operator itself and cannot be set in secretTemplate",
    )
}

fn renew_before_percentage(value: u8) -> Result<(), Invalid> {
    if RENEW_BEFORE_PERCENTAGE.contains(&value) {
        return Ok(());
    }
    Err(Invalid::new(
        "spec.renewBeforePercentage",
        format!(
            "{value} must be between {} and {}",
            RENEW_BEFORE_PERCENTAGE.start(),
            RENEW_BEFORE_PERCENTAGE.end()
        ),
    ))
}

fn renew_before(text: &str, value: Duration) -> Result<(), Invalid> {
    let field = "spec.renewBefore";
    if value.is_zero() {
        return Err(Invalid::new(
            field,
            format!("{} must be longer than zero", shown(text)),
        ));
    }
    if value > RENEW_BEFORE_MAX {
        return Err(Invalid::new(
            field,
            format!(
                "{} must be at most 87600h (ten years); a value longer than a token's lifetime \
                 falls back to renewBeforePercentage anyway",
                shown(text)
            ),
        ));
    }
    Ok(())
}

/// `spec.server.url` must not carry credentials, a query or a fragment. None of it is shown:
/// a user name or password would land in status and Events. Any `@` counts as a user name,
/// since parsers disagree on where an authority ends (`\\`, for one).
fn server_url(url: &str) -> Result<(), Invalid> {
    let field = "spec.server.url";
    if url.contains('@') {
        return Err(Invalid::new(
            field,
            "must not carry a user name or password ('@'); the client credentials come from \
             spec.clientSecretRef. The URL is not shown here, so as not to reveal them",
        ));
    }
    if url.contains('?') {
        return Err(Invalid::new(
            field,
            "must not have a query ('?'); the URL is not shown here",
        ));
    }
    if url.contains('#') {
        return Err(Invalid::new(
            field,
            "must not have a fragment ('#'); the URL is not shown here",
        ));
    }
    Ok(())
}

/// A grant path is appended to the base URL, so it must stay a plain absolute path: anything
/// that could end the path (`?`, `#`), start an authority (`//`, `\`, `@`) or climb out of the
/// base's path (`..`) is refused.
fn grant_path(field: &str, path: &str) -> Result<(), Invalid> {
    url_path(path).map_err(|problem| {
        Invalid::new(
            field,
            format!("{} is not a plain URL path: {problem}", shown_path(path)),
        )
    })
}

/// A value as a message shows it: quoted and escaped, cut after a few dozen characters.
fn shown(value: &str) -> String {
    let mut out = String::new();
    let head: String = value.chars().take(SHOWN_CHARS).collect();
    let _ = write!(out, "{head:?}");
    if value.chars().nth(SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A path as a message shows it: nothing from a `?`, `#` or `@` on, since what follows could
/// be a query, a fragment or a user name.
pub(crate) fn shown_path(path: &str) -> String {
    match path.find(['?', '#', '@']) {
        None => shown(path),
        Some(cut) => {
            let head = path.get(..cut).unwrap_or_default();
            format!("{}…", shown(head))
        }
    }
}

mod syntax;

pub use syntax::{dns_subdomain, label_value, qualified_name, secret_data_key, url_path};

#[cfg(test)]
mod tests;
