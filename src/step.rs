//! One reconcile as a pure step: from what has been read so far (the credential, its managed
//! Secret, the referenced Secrets, WeTix's answers), what is remembered and the time, decide
//! what to do next. [`crate::reconcile`] carries the decision out and calls [`decide`] again
//! with what it learned, until the decision is to [`Act`]. Pure.

use std::time::Duration;

use kube::ResourceExt;

use crate::{
    client_secret,
    credential::WetixCredentialStatus,
    endpoint,
    managed_secret::{self, Existing, StoredTokens},
    oauth::TokenRequest,
    plan::{self, Plan, Why},
    reason::{Notice, Reason},
    schedule::Jitter,
    status::Outcome,
    validate,
};

/// Annotation a user sets to a new value to ask for a refresh now.
pub const REFRESH_REQUESTED_AT: &str = "wetix.my/refresh-requested-at";

/// The longest the operator sleeps on a credential: a missed watch event is noticed within
/// the hour even when the next renewal is weeks away.
pub const MAX_REQUEUE: Duration = Duration::from_secs(3600);

/// How soon a reconcile handed a superseded version looks again, should the newer version's
/// watch event (which triggers a reconcile by itself) be slow to arrive.
pub const STALE_RETRY: Duration = Duration::from_secs(1);

/// The next thing to do.
#[derive(Debug)]
pub enum Decision {
    /// Read the managed Secret (from what was last written, if nobody changed it since),
    /// then decide again.
    ReadManaged,
    /// Read the managed Secret from the API server, then decide again: it must be written
    /// again, and what was last written keeps no access token.
    ReadBack,
    /// Read this Secret of the credential's namespace, then decide again.
    Read(String),
    /// Create the managed Secret as [`managed_secret::claim`] if it is still absent, then
    /// decide again with what is there.
    Claim,
    /// Ask WeTix, then decide again with the answer appended.
    Request(TokenRequest, Why),
    /// Carry these out in order; the reconcile ends.
    Act(Act),
}

/// The effects that end a reconcile, what to remember, and when to look again.
#[derive(Debug)]
pub struct Act {
    pub effects: Vec<Effect>,
    pub memory: Memory,
    /// `None`: only a change to the credential or its Secrets brings the next look.
    pub requeue: Option<Duration>,
}

/// A write of the managed Secret.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Tokens just obtained (or still pending from a failed write). If the write fails, the
    /// rest is skipped and [`write_failed`] says what to remember.
    New(Pending),
    /// The tokens already there, restoring a Secret someone edited.
    Restore(StoredTokens),
}

#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Apply the managed Secret built from these tokens, if it is still at `version` (the
    /// one seen): a Secret changed meanwhile is read again rather than overwritten.
    WriteSecret {
        write: Write,
        version: Option<String>,
    },
    /// Publish an Event on the credential.
    Publish(Notice),
    /// Restart `spec.rolloutRestartTargets`.
    RestartWorkloads,
    /// Write this status (unless it equals the one read).
    WriteStatus(Box<WetixCredentialStatus>),
}

/// Decides the next step of a reconcile at `observed.now`.
pub fn decide(observed: &Observed<'_>, memory: &Memory) -> Decision {
    let credential = observed.credential;
    if memory.is_stale(
        credential.metadata.resource_version.as_deref(),
        observed.now,
    ) {
        return Decision::Act(Act {
            effects: vec![],
            memory: memory.clone(),
            requeue: Some(STALE_RETRY),
        });
    }
    let jitter = Jitter::from_uid(&credential.uid().unwrap_or_default());
    // A spec that cannot be read or is refused is reported before any request is made: its
    // names would go into request paths.
    let absent = Seen::Read(None);
    let unread = Step {
        observed,
        memory,
        managed: &absent,
        jitter,
    };
    if let Some(problem) = &credential.spec.unreadable {
        let message = format!("the spec cannot be read: {problem}");
        return unread.bad_input(Reason::InvalidSpec, message, None);
    }
    if let Err(invalid) = validate::spec(credential) {
        return unread.bad_input(invalid.reason(), invalid.to_string(), None);
    }
    let Some(managed) = observed.managed else {
        return Decision::ReadManaged;
    };
    let step = Step {
        observed,
        memory,
        managed,
        jitter,
    };
    let existing = managed.existing(credential);
    let stored = match &existing {
        Existing::Valid(tokens) => Some(tokens),
        _ => None,
    };
    if existing == Existing::Foreign {
        let message = format!(
            "Secret {:?} exists and is not managed by this WetixCredential; it is left untouched",
            credential.secret_name()
        );
        return step.bad_input(Reason::SecretConflict, message, None);
    }
    if let Some(pending) = &memory.pending {
        if !managed.exists() {
            return Decision::Claim;
        }
        let mut memory = memory.clone();
        memory.pending = None;
        return step.store((**pending).clone(), memory);
    }
    let spec = &credential.spec;
    if spec.suspend {
        return step.act(
            vec![],
            Outcome::Suspended { tokens: stored },
            None,
            false,
            memory.clone(),
        );
    }
    let endpoint = match endpoint::resolve(&spec.server, observed.allowed_server_urls) {
        Ok(endpoint) => endpoint,
        Err(e) => return step.bad_input(e.reason(), e.to_string(), stored),
    };
    for (field, path) in [
        ("tokenPath", &endpoint.token_path),
        ("refreshPath", &endpoint.refresh_path),
    ] {
        if let Err(e) = endpoint::join(&endpoint.base_url, field, path) {
            return step.bad_input(e.reason(), e.to_string(), stored);
        }
    }
    let Some(client_secret) = observed.client_secret else {
        return Decision::Read(spec.client_secret_ref.name.clone());
    };
    let credentials =
        match client_secret::client_credentials(client_secret, &spec.client_secret_ref) {
            Ok(credentials) => credentials,
            Err(e) => return step.bad_input(e.reason(), e.to_string(), stored),
        };
    let bootstrap = match (&spec.refresh_token_secret_ref, stored) {
        (Some(reference), None) => {
            let Some(secret) = observed.bootstrap_secret else {
                return Decision::Read(reference.name.clone());
            };
            match client_secret::bootstrap_refresh_token(secret, reference) {
                Ok(token) => Some(token),
                Err(e) => return step.bad_input(e.reason(), e.to_string(), stored),
            }
        }
        _ => None,
    };
    let issued_for = managed_secret::issued_for(&endpoint, &credentials);
    let policy = spec.renew_policy();
    let last_failure = observed.last_failure(memory);
    let plan_input = plan::Observed {
        stored,
        issued_for: &issued_for,
        bootstrap_refresh_token: bootstrap.as_ref(),
        refresh_requested: observed.refresh_request().is_some(),
        last_failure: last_failure.as_ref(),
        policy: &policy,
        jitter: step.jitter,
    };
    match plan::plan(&plan_input, observed.now) {
        Plan::Keep { next_refresh } => {
            let Some(tokens) = stored else {
                return step.act(
                    vec![],
                    Outcome::Waiting { tokens: None },
                    None,
                    false,
                    memory.clone(),
                );
            };
            let desired = managed_secret::desired(credential, tokens);
            let effects = if managed.needs_update(&desired) {
                if tokens.pair.access_token.held().is_none() {
                    return Decision::ReadBack;
                }
                vec![Effect::WriteSecret {
                    write: Write::Restore(tokens.clone()),
                    version: managed.version(),
                }]
            } else {
                vec![]
            };
            // Tokens written whose status write failed are still reported as renewed.
            match memory.unreported {
                Some(reason) => step.act(
                    effects,
                    Outcome::Renewed { tokens, reason },
                    Some(next_refresh),
                    true,
                    memory.clone(),
                ),
                None => step.act(
                    effects,
                    Outcome::Kept { tokens },
                    Some(next_refresh),
                    false,
                    memory.clone(),
                ),
            }
        }
        Plan::Wait { until } => step.act(
            vec![],
            Outcome::Waiting { tokens: stored },
            Some(until),
            false,
            memory.clone(),
        ),
        Plan::Request { grant, why } => step.answered(
            Asked {
                endpoint,
                credentials,
                grant,
                why,
                issued_for,
            },
            stored,
        ),
    }
}

mod memory;
mod observed;
mod outcome;

pub use memory::{
    FIRST_WRITE_RETRY, MAX_WRITE_RETRY, Memory, Pending, STALE_WINDOW, revision, write_failed,
    write_wait,
};
pub use observed::{Observed, Seen, last_handled_refresh_request, pending_refresh_request};
use outcome::{Asked, Step};
pub use outcome::{api_failed, requeue_after};

#[cfg(test)]
mod tests;
