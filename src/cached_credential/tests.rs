use super::*;
use crate::{
    credential::RefreshTokenSecretRef,
    fixtures::{at, credential},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;

fn issued() -> WetixCredential {
    let mut c = credential();
    c.metadata.resource_version = Some("48213".into());
    c.status = Some(WetixCredentialStatus {
        observed_generation: Some(1),
        conditions: vec![Condition {
            type_: READY.into(),
            status: "True".into(),
            reason: "TokenValid".into(),
            message: "access token valid until 2027-02-01T11:03:09Z, refresh token until \
                      2027-12-03T11:03:09Z"
                .into(),
            last_transition_time: Time(at("2026-12-03T11:03:09Z")),
            observed_generation: Some(1),
        }],
        secret_name: Some("ticketing-token".into()),
        access_token_expires_at: Some(Time(at("2027-02-01T11:03:09Z"))),
        refresh_token_expires_at: Some(Time(at("2027-12-03T11:03:09Z"))),
        last_refresh_time: Some(Time(at("2026-12-03T11:03:09Z"))),
        next_refresh_time: Some(Time(at("2027-01-12T19:03:09Z"))),
        token_fingerprint: Some("3f9a0c4be81d27aa".into()),
        ..WetixCredentialStatus::default()
    });
    c
}

fn asked(value: &str, handled: &str) -> WetixCredential {
    let mut c = credential();
    let meta = &mut c.metadata;
    meta.labels = Some([("app.kubernetes.io/instance".into(), "shop".into())].into());
    meta.annotations = Some(
        [
            (step::REFRESH_REQUESTED_AT.into(), value.into()),
            (
                "kubectl.kubernetes.io/last-applied-configuration".into(),
                "{}".into(),
            ),
        ]
        .into(),
    );
    meta.generation = Some(3);
    c.status = Some(WetixCredentialStatus {
        last_refresh_request: handled.into(),
        ..WetixCredentialStatus::default()
    });
    c
}

fn trimmed(mut c: WetixCredential) -> WetixCredential {
    keep_what_reconcile_reads(&mut c);
    c
}

#[test]
fn a_reconcile_unpacks_exactly_what_it_would_have_read_of_the_typed_credential() {
    let mut bootstrap = issued();
    bootstrap.spec.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
        name: "bootstrap".into(),
        key: "refresh_token".into(),
    });
    let mut bad_spec = credential();
    bad_spec.spec = crate::credential::unreadable_spec("spec.server: missing field".into());
    let mut bad_status = issued();
    bad_status.status = Some(WetixCredentialStatus {
        unreadable: Some("status.failedAttempts: invalid type".into()),
        ..WetixCredentialStatus::default()
    });
    let cases = [
        ("new", credential()),
        ("issued", issued()),
        ("bootstrap", bootstrap),
        ("refresh asked", asked("2026-11-25T10:00:00Z", "")),
        (
            "refresh handled",
            asked("2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z"),
        ),
        ("unreadable spec", bad_spec),
        ("unreadable status", bad_status),
    ];
    for (case, read) in cases {
        let cached = CachedCredential::new(read.clone());
        let unpacked = cached.credential().expect(case);
        let expected = trimmed(read);
        assert_eq!(unpacked.metadata, expected.metadata, "{case}");
        assert_eq!(unpacked.spec, expected.spec, "{case}");
        assert_eq!(unpacked.status, expected.status, "{case}");
        assert_eq!(
            unpacked.status.as_ref().map(|s| &s.unreadable),
            expected.status.as_ref().map(|s| &s.unreadable),
            "{case}"
        );
        assert_eq!(cached.name_any(), "ticketing", "{case}");
        assert_eq!(cached.namespace().as_deref(), Some("shop"), "{case}");
    }
}

#[test]
fn an_issued_credential_takes_a_fifth_of_its_json() {
    let json = serde_json::to_vec(&trimmed(issued())).unwrap();
    let cached = CachedCredential::new(issued());
    assert!(
        cached.entry.packed_len() * 5 < json.len(),
        "{} bytes packed of {}",
        cached.entry.packed_len(),
        json.len()
    );
}

#[test]
fn the_cache_keeps_identity_version_spec_status_and_only_a_pending_refresh_request() {
    let cases = [
        // (annotation, last handled, kept annotation)
        ("2026-11-25T10:00:00Z", "", Some("2026-11-25T10:00:00Z")),
        (
            "2026-11-25T10:00:00Z",
            "2026-11-24T10:00:00Z",
            Some("2026-11-25T10:00:00Z"),
        ),
        ("2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z", None),
        ("", "", None),
    ];
    for (value, handled, expected) in cases {
        let read = asked(value, handled);
        let kept = CachedCredential::new(read.clone()).credential().unwrap();
        let annotations = kept.metadata.annotations.clone();
        let annotation = annotations
            .as_ref()
            .and_then(|a| a.get(step::REFRESH_REQUESTED_AT))
            .map(String::as_str);
        assert_eq!(annotation, expected, "{value:?} handled {handled:?}");
        assert_eq!(
            annotations.map_or(0, |a| a.len()),
            usize::from(expected.is_some())
        );
        assert_eq!(kept.metadata.labels, None);
        assert_eq!(
            step::pending_refresh_request(&kept),
            step::pending_refresh_request(&read),
            "what a reconcile reads of the request moved"
        );
        let identity = |c: &WetixCredential| {
            let m = &c.metadata;
            (
                m.name.clone(),
                m.namespace.clone(),
                m.uid.clone(),
                m.resource_version.clone(),
                m.generation,
            )
        };
        assert_eq!(identity(&kept), identity(&read));
        assert_eq!((&kept.spec, &kept.status), (&read.spec, &read.status));
    }
}

#[test]
fn the_summary_is_what_the_metrics_publish() {
    let mut failing = issued();
    if let Some(status) = failing.status.as_mut() {
        status.conditions[0].status = "False".into();
        status.next_refresh_time = Some(Time(at("2026-12-03T11:08:09Z")));
    }
    // Times as a hostile or a future status may carry them: before 1970, to the nanosecond,
    // absent.
    let mut odd = issued();
    if let Some(status) = odd.status.as_mut() {
        status.access_token_expires_at = Some(Time(at("1969-12-31T23:59:58.5Z")));
        status.refresh_token_expires_at = None;
        status.next_refresh_time = Some(Time(at("2027-01-12T19:03:09.123456789Z")));
    }
    let cases = [
        (credential(), None),
        (
            odd,
            Some(Summary {
                access_token_expires_at: Some(at("1969-12-31T23:59:58.5Z")),
                refresh_token_expires_at: None,
                next_refresh_time: Some(at("2027-01-12T19:03:09.123456789Z")),
                ready: true,
            }),
        ),
        (
            issued(),
            Some(Summary {
                access_token_expires_at: Some(at("2027-02-01T11:03:09Z")),
                refresh_token_expires_at: Some(at("2027-12-03T11:03:09Z")),
                next_refresh_time: Some(at("2027-01-12T19:03:09Z")),
                ready: true,
            }),
        ),
        (
            failing,
            Some(Summary {
                access_token_expires_at: Some(at("2027-02-01T11:03:09Z")),
                refresh_token_expires_at: Some(at("2027-12-03T11:03:09Z")),
                next_refresh_time: Some(at("2026-12-03T11:08:09Z")),
                ready: false,
            }),
        ),
    ];
    for (read, expected) in cases {
        assert_eq!(CachedCredential::new(read).entry.summary(), expected);
    }
}

#[test]
fn it_knows_which_secrets_it_may_read() {
    let mut c = issued();
    c.spec.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
        name: "bootstrap".into(),
        key: "refresh_token".into(),
    });
    c.spec.secret_name = Some("tokens".into());
    let cached = CachedCredential::new(c);
    for (secret, reads) in [
        ("wetix-client", true),
        ("bootstrap", true),
        ("tokens", true),
        ("ticketing-token", false),
        ("other", false),
        ("", false),
    ] {
        assert_eq!(cached.entry.may_read(secret), reads, "{secret}");
    }
    let plain = CachedCredential::new(credential());
    assert!(plain.entry.may_read("ticketing-token"));
    assert!(!plain.entry.may_read("bootstrap"));
}

#[test]
fn it_is_read_from_the_api_servers_json_as_the_typed_credential_is() {
    let cases = [
        serde_json::json!({
            "apiVersion": "wetix.my/v1alpha1",
            "kind": "WetixCredential",
            "metadata": {
                "name": "ticketing", "namespace": "shop", "uid": "u-1",
                "resourceVersion": "7", "generation": 2,
                "labels": {"team": "tickets"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {"server": {"environment": "Sandbox"}, "clientSecretRef": {"name": "c"}},
            "status": {"failedAttempts": 2}
        }),
        serde_json::json!({
            "apiVersion": "wetix.my/v1alpha1",
            "kind": "WetixCredential",
            "metadata": {"name": "ticketing", "namespace": "shop"},
            "spec": {"server": {"environment": "Staging"}, "clientSecretRef": {"name": "c"}},
            "status": {"failedAttempts": "many"}
        }),
    ];
    for json in cases {
        let typed: WetixCredential = serde_json::from_value(json.clone()).unwrap();
        let cached: CachedCredential = serde_json::from_value(json).unwrap();
        assert_eq!(cached.resource_version(), typed.resource_version());
        let unpacked = cached.credential().unwrap();
        let expected = trimmed(typed);
        assert_eq!(unpacked.metadata, expected.metadata);
        assert_eq!(unpacked.spec, expected.spec);
        assert_eq!(unpacked.status, expected.status);
        assert_eq!(
            unpacked.status.and_then(|s| s.unreadable),
            expected.status.and_then(|s| s.unreadable)
        );
    }
}

#[test]
fn a_change_is_packed_again_into_the_buffer_the_entry_has_when_it_fits() {
    let mut kept = CachedCredential::new(issued()).entry;
    let buffer = kept.packed.as_ptr();
    let key = Key::new("shop", "ticketing");

    // A renewal: new times and version, about as long as before.
    let mut renewed = issued();
    renewed.metadata.resource_version = Some("48377".into());
    let status = renewed.status.as_mut().unwrap();
    status.next_refresh_time = Some(Time(at("2027-01-12T19:04:11Z")));
    status.token_fingerprint = Some("77e1d0c4be81d2ab".into());
    kept.overwrite(CachedCredential::new(renewed.clone()).entry);
    assert_same(kept.credential(&key), trimmed(renewed.clone()));
    assert_eq!(kept.revision.map(|r| r.get()), Some(48377));
    assert_eq!(kept.packed.as_ptr(), buffer, "packed in place");

    // Far longer: a buffer of its own, read as well.
    let mut failing = renewed.clone();
    let status = failing.status.as_mut().unwrap();
    // Digits that do not repeat, so that they do not compress away.
    status.conditions[0].message = (1..200u64)
        .map(|i| (i * i * 7919 % 9973).to_string())
        .collect();
    kept.overwrite(CachedCredential::new(failing.clone()).entry);
    assert_same(kept.credential(&key), trimmed(failing));
    let long = kept.packed.as_ptr();
    assert_ne!(long, buffer);

    // Back to short: not kept in the long buffer.
    kept.overwrite(CachedCredential::new(renewed.clone()).entry);
    assert_same(kept.credential(&key), trimmed(renewed));
    assert_ne!(kept.packed.as_ptr(), long, "a buffer of its size again");
}

fn assert_same(unpacked: Option<WetixCredential>, expected: WetixCredential) {
    let unpacked = unpacked.expect("unpacks");
    assert_eq!(unpacked.metadata, expected.metadata);
    assert_eq!(unpacked.spec, expected.spec);
    assert_eq!(unpacked.status, expected.status);
}
