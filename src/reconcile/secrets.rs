//! The Secrets a reconcile reads and the managed Secret it writes, through the caches.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use tracing::{info, warn};

use super::{Error, Reconcile};
use crate::{
    error_chain::error_chain,
    managed_secret::{self, Existing, FIELD_MANAGER, StoredTokens},
    secret_cache::Written,
    step::Seen,
};

impl Reconcile<'_> {
    /// The managed Secret: as we wrote it when nobody changed it since, absent when its watch
    /// has never seen it, else read.
    pub(super) async fn see_managed_secret(&self) -> Result<Seen, Error> {
        let cache = &self.ctx.secret_cache;
        let ours = |w: &Written| Some(&*w.by) == self.credential.metadata.uid.as_deref();
        if let Some(written) = cache
            .written(&self.namespace, &self.secret_name)
            .filter(ours)
        {
            return Ok(Seen::Written(written));
        }
        if cache.known_absent(&self.namespace, &self.secret_name) {
            return Ok(Seen::Read(None));
        }
        let secret = self.get(&self.secret_name).await?;
        if let Some(secret) = &secret {
            self.remember_if_current(secret);
        }
        Ok(Seen::Read(secret.map(Box::new)))
    }

    /// A managed Secret read back that is ours and exactly what we would write is remembered
    /// as written: after a restart, the reconciles that follow the first need not read it.
    fn remember_if_current(&self, secret: &Secret) {
        let Existing::Valid(tokens) = managed_secret::inspect(Some(secret), self.credential) else {
            return;
        };
        let (Some(uid), Some(resource_version)) = (
            self.credential.metadata.uid.clone(),
            secret.metadata.resource_version.clone(),
        ) else {
            return;
        };
        let desired = managed_secret::desired(self.credential, &tokens);
        if managed_secret::needs_update(secret, &desired) {
            return;
        }
        let written = Written::new(&uid, &resource_version, &tokens, &desired);
        let cache = &self.ctx.secret_cache;
        cache.remember_written(&self.namespace, &self.secret_name, written);
    }

    /// A referenced Secret: from its watch if it carries the watch label, else read.
    pub(super) async fn read_secret(&self, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        if let Some(secret) = self.ctx.secret_cache.referenced(&self.namespace, name) {
            return Ok(Some(secret));
        }
        Ok(self.get(name).await?.map(Arc::new))
    }

    pub(super) async fn get(&self, name: &str) -> Result<Option<Secret>, Error> {
        self.secrets
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadSecret {
                name: name.to_owned(),
                source,
            })
    }

    /// Creates the managed Secret as a claim if it is absent; either way, what is there now.
    pub(super) async fn claim(&self) -> Result<Seen, Error> {
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        let claim = managed_secret::claim(self.credential);
        match self.secrets.create(&params, &claim).await {
            Ok(created) => Ok(Seen::Read(Some(Box::new(created)))),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let there = self.get(&self.secret_name).await?;
                Ok(Seen::Read(there.map(Box::new)))
            }
            Err(source) => Err(self.write_error(source)),
        }
    }

    /// Applies the managed Secret built from `tokens` if it is still at `version`, and
    /// remembers what was written.
    pub(super) async fn write_secret(
        &self,
        tokens: &StoredTokens,
        version: Option<String>,
    ) -> Result<(), kube::Error> {
        let mut desired = managed_secret::desired(self.credential, tokens);
        desired.metadata.resource_version = version;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let result = self
            .secrets
            .patch(&self.secret_name, &params, &Patch::Apply(&desired))
            .await;
        let written = result.inspect_err(|_| {
            // Whatever is there now is read again before the next write.
            let cache = &self.ctx.secret_cache;
            cache.forget_written(&self.namespace, &self.secret_name);
        })?;
        desired.metadata.resource_version = None;
        info!(secret = %self.secret_name, fingerprint = %tokens.pair.fingerprint(), "managed Secret written");
        if let Some(resource_version) = written.metadata.resource_version {
            let by = self.credential.metadata.uid.as_deref().unwrap_or_default();
            let written = Written::new(by, &resource_version, tokens, &desired);
            let cache = &self.ctx.secret_cache;
            cache.remember_written(&self.namespace, &self.secret_name, written);
        }
        Ok(())
    }

    pub(super) fn write_error(&self, source: kube::Error) -> Error {
        warn!(secret = %self.secret_name, error = %error_chain(&source), "writing the managed Secret failed");
        Error::WriteSecret {
            name: self.secret_name.clone(),
            source,
        }
    }
}
