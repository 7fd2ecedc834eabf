use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString,
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use kube::api::ObjectMeta;

use super::*;
use crate::{
    client_secret,
    credential::{RefreshTokenSecretRef, WetixCredential},
    endpoint,
    fixtures::{at, credential, pair},
    managed_secret::{self, StoredTokens},
    oauth::{OAuthError, TransientCause},
    reason::Notice,
    schedule,
    secret_cache::Written,
    tokens::TokenPair,
};
use jiff::Timestamp;

const T0: &str = "2026-11-25T10:00:00Z";

fn secret(name: &str, pairs: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

fn client() -> Secret {
    secret(
        "wetix-client",
        &[("client_id", "shop"), ("client_secret", "s3cret")],
    )
}

/// The managed Secret as claimed, before any token is written.
fn claimed() -> Secret {
    let mut secret = managed_secret::claim(&credential());
    secret.metadata.resource_version = Some("3".into());
    secret
}

/// One reconcile's world: by default a new credential whose client Secret has been read.
struct Scene {
    credential: WetixCredential,
    seen: Seen,
    client: Option<Option<Secret>>,
    bootstrap: Option<Option<Secret>>,
    answers: Vec<Result<TokenPair, OAuthError>>,
    memory: Memory,
    now: Timestamp,
}

impl Scene {
    fn new() -> Self {
        Self {
            credential: credential(),
            seen: Seen::Read(Some(Box::new(claimed()))),
            client: Some(Some(client())),
            bootstrap: None,
            answers: vec![],
            memory: Memory::default(),
            now: at(T0),
        }
    }

    /// The credential's own tokens (issued at T0: access 1 h, refresh 2 h) in its Secret.
    fn with_tokens(mut self) -> Self {
        let tokens = self.tokens(pair(T0, 3600, 7200));
        let desired = managed_secret::desired(&self.credential, &tokens);
        let uid = self.credential.metadata.uid.clone().unwrap_or_default();
        self.seen = Seen::Written(Written::new(&uid, "7", &tokens, &desired));
        self
    }

    fn at(mut self, now: &str) -> Self {
        self.now = at(now);
        self
    }

    fn answered(mut self, answer: Result<TokenPair, OAuthError>) -> Self {
        self.answers.push(answer);
        self
    }

    fn status(mut self, reason: &str, failed_attempts: u32, failed_at: &str) -> Self {
        let status = self.credential.status.get_or_insert_with(Default::default);
        status.failed_attempts = failed_attempts;
        status.last_failure_time = Some(Time(at(failed_at)));
        status.conditions = vec![Condition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: reason.into(),
            message: String::new(),
            last_transition_time: Time(at(failed_at)),
            observed_generation: None,
        }];
        self
    }

    fn refresh_requested(mut self, value: &str) -> Self {
        self.credential
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(REFRESH_REQUESTED_AT.into(), value.into());
        self
    }

    /// Tokens as the current server and client credentials would have issued them.
    fn tokens(&self, pair: TokenPair) -> StoredTokens {
        let endpoint = endpoint::resolve(&self.credential.spec.server, &[]).unwrap();
        let credentials = client_secret::client_credentials(
            Some(&client()),
            &self.credential.spec.client_secret_ref,
        )
        .unwrap();
        StoredTokens {
            pair,
            issued_for: managed_secret::issued_for(&endpoint, &credentials),
        }
    }

    /// Gives the credential the status a kept token would have, and returns it.
    fn with_status_of_tokens(&mut self) -> WetixCredentialStatus {
        let act = self.act();
        let status = status_of(&act).clone();
        self.credential.status = Some(status.clone());
        status
    }

    fn decide(&self) -> Decision {
        let observed = Observed {
            credential: &self.credential,
            managed: Some(&self.seen),
            client_secret: self.client.as_ref().map(Option::as_ref),
            bootstrap_secret: self.bootstrap.as_ref().map(Option::as_ref),
            answers: &self.answers,
            allowed_server_urls: &[],
            now: self.now,
        };
        decide(&observed, &self.memory)
    }

    fn act(&self) -> Act {
        match self.decide() {
            Decision::Act(act) => act,
            other => panic!("expected to act, got {other:?}"),
        }
    }
}

fn status_of(act: &Act) -> &WetixCredentialStatus {
    act.effects
        .iter()
        .find_map(|e| match e {
            Effect::WriteStatus(status) => Some(&**status),
            _ => None,
        })
        .expect("every act ends with the status")
}

fn ready_reason(act: &Act) -> String {
    status_of(act).conditions[0].reason.clone()
}

fn notices(act: &Act) -> Vec<&Notice> {
    act.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(notice) => Some(notice),
            _ => None,
        })
        .collect()
}

fn writes(act: &Act) -> Vec<&Write> {
    act.effects
        .iter()
        .filter_map(|e| match e {
            Effect::WriteSecret { write, .. } => Some(write),
            _ => None,
        })
        .collect()
}

fn requested_grant(decision: &Decision) -> Option<&'static str> {
    match decision {
        Decision::Request(request, _) => Some(request.grant.label()),
        _ => None,
    }
}

fn rejected_refresh() -> Result<TokenPair, OAuthError> {
    Err(OAuthError::RefreshTokenRejected { status: 400 })
}

#[test]
fn reads_come_before_requests_and_only_what_is_needed() {
    let mut unread = Scene::new();
    unread.client = None;
    assert!(matches!(unread.decide(), Decision::Read(name) if name == "wetix-client"));

    let mut bootstrapped = Scene::new();
    bootstrapped.credential.spec.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
        name: "seed".into(),
        key: "refresh_token".into(),
    });
    assert!(matches!(bootstrapped.decide(), Decision::Read(name) if name == "seed"));
    bootstrapped.bootstrap = Some(Some(secret("seed", &[("refresh_token", "r0")])));
    assert_eq!(
        requested_grant(&bootstrapped.decide()),
        Some("refresh_token")
    );

    let mut has_tokens = Scene::new().with_tokens();
    has_tokens.credential.spec.refresh_token_secret_ref = bootstrapped
        .credential
        .spec
        .refresh_token_secret_ref
        .clone();
    assert!(
        matches!(has_tokens.decide(), Decision::Act(_)),
        "no bootstrap read with tokens"
    );

    let mut suspended = Scene::new();
    suspended.client = None;
    suspended.credential.spec.suspend = true;
    let act = suspended.act();
    assert_eq!(ready_reason(&act), "Suspended");
    assert_eq!(
        act.requeue, None,
        "a suspended credential waits for a change"
    );
}

#[test]
fn a_rejected_refresh_token_falls_back_to_client_credentials_at_once() {
    let due = Scene::new().with_tokens().at("2026-11-25T10:50:00Z");
    assert_eq!(requested_grant(&due.decide()), Some("refresh_token"));

    let rejected = due.answered(rejected_refresh());
    assert_eq!(
        requested_grant(&rejected.decide()),
        Some("client_credentials")
    );

    let issued = rejected.answered(Ok(pair("2026-11-25T10:50:00Z", 3600, 7200)));
    let act = issued.act();
    assert_eq!(
        ready_reason(&act),
        "TokenIssued",
        "the fresh pair came from client credentials"
    );

    let mut rejected_twice = Scene::new().with_tokens().at("2026-11-25T10:50:00Z");
    rejected_twice.answers = vec![
        rejected_refresh(),
        Err(OAuthError::ClientRejected { status: 401 }),
    ];
    let act = rejected_twice.act();
    assert_eq!(ready_reason(&act), "InvalidClient");
    assert!(writes(&act).is_empty(), "the Secret keeps its tokens");

    // A client-credentials grant that is refused is not retried with itself.
    let first = Scene::new().answered(Err(OAuthError::ClientRejected { status: 401 }));
    assert_eq!(ready_reason(&first.act()), "InvalidClient");
}

#[test]
fn the_event_and_status_wording_follows_the_grant() {
    let table = [
        (
            Scene::new(),
            "TokenIssued",
            "tokens issued and written to Secret \"ticketing-token\" (created)",
        ),
        (
            Scene::new().with_tokens().at("2026-11-25T10:50:00Z"),
            "TokenRefreshed",
            "tokens refreshed and written to Secret \"ticketing-token\";",
        ),
    ];
    for (scene, reason, note) in table {
        let act = scene
            .answered(Ok(pair("2026-11-25T10:50:00Z", 3600, 7200)))
            .act();
        assert_eq!(ready_reason(&act), reason);
        let notices = notices(&act);
        assert_eq!(notices.len(), 1);
        assert!(notices[0].note.starts_with(note), "{}", notices[0].note);
        assert!(!notices[0].warning);
        assert!(
            matches!(writes(&act)[..], [Write::New(Pending { reason: r, .. })] if *r == notices[0].reason)
        );
    }
}

#[test]
fn new_tokens_are_written_before_their_event_and_status() {
    let mut scene = Scene::new().answered(Ok(pair(T0, 3600, 7200)));
    scene.credential.spec.rollout_restart_targets = vec![crate::credential::RolloutRestartTarget {
        kind: crate::credential::WorkloadKind::Deployment,
        name: "web".into(),
    }];
    let order: Vec<&str> = scene
        .act()
        .effects
        .iter()
        .map(|e| match e {
            Effect::WriteSecret { .. } => "secret",
            Effect::Publish(_) => "event",
            Effect::RestartWorkloads => "restart",
            Effect::WriteStatus(_) => "status",
        })
        .collect();
    assert_eq!(order, ["secret", "event", "restart", "status"]);
}

#[test]
fn the_next_look_is_the_renewal_time_and_a_past_one_is_now() {
    let now = at(T0);
    let table = [
        (Some(at("2026-11-25T10:00:30Z")), 0, Duration::from_secs(30)),
        (Some(at("2026-11-25T09:59:00Z")), 0, Duration::ZERO),
        (Some(at("2020-01-01T00:00:00Z")), 3, Duration::ZERO),
        (Some(at("2027-01-01T00:00:00Z")), 0, MAX_REQUEUE),
        (None, 0, MAX_REQUEUE),
        (None, 2, schedule::MAX_RETRY_DELAY),
    ];
    for (next, failed, want) in table {
        assert_eq!(requeue_after(next, failed, now), want, "{next:?} {failed}");
    }
}

#[test]
fn a_failure_read_back_from_status_backs_off_by_its_class() {
    // Failed at T0 after 1 attempt; looked at 1 minute later.
    let table = [
        ("InvalidClient", true),
        ("ReauthorizationRequired", true),
        ("ServerUnavailable", true),
        ("InvalidServerResponse", true),
        ("ClientSecretNotFound", false),
        ("SomethingElseWrote", false),
    ];
    for (reason, waits) in table {
        let scene = Scene::new()
            .status(reason, 1, T0)
            .at("2026-11-25T10:00:01Z");
        match scene.decide() {
            Decision::Act(act) if waits => {
                assert!(act.requeue.is_some_and(|r| r > Duration::ZERO), "{reason}");
                assert!(writes(&act).is_empty());
            }
            Decision::Request(..) if !waits => {}
            other => panic!("{reason}: {other:?}"),
        }
    }
    // A rejected client waits five minutes, a transient failure far less.
    let rejected = Scene::new()
        .status("InvalidClient", 1, T0)
        .at("2026-11-25T10:04:59Z");
    assert!(matches!(rejected.decide(), Decision::Act(_)));
    let transient = Scene::new()
        .status("ServerUnavailable", 1, T0)
        .at("2026-11-25T10:04:59Z");
    assert!(matches!(transient.decide(), Decision::Request(..)));
}

#[test]
fn a_failed_request_counts_an_attempt_and_says_when_it_is_retried() {
    let scene = Scene::new().answered(Err(OAuthError::Transient {
        cause: TransientCause::Status(503),
        retry_after: Some(Duration::from_secs(20)),
    }));
    let act = scene.act();
    let status = status_of(&act);
    assert_eq!(status.failed_attempts, 1);
    assert_eq!(ready_reason(&act), "ServerUnavailable");
    assert_eq!(
        act.requeue,
        Some(Duration::from_secs(20)),
        "Retry-After is honoured"
    );
    assert_eq!(act.memory.retry_after, Some(Duration::from_secs(20)));
    assert_eq!(notices(&act)[0].reason, Reason::ServerUnavailable);
    assert!(notices(&act)[0].warning);
}

#[test]
fn bad_input_publishes_its_event_once_per_reason() {
    let mut missing = Scene::new();
    missing.client = Some(None);
    let act = missing.act();
    assert_eq!(ready_reason(&act), "ClientSecretNotFound");
    assert_eq!(notices(&act).len(), 1);
    assert_eq!(
        act.requeue,
        Some(MAX_REQUEUE),
        "bad input is not retried in a loop"
    );

    let mut again = Scene::new().status("ClientSecretNotFound", 0, T0);
    again.client = Some(None);
    assert!(
        notices(&again.act()).is_empty(),
        "the same reason again: no new Event"
    );

    let mut changed = Scene::new().status("ClientSecretNotFound", 0, T0);
    changed.client = Some(Some(secret("wetix-client", &[("client_id", "shop")])));
    let act = changed.act();
    assert_eq!(ready_reason(&act), "ClientSecretKeyMissing");
    assert_eq!(notices(&act).len(), 1);
}

#[test]
fn a_refresh_request_is_handled_by_a_renewal_or_a_failed_attempt_only() {
    let table: [(Scene, &str); 4] = [
        (
            Scene::new()
                .with_tokens()
                .refresh_requested("r1")
                .answered(Ok(pair(T0, 3600, 7200))),
            "r1",
        ),
        (
            Scene::new()
                .with_tokens()
                .refresh_requested("r1")
                .answered(Err(OAuthError::ClientRejected { status: 401 })),
            "r1",
        ),
        (
            {
                let mut s = Scene::new().with_tokens().refresh_requested("r1");
                s.client = Some(None);
                s
            },
            "",
        ),
        (
            {
                let mut s = Scene::new().with_tokens().refresh_requested("r1");
                s.credential.spec.suspend = true;
                s
            },
            "",
        ),
    ];
    for (scene, handled) in table {
        assert_eq!(status_of(&scene.act()).last_refresh_request, handled);
    }
    let requested = Scene::new().with_tokens().refresh_requested("r2");
    assert_eq!(requested_grant(&requested.decide()), Some("refresh_token"));
}

#[test]
fn tokens_whose_write_failed_are_written_first_with_a_doubling_wait() {
    let tokens = Scene::new().tokens(pair(T0, 3600, 7200));
    let pending = Pending {
        tokens: tokens.clone(),
        reason: Reason::TokenRefreshed,
        failed_writes: 0,
    };
    let mut waits = vec![];
    let mut memory = Memory::default();
    let mut next = pending;
    for _ in 0..6 {
        let kept = write_failed(next, memory);
        next = (**kept.pending.as_ref().unwrap()).clone();
        let after = api_failed(
            &Scene::new().credential,
            kept,
            "writing the managed Secret",
            "WriteSecret",
            at(T0),
        );
        waits.push(after.requeue.unwrap().as_millis());
        memory = after.memory;
    }
    assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400]);
    assert_eq!(
        write_wait(40),
        MAX_WRITE_RETRY,
        "a refused write backs off to 5 minutes"
    );

    let mut scene = Scene::new().with_tokens().at("2026-11-25T10:50:00Z");
    scene.memory = memory;
    let act = scene.act();
    assert!(act.memory.pending.is_none(), "taken out to be written");
    assert!(
        matches!(writes(&act)[..], [Write::New(Pending { tokens: t, failed_writes: 6, .. })] if *t == tokens)
    );
    assert_eq!(
        ready_reason(&act),
        "TokenRefreshed",
        "no new request while tokens are pending"
    );
}

#[test]
fn a_secret_of_someone_else_is_a_conflict_and_never_written() {
    let mut scene = Scene::new().answered(Ok(pair(T0, 3600, 7200)));
    scene.seen = Seen::Read(Some(Box::new(secret("ticketing-token", &[("x", "y")]))));
    let act = scene.act();
    assert_eq!(ready_reason(&act), "SecretConflict");
    assert!(writes(&act).is_empty());
}

#[test]
fn kept_tokens_restore_an_edited_secret_without_a_request() {
    let untouched = Scene::new().with_tokens().at("2026-11-25T10:10:00Z").act();
    assert!(writes(&untouched).is_empty());

    // A label added to the template: what was last written keeps no access token, so the
    // Secret is read back before it is written again.
    let mut scene = Scene::new().with_tokens().at("2026-11-25T10:10:00Z");
    let before = scene.credential.clone();
    let template = scene
        .credential
        .spec
        .secret_template
        .get_or_insert_default();
    template.labels.insert("team".into(), "box-office".into());
    assert!(matches!(scene.decide(), Decision::ReadBack));

    let tokens = scene.tokens(pair(T0, 3600, 7200));
    let mut there = managed_secret::desired(&before, &tokens);
    there.metadata.resource_version = Some("7".into());
    scene.seen = Seen::Read(Some(Box::new(there)));
    let act = scene.act();
    let [Write::Restore(restored)] = writes(&act)[..] else {
        panic!("expected one restore, got {:?}", writes(&act));
    };
    assert_eq!(
        restored, &tokens,
        "the access token read back is written again"
    );
    assert_eq!(ready_reason(&act), "TokenValid");
}

#[test]
fn what_was_last_written_keeps_the_refresh_token_and_only_the_fingerprint_of_the_access_token() {
    let scene = Scene::new().with_tokens();
    let Seen::Written(written) = &scene.seen else {
        unreachable!("with_tokens sees what was written");
    };
    let tokens = scene.tokens(pair(T0, 3600, 7200));
    assert_eq!(written.tokens.pair.access_token.held(), None);
    assert_eq!(written.tokens.pair.fingerprint(), tokens.pair.fingerprint());
    assert_eq!(written.tokens.pair.refresh_token, tokens.pair.refresh_token);
    assert_eq!(written.tokens.pair.access, tokens.pair.access);
    // Nothing changed: the body built without the access token matches the one written.
    let desired = managed_secret::desired(&scene.credential, &written.tokens);
    assert!(!scene.seen.needs_update(&desired));
    assert!(
        desired
            .data
            .as_ref()
            .is_some_and(|d| !d.contains_key("access_token"))
    );
}

#[test]
fn a_superseded_version_is_looked_at_again_shortly_without_acting() {
    let mut scene = Scene::new();
    scene.credential.metadata.resource_version = Some("41".into());
    scene
        .memory
        .status_written(Some("41".into()), Some("42".into()), scene.now);
    let act = scene.act();
    assert!(act.effects.is_empty());
    assert_eq!(act.requeue, Some(STALE_RETRY));

    let mut unchanged = Memory::default();
    unchanged.status_written(Some("41".into()), Some("41".into()), scene.now);
    assert_eq!(unchanged.superseded_version, None);
}

#[test]
fn any_version_before_our_last_status_write_is_stale_and_it_or_a_later_one_is_not() {
    // Our write replaced 41 and made 45; 43 is another write between the two (a refresh
    // request handled by our write, say) that the watch shows only after our reply.
    let written_at = Scene::new().now;
    let mut memory = Memory::default();
    memory.status_written(Some("41".into()), Some("45".into()), written_at);
    let cases = [
        (Some("41"), true),
        (Some("43"), true),
        (Some("44"), true),
        (Some("45"), false),
        (Some("46"), false),
        (None, false),
    ];
    for (version, stale) in cases {
        assert_eq!(memory.is_stale(version, written_at), stale, "{version:?}");
        let mut scene = Scene::new();
        scene.credential.metadata.resource_version = version.map(str::to_owned);
        scene.memory = memory.clone();
        let skipped = matches!(
            scene.decide(),
            Decision::Act(act) if act.effects.is_empty() && act.requeue == Some(STALE_RETRY)
        );
        assert_eq!(
            skipped, stale,
            "{version:?}: a stale version asks for nothing"
        );
    }
    // Past the window an older revision is no echo (etcd restored from a backup, say): it is
    // acted on. The version the write replaced stays stale.
    let later = written_at + STALE_WINDOW;
    assert!(!memory.is_stale(Some("43"), later));
    assert!(memory.is_stale(Some("41"), later));
    // Versions that are not numbers are compared only for equality.
    let mut opaque = Memory::default();
    opaque.status_written(Some("a1".into()), Some("b2".into()), written_at);
    assert!(opaque.is_stale(Some("a1"), written_at));
    assert!(!opaque.is_stale(Some("a0"), written_at));
    assert!(!opaque.is_stale(Some("b2"), written_at));
}

#[test]
fn the_watch_showing_our_status_write_or_later_settles_the_guard_and_nothing_is_left() {
    let written_at = Scene::new().now;
    let mut guarded = Memory::default();
    guarded.status_written(Some("41".into()), Some("45".into()), written_at);
    // What the watch shows next: the guard goes only at or after the revision we made.
    let cases = [
        (Some("43"), false),
        (Some("44"), false),
        (Some("45"), true),
        (Some("46"), true),
        (Some("not-a-number"), false),
        (None, false),
    ];
    for (version, settled) in cases {
        let mut memory = guarded.clone();
        memory.settle(version.and_then(revision));
        assert_eq!(memory.is_empty(), settled, "{version:?}");
        assert_eq!(
            !memory.is_stale(Some("41"), written_at),
            settled,
            "{version:?}"
        );
    }
    // Anything else it remembers stays: only the guard is settled.
    let mut failing = guarded.clone();
    failing.api_failures = 2;
    failing.settle(Some(45));
    assert!(!failing.is_empty());
    assert_eq!(failing.api_failures, 2);
    assert_eq!(failing.status_revision, None);
    // Opaque versions cannot be ordered: the guard stays.
    let mut opaque = Memory::default();
    opaque.status_written(Some("a1".into()), Some("b2".into()), written_at);
    opaque.settle(revision("b2"));
    assert!(opaque.is_stale(Some("a1"), written_at));
}

#[test]
fn an_unreadable_spec_is_invalid_spec_naming_the_field_and_nothing_else_is_done() {
    let mut scene = Scene::new();
    scene.client = None;
    scene.credential.spec.unreadable =
        Some("spec.renewBeforePercentage: invalid value: integer `100000`, expected u8".into());
    let act = scene.act();
    assert_eq!(ready_reason(&act), "InvalidSpec");
    let message = &status_of(&act).conditions[0].message;
    assert!(message.contains("spec.renewBeforePercentage"), "{message}");
    assert!(writes(&act).is_empty());
    assert_eq!(notices(&act).len(), 1);
}

#[test]
fn an_unreadable_status_is_overwritten_with_a_sane_one() {
    let mut scene = Scene::new().with_tokens().at("2026-11-25T10:10:00Z");
    scene.credential.status = Some(WetixCredentialStatus {
        unreadable: Some("status.failedAttempts: invalid value".into()),
        ..WetixCredentialStatus::default()
    });
    let act = scene.act();
    let status = status_of(&act);
    assert_eq!(status.unreadable, None);
    assert_eq!(status.conditions[0].reason, "TokenValid");
    assert!(status.access_token_expires_at.is_some());
}

#[test]
fn an_absent_secret_is_claimed_before_any_request_and_written_at_its_version() {
    let mut absent = Scene::new();
    absent.seen = Seen::Read(None);
    assert!(matches!(absent.decide(), Decision::Claim));

    let mut pending = Scene::new().with_tokens();
    pending.memory.pending = Some(Box::new(Pending {
        tokens: pending.tokens(pair(T0, 3600, 7200)),
        reason: Reason::TokenIssued,
        failed_writes: 1,
    }));
    pending.seen = Seen::Read(None);
    assert!(
        matches!(pending.decide(), Decision::Claim),
        "pending tokens too"
    );

    let mut suspended = Scene::new();
    suspended.seen = Seen::Read(None);
    suspended.credential.spec.suspend = true;
    assert!(
        matches!(suspended.decide(), Decision::Act(_)),
        "no claim without a request"
    );

    let fresh = Scene::new();
    assert_eq!(requested_grant(&fresh.decide()), Some("client_credentials"));
    let act = fresh.answered(Ok(pair(T0, 3600, 7200))).act();
    let versions: Vec<_> = act
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::WriteSecret { version, .. } => Some(version.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(versions, [Some("3".to_owned())]);
    assert!(notices(&act)[0].note.contains("(created)"));

    let mut taken = Scene::new();
    let mut theirs = claimed();
    theirs.metadata.labels = Some([("wetix.my/credential".to_owned(), "other".to_owned())].into());
    taken.seen = Seen::Read(Some(Box::new(theirs)));
    assert_eq!(
        ready_reason(&taken.act()),
        "SecretConflict",
        "a claim of another credential"
    );
}

#[test]
fn a_refused_spec_is_reported_before_anything_is_read() {
    type Spoil = fn(&mut WetixCredential);
    let table: [(&str, Spoil); 4] = [
        ("spec.secretName", |c| {
            c.spec.secret_name = Some("../../kube-system/x".into())
        }),
        ("spec.server.tokenPath", |c| {
            c.spec.server.token_path = "@evil.example/x".into()
        }),
        ("spec.clientSecretRef.name", |c| {
            c.spec.client_secret_ref.name = "a/b".into()
        }),
        ("spec.renewBefore", |c| {
            c.spec.renew_before = Some("87601h".parse().unwrap())
        }),
    ];
    for (field, spoil) in table {
        let mut scene = Scene::new();
        scene.client = None;
        spoil(&mut scene.credential);
        let observed = Observed {
            credential: &scene.credential,
            managed: None,
            client_secret: None,
            bootstrap_secret: None,
            answers: &[],
            allowed_server_urls: &[],
            now: scene.now,
        };
        let Decision::Act(act) = decide(&observed, &scene.memory) else {
            panic!("{field}: nothing may be read");
        };
        assert_eq!(ready_reason(&act), "InvalidSpec", "{field}");
        let message = &status_of(&act).conditions[0].message;
        assert!(message.starts_with(field), "{field}: {message}");
        assert!(writes(&act).is_empty());
    }
    let fine = Scene::new();
    let observed = Observed {
        credential: &fine.credential,
        managed: None,
        client_secret: None,
        bootstrap_secret: None,
        answers: &[],
        allowed_server_urls: &[],
        now: fine.now,
    };
    assert!(matches!(
        decide(&observed, &fine.memory),
        Decision::ReadManaged
    ));
}

#[test]
fn an_api_failure_is_on_the_status_with_a_backoff_keeping_what_status_said_of_the_tokens() {
    let mut scene = Scene::new().with_tokens();
    let kept = scene.with_status_of_tokens();
    let mut memory = Memory::default();
    let mut waits = vec![];
    let mut events = 0;
    for _ in 0..8 {
        let act = api_failed(
            &scene.credential,
            memory,
            "writing the managed Secret \"x\": the API server answered 422 Invalid: ...",
            "WriteSecret",
            at(T0),
        );
        waits.push(act.requeue.unwrap().as_secs());
        events += notices(&act).len();
        assert!(notices(&act).iter().all(|n| n.action == "WriteSecret"));
        let status = status_of(&act).clone();
        assert_eq!(status.conditions[0].reason, "KubernetesApiError");
        assert!(status.conditions[0].message.contains("422"));
        assert_eq!(status.access_token_expires_at, kept.access_token_expires_at);
        assert_eq!(status.token_fingerprint, kept.token_fingerprint);
        scene.credential.status = Some(status);
        memory = act.memory;
    }
    assert_eq!(events, 1, "its Event once, not on every retry");
    // 5 s doubling, each moved by up to 20 % of jitter, to at most 5 minutes.
    assert!((4..=6).contains(&waits[0]), "{waits:?}");
    assert!((8..=12).contains(&waits[1]), "{waits:?}");
    assert!(
        waits[6..].iter().all(|w| (240..=300).contains(w)),
        "{waits:?}"
    );
    memory.reconciled();
    let again = api_failed(&scene.credential, memory, "again", "ReadSecret", at(T0));
    assert!(
        again.requeue.unwrap() <= Duration::from_secs(6),
        "a success resets the backoff"
    );
}

#[test]
fn rollout_restarts_come_at_most_once_a_minute() {
    let with_targets = |now: &str, last: Option<&str>| {
        let mut scene = Scene::new()
            .with_tokens()
            .at(now)
            .answered(Ok(pair(now, 3600, 7200)));
        scene.credential.spec.rollout_restart_targets =
            vec![crate::credential::RolloutRestartTarget {
                kind: crate::credential::WorkloadKind::Deployment,
                name: "web".into(),
            }];
        scene.memory.last_restart = last.map(at);
        scene.act()
    };
    let restarts = |act: &Act| {
        act.effects
            .iter()
            .filter(|e| matches!(e, Effect::RestartWorkloads))
            .count()
    };
    let first = with_targets("2026-11-25T10:50:00Z", None);
    assert_eq!(restarts(&first), 1);
    assert_eq!(first.memory.last_restart, Some(at("2026-11-25T10:50:00Z")));

    let soon = with_targets("2026-11-25T10:50:59Z", Some("2026-11-25T10:50:00Z"));
    assert_eq!(restarts(&soon), 0);
    let skipped = notices(&soon);
    assert!(
        skipped
            .iter()
            .any(|n| n.reason == Reason::RolloutRestartSkipped),
        "{skipped:?}"
    );
    assert_eq!(soon.memory.last_restart, Some(at("2026-11-25T10:50:00Z")));

    let later = with_targets("2026-11-25T10:51:00Z", Some("2026-11-25T10:50:00Z"));
    assert_eq!(restarts(&later), 1);
}

#[test]
fn retry_after_counts_from_the_answer_and_is_never_cut_by_rounding() {
    let scene = Scene::new()
        .at("2026-11-25T10:00:00.400Z")
        .answered(Err(OAuthError::Transient {
            cause: TransientCause::Status(429),
            retry_after: Some(Duration::from_secs(7)),
        }));
    let act = scene.act();
    let wait = act.requeue.unwrap();
    assert!(wait >= Duration::from_secs(7), "{wait:?}");
    assert!(wait <= Duration::from_secs(8), "{wait:?}");
    let status = status_of(&act);
    assert_eq!(
        status.last_failure_time.as_ref().unwrap().0,
        at("2026-11-25T10:00:01Z")
    );
}

#[test]
fn tokens_written_whose_status_write_failed_are_still_reported_as_renewed() {
    let renewed = Scene::new()
        .with_tokens()
        .at("2026-11-25T10:50:00Z")
        .answered(Ok(pair("2026-11-25T10:50:00Z", 3600, 7200)));
    let act = renewed.act();
    assert_eq!(act.memory.unreported, Some(Reason::TokenRefreshed));

    // The status write failed: the next reconcile finds tokens in the Secret, not yet due.
    let mut next = Scene::new().with_tokens().at("2026-11-25T10:10:00Z");
    next.memory = act.memory.clone();
    let again = next.act();
    assert_eq!(ready_reason(&again), "TokenRefreshed");
    assert!(status_of(&again).last_refresh_time.is_some());

    let mut reported = act.memory;
    reported.reconciled();
    next.memory = reported;
    assert_eq!(
        ready_reason(&next.act()),
        "TokenValid",
        "once reported, kept"
    );
}
