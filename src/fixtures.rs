//! Test fixtures that read like English: a credential (`credential().named("a").retained()`),
//! a timestamp (`at("2026-11-25T10:00:00Z")`) and a token pair (`pair(issued, access, refresh)`).

use jiff::Timestamp;
use kube::api::ObjectMeta;

use crate::{
    credential::{
        ClientSecretRef, DeletionPolicy, Environment, ServerSpec, WetixCredential,
        WetixCredentialSpec,
    },
    sensitive::Sensitive,
    tokens::{Lifetime, TokenPair},
};

pub fn at(text: &str) -> Timestamp {
    text.parse().expect("fixture timestamps are valid RFC 3339")
}

pub fn credential() -> WetixCredential {
    let mut cred = WetixCredential::new(
        "ticketing",
        WetixCredentialSpec {
            server: ServerSpec {
                environment: Environment::Sandbox,
                url: None,
                token_path: "/auth/token".into(),
                refresh_path: "/auth/refresh".into(),
            },
            client_secret_ref: ClientSecretRef {
                name: "wetix-client".into(),
                client_id_key: "client_id".into(),
                client_secret_key: "client_secret".into(),
            },
            refresh_token_secret_ref: None,
            renew_before: None,
            renew_before_percentage: 33,
            secret_name: None,
            secret_template: None,
            deletion_policy: DeletionPolicy::Delete,
            rollout_restart_targets: vec![],
            suspend: false,
            unreadable: None,
        },
    );
    cred.metadata = ObjectMeta {
        name: Some("ticketing".into()),
        namespace: Some("shop".into()),
        uid: Some("0b5e3c1e-5d6a-4f6e-9c38-2f1a7c9d4e11".into()),
        generation: Some(1),
        ..ObjectMeta::default()
    };
    cred
}

pub trait CredentialFixture {
    fn named(self, name: &str) -> Self;
    fn with_uid(self, uid: &str) -> Self;
    fn retained(self) -> Self;
}

impl CredentialFixture for WetixCredential {
    fn named(mut self, name: &str) -> Self {
        self.metadata.name = Some(name.into());
        self
    }
    fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.into());
        self
    }
    fn retained(mut self) -> Self {
        self.spec.deletion_policy = DeletionPolicy::Retain;
        self
    }
}

/// A pair issued at `issued` with the given lifetimes in seconds.
pub fn pair(issued: &str, access_secs: i64, refresh_secs: i64) -> TokenPair {
    let issued_at = at(issued);
    TokenPair {
        access_token: Sensitive::new(format!("access-{issued}")).into(),
        refresh_token: Sensitive::new(format!("refresh-{issued}")),
        access: Lifetime {
            issued_at,
            expires_at: issued_at + jiff::SignedDuration::from_secs(access_secs),
        },
        refresh: Lifetime {
            issued_at,
            expires_at: issued_at + jiff::SignedDuration::from_secs(refresh_secs),
        },
    }
}
