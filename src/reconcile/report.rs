//! What a reconcile reports: the credential's status and its Events.

use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::events::{Event, EventType, Recorder},
};
use serde_json::json;
use tracing::{info, warn};

use super::{Error, Reconcile};
use crate::{
    credential::{WetixCredential, WetixCredentialStatus},
    error_chain::error_chain,
    managed_secret::FIELD_MANAGER,
    reason::{Notice, Reason},
    step::{self, Effect, Memory},
};

impl Reconcile<'_> {
    /// Tells a failed reconcile on the credential's status (unless writing the status is what
    /// failed), and returns what to remember and how soon to try again.
    pub(super) async fn report_api_error(
        &self,
        error: &Error,
        memory: Memory,
    ) -> (Memory, std::time::Duration) {
        let message = error.message();
        let act = step::api_failed(self.credential, memory, &message, error.action(), self.now);
        let mut memory = act.memory;
        if error.status_writable() {
            for effect in act.effects {
                match effect {
                    Effect::Publish(notice) => self.publish(&notice).await,
                    Effect::WriteStatus(status) => {
                        if let Err(failed) = self.write_status(*status, &mut memory).await {
                            warn!(error = %error_chain(&failed), "could not report the failure on the status");
                        }
                    }
                    Effect::WriteSecret { .. } | Effect::RestartWorkloads => {}
                }
            }
        }
        (memory, act.requeue.unwrap_or(step::MAX_REQUEUE))
    }

    /// Writes the status unless it is what the credential already says.
    pub(super) async fn write_status(
        &self,
        status: WetixCredentialStatus,
        memory: &mut Memory,
    ) -> Result<(), Error> {
        let conflict = crate::status::ready_reason(&status) == Some(Reason::SecretConflict);
        let name = self.credential.name_any();
        let cache = &self.ctx.secret_cache;
        cache.set_waiting(&self.namespace, &self.secret_name, &name, conflict);
        if self.credential.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let api: Api<WetixCredential> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        let body = json!({
            "apiVersion": WetixCredential::api_version(&()),
            "kind": WetixCredential::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = api
            .patch_status(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(Error::WriteStatus)?;
        let before = self.credential.metadata.resource_version.clone();
        memory.status_written(before, written.metadata.resource_version, self.now);
        Ok(())
    }

    /// Publishes an Event on the credential; a failure to publish is logged, never fatal.
    pub(super) async fn publish(&self, notice: &Notice) {
        if notice.warning {
            warn!(reason = %notice.reason, "{}", notice.note);
        } else {
            info!(reason = %notice.reason, "{}", notice.note);
        }
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.as_str().to_owned(),
            note: Some(notice.note.clone()),
            action: notice.action.to_owned(),
            secondary: None,
        };
        let reference = self.credential.object_ref(&());
        let recorder = Recorder::new(self.ctx.client.clone(), self.ctx.reporter.clone());
        if let Err(error) = recorder.publish(&event, &reference).await {
            warn!(error = %error_chain(&error), "publishing an Event failed");
        }
    }
}
