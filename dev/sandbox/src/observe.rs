//! What one look at the credential and at the fake server's call log shows, and what changed
//! since the previous look. Pure: the caller fetches, this module compares.

use std::fmt;

use fake_wetix::{Call, Endpoint};
use jiff::Timestamp;
use wetix_operator::credential::WetixCredential;

/// The credential's `Ready` condition, as `kubectl get wxc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyCondition {
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl fmt::Display for ReadyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ready={} {}: {}", self.status, self.reason, self.message)
    }
}

/// The parts of a credential's status the sandbox reports. Holds no token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub ready: Option<ReadyCondition>,
    /// `status.tokenFingerprint`: changes exactly when the access token does.
    pub fingerprint: Option<String>,
    pub access_expires_at: Option<Timestamp>,
    pub refresh_expires_at: Option<Timestamp>,
    pub next_refresh: Option<Timestamp>,
}

impl Snapshot {
    pub fn of(credential: &WetixCredential) -> Snapshot {
        let ready = credential.ready_condition().map(|c| ReadyCondition {
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
        });
        let Some(status) = &credential.status else {
            return Snapshot {
                ready,
                ..Snapshot::default()
            };
        };
        Snapshot {
            ready,
            fingerprint: status.token_fingerprint.clone(),
            access_expires_at: status.access_token_expires_at.as_ref().map(|t| t.0),
            refresh_expires_at: status.refresh_token_expires_at.as_ref().map(|t| t.0),
            next_refresh: status.next_refresh_time.as_ref().map(|t| t.0),
        }
    }
}

/// A new access token as the status reports it, with the grant that obtained it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The endpoint of the call that obtained the tokens, if the log shows one: for the first
    /// pair the first answered call, for a renewal the latest since the previous token.
    pub grant: Option<Endpoint>,
    pub fingerprint: String,
    pub access_expires_at: Option<Timestamp>,
    pub refresh_expires_at: Option<Timestamp>,
    pub next_refresh: Option<Timestamp>,
}

/// One thing worth a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The fake WeTix server answered a call.
    Call(Call),
    /// The Ready condition's status or reason changed.
    Ready(ReadyCondition),
    /// The first access token appeared.
    Issued(Tokens),
    /// The access token changed again; `number` counts renewals from 1.
    Renewed { number: u32, tokens: Tokens },
}

/// Remembers the previous look.
#[derive(Debug, Default)]
pub struct Observer {
    ready: Option<ReadyCondition>,
    fingerprint: Option<String>,
    calls_seen: usize,
    calls_at_last_tokens: usize,
    renewals: u32,
}

impl Observer {
    /// The changes between the previous look and this one, in the order worth reading: calls
    /// first (they caused the rest), then the condition, then the tokens.
    pub fn observe(&mut self, snapshot: Snapshot, calls: &[Call]) -> Vec<Change> {
        let mut changes: Vec<Change> = calls
            .iter()
            .skip(self.calls_seen)
            .cloned()
            .map(Change::Call)
            .collect();
        self.calls_seen = self.calls_seen.max(calls.len());

        let condition_changed = |old: &Option<ReadyCondition>, new: &ReadyCondition| {
            old.as_ref()
                .is_none_or(|old| (&old.status, &old.reason) != (&new.status, &new.reason))
        };
        if let Some(ready) = &snapshot.ready
            && condition_changed(&self.ready, ready)
        {
            changes.push(Change::Ready(ready.clone()));
        }
        self.ready = snapshot.ready;

        if let Some(fingerprint) = snapshot.fingerprint
            && self.fingerprint.as_ref() != Some(&fingerprint)
        {
            let since = self.calls_at_last_tokens.min(calls.len());
            let mut answered = calls[since..]
                .iter()
                .filter(|call| (200..300).contains(&call.status))
                .map(|call| call.endpoint);
            // The first pair came from the first answered call; a renewal from the latest (a
            // refresh that quickly follows the issue may land between two looks).
            let first = self.fingerprint.is_none();
            let grant = if first {
                answered.next()
            } else {
                answered.next_back()
            };
            self.calls_at_last_tokens = calls.len();
            let tokens = Tokens {
                grant,
                fingerprint: fingerprint.clone(),
                access_expires_at: snapshot.access_expires_at,
                refresh_expires_at: snapshot.refresh_expires_at,
                next_refresh: snapshot.next_refresh,
            };
            self.fingerprint = Some(fingerprint);
            if first {
                changes.push(Change::Issued(tokens));
            } else {
                self.renewals += 1;
                changes.push(Change::Renewed {
                    number: self.renewals,
                    tokens,
                });
            }
        }
        changes
    }

    /// Access-token changes seen after the first token.
    pub fn renewals(&self) -> u32 {
        self.renewals
    }

    /// Whether a first token was seen.
    pub fn issued(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// The Ready condition at the last look.
    pub fn ready(&self) -> Option<&ReadyCondition> {
        self.ready.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(endpoint: Endpoint, status: u16) -> Call {
        Call {
            endpoint,
            client_id: Some("shop".into()),
            status,
            at: Timestamp::UNIX_EPOCH,
        }
    }

    fn ready(reason: &str, message: &str) -> Option<ReadyCondition> {
        Some(ReadyCondition {
            status: "True".into(),
            reason: reason.into(),
            message: message.into(),
        })
    }

    fn snapshot(reason: &str, fingerprint: &str) -> Snapshot {
        Snapshot {
            ready: ready(reason, "valid"),
            fingerprint: Some(fingerprint.into()),
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_first_token_is_issued_and_later_ones_are_numbered_renewals_with_their_grant() {
        let mut observer = Observer::default();
        let mut calls = vec![call(Endpoint::Token, 200)];
        let first = observer.observe(snapshot("TokenIssued", "aaaa"), &calls);
        assert!(matches!(first[0], Change::Call(_)));
        assert!(matches!(&first[1], Change::Ready(r) if r.reason == "TokenIssued"));
        assert!(
            matches!(&first[2], Change::Issued(t) if t.grant == Some(Endpoint::Token) && t.fingerprint == "aaaa")
        );
        assert_eq!(observer.renewals(), 0);

        calls.push(call(Endpoint::Refresh, 503));
        calls.push(call(Endpoint::Refresh, 200));
        let second = observer.observe(snapshot("TokenRefreshed", "bbbb"), &calls);
        assert_eq!(second.len(), 4, "{second:?}");
        assert!(
            matches!(&second[3], Change::Renewed { number: 1, tokens } if tokens.grant == Some(Endpoint::Refresh))
        );
        assert_eq!(observer.renewals(), 1);
    }

    #[test]
    fn a_first_pair_seen_after_a_quick_refresh_is_still_credited_to_the_first_grant() {
        let mut observer = Observer::default();
        let calls = [call(Endpoint::Token, 200), call(Endpoint::Refresh, 200)];
        let changes = observer.observe(snapshot("TokenRefreshed", "bbbb"), &calls);
        assert!(matches!(&changes[3], Change::Issued(t) if t.grant == Some(Endpoint::Token)));
    }

    #[test]
    fn nothing_new_means_no_changes() {
        let mut observer = Observer::default();
        let calls = vec![call(Endpoint::Token, 200)];
        observer.observe(snapshot("TokenIssued", "aaaa"), &calls);
        assert_eq!(
            observer.observe(snapshot("TokenIssued", "aaaa"), &calls),
            vec![]
        );
    }

    #[test]
    fn a_new_message_with_the_same_reason_is_not_a_change() {
        let mut observer = Observer::default();
        let mut first = snapshot("TokenRefreshed", "aaaa");
        observer.observe(first.clone(), &[]);
        first.ready = ready("TokenRefreshed", "valid until later");
        assert_eq!(observer.observe(first, &[]), vec![]);
        assert_eq!(observer.ready().unwrap().message, "valid until later");
    }

    #[test]
    fn a_token_without_a_successful_call_in_the_log_has_no_known_grant() {
        let mut observer = Observer::default();
        let changes = observer.observe(snapshot("TokenIssued", "aaaa"), &[]);
        assert!(matches!(&changes[1], Change::Issued(t) if t.grant.is_none()));
    }
}
