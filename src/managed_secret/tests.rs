use super::*;
use crate::fixtures::*;

fn stored() -> StoredTokens {
    StoredTokens {
        pair: pair("2026-11-25T10:00:00Z", 5_184_000, 31_536_000),
        issued_for: "00112233aabbccdd".into(),
    }
}

fn data_text(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

#[test]
fn the_secret_carries_every_contract_key_label_and_annotation() {
    let secret = desired(&credential(), &stored());
    assert_eq!(secret.metadata.name.as_deref(), Some("ticketing-token"));
    assert_eq!(secret.metadata.namespace.as_deref(), Some("shop"));
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        data_text(&secret, "access_token"),
        "access-2026-11-25T10:00:00Z"
    );
    assert_eq!(
        data_text(&secret, "refresh_token"),
        "refresh-2026-11-25T10:00:00Z"
    );
    assert_eq!(data_text(&secret, "token_type"), "Bearer");
    assert_eq!(
        data_text(&secret, "authorization"),
        "Bearer access-2026-11-25T10:00:00Z"
    );
    assert_eq!(data_text(&secret, "expires_at"), "2027-01-24T10:00:00Z");
    assert_eq!(
        data_text(&secret, "refresh_token_expires_at"),
        "2027-11-25T10:00:00Z"
    );
    let labels = secret.labels();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "wetix-operator");
    assert_eq!(labels["wetix.my/credential"], "ticketing");
    let annotations = secret.annotations();
    assert_eq!(
        annotations["wetix.my/access-token-expires-at"],
        "2027-01-24T10:00:00Z"
    );
    assert_eq!(
        annotations["wetix.my/refresh-token-expires-at"],
        "2027-11-25T10:00:00Z"
    );
    assert_eq!(annotations["wetix.my/refreshed-at"], "2026-11-25T10:00:00Z");
}

#[test]
fn delete_policy_owns_the_secret_and_retain_does_not() {
    let owned = desired(&credential(), &stored());
    let owner = &owned.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "WetixCredential");
    assert_eq!(owner.uid, "0b5e3c1e-5d6a-4f6e-9c38-2f1a7c9d4e11");
    assert_eq!(owner.controller, Some(true));
    assert!(
        desired(&credential().retained(), &stored())
            .metadata
            .owner_references
            .is_none()
    );
}

#[test]
fn template_labels_and_annotations_are_added_but_never_override_ours() {
    let mut cred = credential();
    cred.spec.secret_template = Some(crate::credential::SecretTemplate {
        labels: [
            ("team".into(), "shop".into()),
            ("wetix.my/credential".into(), "x".into()),
        ]
        .into(),
        annotations: [("note".into(), "hi".into())].into(),
    });
    let secret = desired(&cred, &stored());
    assert_eq!(secret.labels()["team"], "shop");
    assert_eq!(secret.labels()["wetix.my/credential"], "ticketing");
    assert_eq!(secret.annotations()["note"], "hi");
}

#[test]
fn tokens_read_back_from_the_secret_are_the_ones_written() {
    let cred = credential();
    let secret = desired(&cred, &stored());
    assert_eq!(inspect(Some(&secret), &cred), Existing::Valid(stored()));
}

#[test]
fn a_secret_without_our_labels_or_owned_by_another_object_is_foreign() {
    let cred = credential();
    let mut theirs = desired(&cred, &stored());
    theirs.metadata.labels = None;
    assert_eq!(inspect(Some(&theirs), &cred), Existing::Foreign);

    let other = credential().with_uid("another-uid");
    let owned_by_other = desired(&other, &stored());
    assert_eq!(inspect(Some(&owned_by_other), &cred), Existing::Foreign);

    let retained_leftover = desired(&credential().retained(), &stored());
    assert!(is_managed_by(&retained_leftover, &cred));
    assert_eq!(inspect(None, &cred), Existing::Missing);
}

#[test]
fn an_edited_or_removed_token_makes_the_secret_damaged() {
    let cred = credential();
    let mut edited = desired(&cred, &stored());
    edited
        .data
        .as_mut()
        .unwrap()
        .insert("access_token".into(), ByteString(b"tampered".to_vec()));
    assert_eq!(inspect(Some(&edited), &cred), Existing::Damaged);

    let mut removed = desired(&cred, &stored());
    removed.data.as_mut().unwrap().remove("refresh_token");
    assert_eq!(inspect(Some(&removed), &cred), Existing::Damaged);
}

#[test]
fn needs_update_sees_our_fields_but_ignores_keys_others_added() {
    let cred = credential();
    let want = desired(&cred, &stored());
    let mut have = want.clone();
    assert!(!needs_update(&have, &want));

    have.data
        .as_mut()
        .unwrap()
        .insert("extra".into(), ByteString(b"theirs".to_vec()));
    have.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("other".into(), "x".into());
    assert!(!needs_update(&have, &want));

    have.data.as_mut().unwrap().insert(
        "expires_at".into(),
        ByteString(b"2030-01-01T00:00:00Z".to_vec()),
    );
    assert!(needs_update(&have, &want));

    let mut unowned = want.clone();
    unowned.metadata.owner_references = None;
    assert!(needs_update(&unowned, &want));
}

#[test]
fn issued_for_changes_with_the_client_secret_or_server_and_hides_both() {
    let endpoint = Endpoint {
        base_url: "https://sb-oauth.wetix.my".into(),
        token_path: "/auth/token".into(),
        refresh_path: "/auth/refresh".into(),
    };
    let creds = ClientCredentials {
        client_id: "id".into(),
        client_secret: Sensitive::new("secret-one"),
    };
    let a = issued_for(&endpoint, &creds);
    assert_eq!(a.len(), 16);
    assert!(!a.contains("secret"));
    let rotated = ClientCredentials {
        client_secret: Sensitive::new("secret-two"),
        ..creds.clone()
    };
    assert_ne!(a, issued_for(&endpoint, &rotated));
    let moved = Endpoint {
        base_url: "https://oauth.wetix.my".into(),
        ..endpoint.clone()
    };
    assert_ne!(a, issued_for(&moved, &creds));
    assert_eq!(a, issued_for(&endpoint, &creds));
}

#[test]
fn a_template_setting_every_key_of_ours_changes_none_of_them() {
    let plain = desired(&credential(), &stored());
    let mut cred = credential();
    let hostile = |keys: &[&str]| keys.iter().map(|k| (k.to_string(), "x".into())).collect();
    cred.spec.secret_template = Some(crate::credential::SecretTemplate {
        labels: hostile(&labels::OWN),
        annotations: hostile(&annotations::OWN),
    });
    let secret = desired(&cred, &stored());
    assert_eq!(secret.labels(), plain.labels());
    assert_eq!(secret.annotations(), plain.annotations());
}

#[test]
fn the_lists_of_our_keys_are_exactly_what_the_secret_carries() {
    let secret = desired(&credential(), &stored());
    let keys = |map: &BTreeMap<String, String>| map.keys().cloned().collect::<Vec<_>>();
    let sorted = |list: &[&str]| {
        let mut list: Vec<String> = list.iter().map(|k| k.to_string()).collect();
        list.sort();
        list
    };
    assert_eq!(keys(secret.labels()), sorted(&labels::OWN));
    assert_eq!(keys(secret.annotations()), sorted(&annotations::OWN));
}

#[test]
fn our_annotation_values_fit_the_size_the_validation_reserves_for_them() {
    // The latest time jiff can hold, so the longest timestamp text there is.
    let far = StoredTokens {
        pair: TokenPair {
            access: Lifetime {
                issued_at: Timestamp::MAX,
                expires_at: Timestamp::MAX,
            },
            refresh: Lifetime {
                issued_at: Timestamp::MAX,
                expires_at: Timestamp::MAX,
            },
            ..stored().pair
        },
        ..stored()
    };
    for tokens in [stored(), far] {
        let secret = desired(&credential(), &tokens);
        for (key, value) in secret.annotations() {
            assert!(
                value.len() <= annotations::OWN_VALUE_MAX_BYTES,
                "{key}: {value}"
            );
        }
    }
}

/// `stored()` with every time of both lifetimes set to `t`.
fn stored_at(t: Timestamp) -> StoredTokens {
    let lifetime = Lifetime {
        issued_at: t,
        expires_at: t,
    };
    StoredTokens {
        pair: TokenPair {
            access: lifetime,
            refresh: lifetime,
            ..stored().pair
        },
        ..stored()
    }
}

#[test]
fn times_at_the_ends_of_the_range_are_written_and_read_back_to_the_second() {
    let whole = |t: Timestamp| Timestamp::from_second(t.as_second()).unwrap();
    let cases = [
        (
            "the earliest time",
            Timestamp::MIN,
            "-009999-01-02T01:59:59Z",
        ),
        (
            "the latest time, rounded down",
            Timestamp::MAX,
            "9999-12-30T22:00:00Z",
        ),
        ("year 0", at("0000-01-01T00:00:00Z"), "0000-01-01T00:00:00Z"),
        (
            "the second before year 0",
            at("-000001-12-31T23:59:59Z"),
            "-000001-12-31T23:59:59Z",
        ),
        (
            "half a second before the epoch, rounded down",
            at("1969-12-31T23:59:59.5Z"),
            "1969-12-31T23:59:59Z",
        ),
    ];
    let cred = credential();
    for (name, t, text) in cases {
        assert_eq!(rfc3339(t), text, "{name}");
        let written = desired(&cred, &stored_at(t));
        assert_eq!(
            written.annotations()[annotations::REFRESHED_AT],
            text,
            "{name}"
        );
        let floored = text.parse::<Timestamp>().unwrap();
        assert_eq!(floored, whole(floored), "{name}");
        assert_eq!(
            inspect(Some(&written), &cred),
            Existing::Valid(stored_at(floored)),
            "{name}"
        );
    }
}

#[test]
fn an_edited_time_annotation_is_read_as_the_time_it_names_or_the_secret_is_damaged() {
    let cred = credential();
    let cases = [
        // (name, value of wetix.my/access-token-expires-at, what it reads as)
        (
            "the latest second",
            "9999-12-30T22:00:00Z",
            Some(at("9999-12-30T22:00:00Z")),
        ),
        (
            "the earliest second",
            "-009999-01-02T01:59:59Z",
            Some(Timestamp::MIN),
        ),
        (
            "year 0",
            "0000-01-01T00:00:00Z",
            Some(at("0000-01-01T00:00:00Z")),
        ),
        (
            "an offset",
            "2026-11-25T10:00:00+14:00",
            Some(at("2026-11-24T20:00:00Z")),
        ),
        (
            "nanoseconds",
            "2026-11-25T10:00:00.123456789Z",
            Some(at("2026-11-25T10:00:00.123456789Z")),
        ),
        ("after the latest time", "9999-12-31T23:59:59Z", None),
        ("a year past 9999", "+010000-01-01T00:00:00Z", None),
        ("before the earliest time", "-009999-01-01T00:00:00Z", None),
        ("Unix seconds", "1800000000", None),
        ("i64::MAX", "9223372036854775807", None),
        ("empty", "", None),
        ("garbage", "tomorrow", None),
        ("very long", &"9".repeat(100_000), None),
        (
            "a leap second",
            "2026-12-31T23:59:60Z",
            Some(at("2026-12-31T23:59:59Z")),
        ),
    ];
    for (name, value, expected) in cases {
        let mut secret = desired(&cred, &stored());
        secret
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(annotations::ACCESS_TOKEN_EXPIRES_AT.into(), value.into());
        let got = inspect(Some(&secret), &cred);
        match expected {
            Some(expires_at) => {
                let mut want = stored();
                want.pair.access.expires_at = expires_at;
                assert_eq!(got, Existing::Valid(want), "{name}");
            }
            None => assert_eq!(got, Existing::Damaged, "{name}"),
        }
    }
}

#[test]
fn token_keys_that_are_not_text_or_empty_make_the_secret_damaged() {
    let cred = credential();
    for key in [keys::ACCESS_TOKEN, keys::REFRESH_TOKEN] {
        for (name, value) in [("not UTF-8", vec![0xff, 0xfe, 0x00]), ("empty", vec![])] {
            let mut secret = desired(&cred, &stored());
            secret
                .data
                .as_mut()
                .unwrap()
                .insert(key.into(), ByteString(value));
            assert_eq!(
                inspect(Some(&secret), &cred),
                Existing::Damaged,
                "{key} {name}"
            );
        }
    }
    let mut no_data = desired(&cred, &stored());
    no_data.data = None;
    assert_eq!(inspect(Some(&no_data), &cred), Existing::Damaged);
    let mut no_annotations = desired(&cred, &stored());
    no_annotations.metadata.annotations = None;
    assert_eq!(inspect(Some(&no_annotations), &cred), Existing::Damaged);
}
