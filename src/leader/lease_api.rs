//! The elector's only contact with the API server: reading, creating and replacing the one
//! Lease, behind [`LeaseApi`] so that tests put an in-memory Lease in its place.

use std::future::Future;

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, api::PostParams};

/// Reads and writes one Lease (by default [`super::LEASE_NAME`]), with the API server's
/// semantics: [`replace`](LeaseApi::replace) is conditional on the resourceVersion of the
/// Lease passed in and fails with 409 Conflict when someone wrote in between, and
/// [`create`](LeaseApi::create) fails with 409 AlreadyExists when the Lease exists.
pub trait LeaseApi: Send + Sync {
    /// The Lease, or `None` when there is none.
    fn get(&self) -> impl Future<Output = Result<Option<Lease>, kube::Error>> + Send;
    /// Creates the Lease.
    fn create(&self, lease: &Lease) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Replaces the Lease, if its resourceVersion is still the one in `lease`.
    fn replace(&self, lease: &Lease) -> impl Future<Output = Result<(), kube::Error>> + Send;
}

/// [`LeaseApi`] on the Kubernetes API.
#[derive(Clone)]
pub struct KubeLeaseApi {
    api: Api<Lease>,
    name: String,
    post_params: PostParams,
}

impl KubeLeaseApi {
    /// The Lease `name` in `namespace`, written under a field manager of its own per
    /// identity, so the Lease's managed fields show who wrote last.
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            post_params: PostParams {
                field_manager: Some(format!("wetix-operator-leader-{identity}")),
                ..PostParams::default()
            },
        }
    }
}

impl LeaseApi for KubeLeaseApi {
    async fn get(&self) -> Result<Option<Lease>, kube::Error> {
        self.api.get_opt(&self.name).await
    }

    async fn create(&self, lease: &Lease) -> Result<(), kube::Error> {
        self.api.create(&self.post_params, lease).await.map(drop)
    }

    async fn replace(&self, lease: &Lease) -> Result<(), kube::Error> {
        self.api
            .replace(&self.name, &self.post_params, lease)
            .await
            .map(drop)
    }
}
