//! The referenced Secrets: the OAuth client id and secret, and an optional bootstrap refresh
//! token. Pure extraction from a fetched Secret; fetching happens in `reconcile`.

use k8s_openapi::api::core::v1::Secret;

use crate::{
    credential::{ClientSecretRef, RefreshTokenSecretRef},
    oauth::ClientCredentials,
    sensitive::Sensitive,
};

/// Why a referenced Secret cannot be used. Messages name the Secret and key, never a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientSecretError {
    #[error("Secret {secret:?} not found in the credential's namespace")]
    NotFound { secret: String },
    #[error("Secret {secret:?} has no key {key:?}")]
    KeyMissing { secret: String, key: String },
    #[error("Secret {secret:?} key {key:?} is empty or not UTF-8 text")]
    KeyUnusable { secret: String, key: String },
}

impl ClientSecretError {
    /// The Ready reason for this error.
    pub fn reason(&self) -> crate::reason::Reason {
        match self {
            Self::NotFound { .. } => crate::reason::Reason::ClientSecretNotFound,
            Self::KeyMissing { .. } | Self::KeyUnusable { .. } => {
                crate::reason::Reason::ClientSecretKeyMissing
            }
        }
    }
}

/// The client id and secret from the Secret named by `spec.clientSecretRef`.
pub fn client_credentials(
    secret: Option<&Secret>,
    reference: &ClientSecretRef,
) -> Result<ClientCredentials, ClientSecretError> {
    let secret = secret.ok_or_else(|| ClientSecretError::NotFound {
        secret: reference.name.clone(),
    })?;
    let client_id = value(secret, &reference.name, &reference.client_id_key)?;
    let client_secret = value(secret, &reference.name, &reference.client_secret_key)?;
    Ok(ClientCredentials {
        client_id: client_id.expose().trim().to_owned(),
        client_secret,
    })
}

/// The refresh token from the Secret named by `spec.refreshTokenSecretRef`.
pub fn bootstrap_refresh_token(
    secret: Option<&Secret>,
    reference: &RefreshTokenSecretRef,
) -> Result<Sensitive, ClientSecretError> {
    let secret = secret.ok_or_else(|| ClientSecretError::NotFound {
        secret: reference.name.clone(),
    })?;
    value(secret, &reference.name, &reference.key)
}

/// One key's value as text, with surrounding whitespace (a trailing newline from
/// `kubectl create secret --from-file`) removed.
fn value(secret: &Secret, name: &str, key: &str) -> Result<Sensitive, ClientSecretError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .ok_or_else(|| ClientSecretError::KeyMissing {
            secret: name.to_owned(),
            key: key.to_owned(),
        })?;
    match std::str::from_utf8(&bytes.0) {
        Ok(text) if !text.trim().is_empty() => Ok(Sensitive::new(text.trim())),
        _ => Err(ClientSecretError::KeyUnusable {
            secret: name.to_owned(),
            key: key.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(pairs: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn reference() -> ClientSecretRef {
        ClientSecretRef {
            name: "wetix-client".into(),
            client_id_key: "client_id".into(),
            client_secret_key: "client_secret".into(),
        }
    }

    #[test]
    fn reads_id_and_secret_trimming_a_trailing_newline() {
        let s = secret(&[("client_id", b"abc\n"), ("client_secret", b"p4ss\n")]);
        let creds = client_credentials(Some(&s), &reference()).unwrap();
        assert_eq!(creds.client_id, "abc");
        assert_eq!(creds.client_secret.expose(), "p4ss");
    }

    #[test]
    fn a_missing_secret_or_key_names_the_secret_and_key_never_a_value() {
        let err = client_credentials(None, &reference()).unwrap_err();
        assert_eq!(err.reason(), "ClientSecretNotFound");
        assert!(err.to_string().contains("\"wetix-client\""));

        let s = secret(&[("client_id", b"abc"), ("other", b"p4ss")]);
        let err = client_credentials(Some(&s), &reference()).unwrap_err();
        assert_eq!(err.reason(), "ClientSecretKeyMissing");
        assert!(err.to_string().contains("\"client_secret\""));
        assert!(!err.to_string().contains("p4ss"));
    }

    #[test]
    fn empty_or_binary_values_are_refused() {
        for bad in [&b""[..], b"  \n", &[0xff, 0xfe]] {
            let s = secret(&[("client_id", b"abc"), ("client_secret", bad)]);
            let err = client_credentials(Some(&s), &reference()).unwrap_err();
            assert!(
                matches!(err, ClientSecretError::KeyUnusable { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn the_bootstrap_refresh_token_comes_from_its_own_key() {
        let s = secret(&[("refresh_token", b"rt-1")]);
        let reference = RefreshTokenSecretRef {
            name: "boot".into(),
            key: "refresh_token".into(),
        };
        assert_eq!(
            bootstrap_refresh_token(Some(&s), &reference)
                .unwrap()
                .expose(),
            "rt-1"
        );
    }
}
