//! The per-credential series, rendered at scrape time from the credential cache.
//!
//! The four families of one series per credential (expiries, next renewal, readiness) hold no
//! state of their own: each scrape reads every cached credential's status, so ten thousand
//! credentials cost no memory beyond the cache the controller keeps anyway. A deleted
//! credential leaves the cache, and its series with it.

use std::sync::RwLock;

use kube::{ResourceExt, runtime::reflector::Store};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, gauge::ConstGauge},
};

use crate::{
    credential::{WetixCredential, WetixCredentialStatus},
    status::READY,
};

use super::unix_seconds;

/// One family: its name, help, and the value a status gives (`None`: no series).
struct Family {
    name: &'static str,
    help: &'static str,
    value: fn(&WetixCredentialStatus) -> Option<f64>,
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<f64> {
    t.map(|t| unix_seconds(t.0))
}

const FAMILIES: [Family; 4] = [
    Family {
        name: "wetix_credential_access_token_expiration_timestamp_seconds",
        help: "When the access token in the managed Secret expires (Unix time)",
        value: |s| time(s.access_token_expires_at.as_ref()),
    },
    Family {
        name: "wetix_credential_refresh_token_expiration_timestamp_seconds",
        help: "When the refresh token in the managed Secret expires (Unix time)",
        value: |s| time(s.refresh_token_expires_at.as_ref()),
    },
    Family {
        name: "wetix_credential_next_refresh_timestamp_seconds",
        help: "When the operator next renews or retries (Unix time)",
        value: |s| time(s.next_refresh_time.as_ref()),
    },
    Family {
        name: "wetix_credential_ready",
        help: "1 when the credential is Ready, else 0",
        value: |s| Some(if ready(s) { 1.0 } else { 0.0 }),
    },
];

fn ready(status: &WetixCredentialStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == READY && c.status == "True")
}

/// The credential caches of every watched scope.
#[derive(Debug, Default)]
pub struct Fleet {
    stores: RwLock<Vec<Store<WetixCredential>>>,
}

impl Fleet {
    pub fn watch(&self, store: Store<WetixCredential>) {
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        stores.push(store);
    }
}

impl Collector for Fleet {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stores = self.stores.read().unwrap_or_else(|e| e.into_inner());
        let credentials: Vec<_> = stores.iter().flat_map(|s| s.state()).collect();
        for family in &FAMILIES {
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, MetricType::Gauge)?;
            for credential in &credentials {
                let Some(status) = credential.status.as_ref() else {
                    continue;
                };
                let Some(value) = (family.value)(status) else {
                    continue;
                };
                let namespace = credential.namespace().unwrap_or_default();
                let name = credential.name_any();
                let labels = [("namespace", namespace.as_str()), ("name", name.as_str())];
                ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
