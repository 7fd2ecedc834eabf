#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::*;
use crate::credential::{
    RefreshTokenSecretRef, RolloutRestartTarget, SecretTemplate, WorkloadKind,
};
use crate::fixtures::*;

/// The credential with `edit` applied, checked.
fn check(edit: impl FnOnce(&mut WetixCredential)) -> Result<(), Invalid> {
    let mut cred = credential();
    edit(&mut cred);
    spec(&cred)
}

/// The field the credential with `edit` applied is refused for.
fn refused_field(edit: impl FnOnce(&mut WetixCredential)) -> String {
    match check(edit) {
        Ok(()) => "(accepted)".into(),
        Err(e) => {
            assert_eq!(e.reason(), "InvalidSpec");
            assert!(e.to_string().starts_with(e.field()), "{e}");
            e.field().to_owned()
        }
    }
}

fn template(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Option<SecretTemplate> {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Some(SecretTemplate {
        labels: map(labels),
        annotations: map(annotations),
    })
}

fn target(name: &str) -> RolloutRestartTarget {
    RolloutRestartTarget {
        kind: WorkloadKind::Deployment,
        name: name.into(),
    }
}

const ACCEPTED: &str = "(accepted)";

/// One change to a credential, for tables of cases.
type Edit<'a> = Box<dyn Fn(&mut WetixCredential) + 'a>;

#[test]
fn the_defaults_and_a_spec_using_every_field_pass() {
    assert_eq!(spec(&credential()), Ok(()));
    let everything = check(|c| {
        let s = &mut c.spec;
        s.server.url = Some("https://oauth.example:8443/base".into());
        s.server.token_path = "/v1/oauth2:token".into();
        s.server.refresh_path = "/v1/auth/refresh~x".into();
        s.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
            name: "wetix-bootstrap".into(),
            key: "refresh.token_1".into(),
        });
        s.renew_before = Some("72h".parse().unwrap());
        s.renew_before_percentage = 99;
        s.secret_name = Some("shop.ticketing-token".into());
        s.secret_template = template(
            &[
                ("team", "shop"),
                ("example.com/tier", ""),
                ("wetix.my/team", "a"),
            ],
            &[("Example.com/Note", "any text\nat all: {}")],
        );
        s.rollout_restart_targets = vec![target("checkout"), target("api.v2")];
    });
    assert_eq!(everything, Ok(()));
}

#[test]
fn a_refusal_names_the_field_and_value_as_the_user_wrote_them() {
    let err = check(|c| c.spec.secret_name = Some("Bad_Name".into())).unwrap_err();
    assert_eq!(err.field(), "spec.secretName");
    assert_eq!(
        err.to_string(),
        "spec.secretName \"Bad_Name\" is not a valid Secret name: a DNS-1123 subdomain is \
         lowercase letters, digits, '-' and '.', each dot-separated part starting and ending \
         with a letter or digit"
    );
    assert_eq!(err.reason(), "InvalidSpec");
}

#[test]
fn secret_names_follow_the_kubernetes_dns_subdomain_rule() {
    let long_part = "a".repeat(100);
    let max = format!("{}.b", "a".repeat(251));
    let too_long = format!("{}.b", "a".repeat(252));
    for (name, ok) in [
        ("ticketing-token", true),
        ("a", true),
        ("0", true),
        ("a.b-c.d9", true),
        ("1-2.3", true),
        // Kubernetes bounds only the whole name, not each part.
        (long_part.as_str(), true),
        (max.as_str(), true),
        (too_long.as_str(), false),
        ("", false),
        ("Bad_Name", false),
        ("UPPER", false),
        ("-a", false),
        ("a-", false),
        (".a", false),
        ("a.", false),
        ("a..b", false),
        ("a.-b", false),
        ("a-.b", false),
        ("a_b", false),
        ("a b", false),
        ("a/b", false),
        ("é", false),
        ("a\u{0}", false),
    ] {
        let field = refused_field(|c| c.spec.secret_name = Some(name.into()));
        let want = if ok { ACCEPTED } else { "spec.secretName" };
        assert_eq!(field, want, "{name:?}");
    }
}

#[test]
fn a_long_credential_name_is_refused_where_the_secret_would_be() {
    // "<name>-token" is 254 characters: the Secret could never be written.
    let err = check(|c| c.metadata.name = Some("a".repeat(248))).unwrap_err();
    assert_eq!(err.field(), "spec.secretName");
    assert!(err.message().contains("default"), "{err}");
    assert!(err.message().contains("254 characters"), "{err}");

    // Without a name the default is "-token", no valid name either.
    let err = check(|c| c.metadata.name = None).unwrap_err();
    assert_eq!(err.field(), "spec.secretName");

    // The name is also the wetix.my/credential label's value: at most 63 characters.
    for (length, want) in [(63, ACCEPTED), (64, "metadata.name")] {
        let field = refused_field(|c| {
            c.metadata.name = Some("a".repeat(length));
            c.spec.secret_name = Some("token".into());
        });
        assert_eq!(field, want, "{length}");
    }
}

#[test]
fn referenced_secrets_and_workloads_are_refused_by_their_own_field() {
    let bootstrap = |name: &str, key: &str| {
        Some(RefreshTokenSecretRef {
            name: name.into(),
            key: key.into(),
        })
    };
    let cases: Vec<(&str, Edit)> = vec![
        (
            "spec.clientSecretRef.name",
            Box::new(|c| c.spec.client_secret_ref.name = "Wetix_Client".into()),
        ),
        (
            "spec.refreshTokenSecretRef.name",
            Box::new(move |c| c.spec.refresh_token_secret_ref = bootstrap("a..b", "k")),
        ),
        (
            "spec.rolloutRestartTargets[2].name",
            Box::new(|c| {
                c.spec.rollout_restart_targets =
                    vec![target("a"), target("b"), target("-c"), target("D")];
            }),
        ),
        (
            "spec.rolloutRestartTargets[0].name",
            Box::new(|c| c.spec.rollout_restart_targets = vec![target(&"a".repeat(254))]),
        ),
    ];
    for (want, edit) in cases {
        assert_eq!(refused_field(edit), want);
    }
    let err = check(|c| c.spec.rollout_restart_targets = vec![target("Checkout")]).unwrap_err();
    assert!(
        err.message().contains("not a valid Deployment name"),
        "{err}"
    );
}

#[test]
fn secret_keys_follow_the_kubernetes_data_key_rule() {
    let max = "k".repeat(253);
    let too_long = "k".repeat(254);
    for (key, ok) in [
        ("client_id", true),
        ("a.b-c_D9", true),
        (".hidden", true),
        ("a..b", true),
        (max.as_str(), true),
        (too_long.as_str(), false),
        ("", false),
        (".", false),
        ("..", false),
        ("..x", false),
        ("a/b", false),
        ("a b", false),
        ("a:b", false),
        ("é", false),
    ] {
        let fields: [(&str, Edit); 3] = [
            (
                "spec.clientSecretRef.clientIdKey",
                Box::new(|c| c.spec.client_secret_ref.client_id_key = key.into()),
            ),
            (
                "spec.clientSecretRef.clientSecretKey",
                Box::new(|c| c.spec.client_secret_ref.client_secret_key = key.into()),
            ),
            (
                "spec.refreshTokenSecretRef.key",
                Box::new(|c| {
                    c.spec.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
                        name: "boot".into(),
                        key: key.into(),
                    });
                }),
            ),
        ];
        for (field, edit) in fields {
            let want = if ok { ACCEPTED } else { field };
            assert_eq!(refused_field(edit), want, "{key:?}");
        }
    }
}

#[test]
fn template_labels_follow_the_kubernetes_key_and_value_rules() {
    let name63 = "n".repeat(63);
    let name64 = "n".repeat(64);
    let prefixed63 = format!("example.com/{name63}");
    let prefixed64 = format!("example.com/{name64}");
    let long_prefix = format!("{}/x", "p".repeat(254));
    for (key, ok) in [
        ("team", true),
        ("A", true),
        ("example.com/team", true),
        ("a-b_c.D", true),
        (prefixed63.as_str(), true),
        (name64.as_str(), false),
        (prefixed64.as_str(), false),
        (long_prefix.as_str(), false),
        ("", false),
        ("example.com/", false),
        ("/team", false),
        ("Example.com/team", false),
        ("a/b/c", false),
        ("-team", false),
        ("team-", false),
        ("te am", false),
        ("tëam", false),
    ] {
        let field = refused_field(|c| c.spec.secret_template = template(&[(key, "v")], &[]));
        let want = if ok {
            ACCEPTED.to_owned()
        } else {
            format!("spec.secretTemplate.labels[{}]", shown(key))
        };
        assert_eq!(field, want, "{key:?}");
    }
    let value63 = "v".repeat(63);
    let value64 = "v".repeat(64);
    for (value, ok) in [
        ("", true),
        ("shop", true),
        ("a.b_c-D9", true),
        (value63.as_str(), true),
        (value64.as_str(), false),
        ("-shop", false),
        ("shop.", false),
        ("a b", false),
        ("a/b", false),
        ("ü", false),
    ] {
        let field = refused_field(|c| c.spec.secret_template = template(&[("x/y", value)], &[]));
        let want = if ok {
            ACCEPTED
        } else {
            "spec.secretTemplate.labels[\"x/y\"]"
        };
        assert_eq!(field, want, "{value:?}");
    }
}

#[test]
fn annotation_keys_are_checked_in_lower_case_as_the_api_server_does() {
    for (key, ok) in [
        ("note", true),
        ("Example.COM/Note", true),
        ("example.com/", false),
        ("a b", false),
        ("a/b/c", false),
        ("", false),
    ] {
        let field = refused_field(|c| c.spec.secret_template = template(&[], &[(key, "v")]));
        let want = if ok {
            ACCEPTED.to_owned()
        } else {
            format!("spec.secretTemplate.annotations[{}]", shown(key))
        };
        assert_eq!(field, want, "{key:?}");
    }
}

#[test]
fn the_template_cannot_set_a_key_the_operator_writes() {
    for key in labels::OWN {
        let err = check(|c| c.spec.secret_template = template(&[(key, "x")], &[])).unwrap_err();
        assert_eq!(err.field(), format!("spec.secretTemplate.labels[{key:?}]"));
        assert!(err.message().contains("written by the operator"), "{err}");
    }
    for key in annotations::OWN {
        let err = check(|c| c.spec.secret_template = template(&[], &[(key, "x")])).unwrap_err();
        assert_eq!(
            err.field(),
            format!("spec.secretTemplate.annotations[{key:?}]")
        );
    }
    // Other keys under the operator's domain are the user's to set.
    assert_eq!(
        check(|c| c.spec.secret_template = template(&[("wetix.my/team", "a")], &[])),
        Ok(())
    );
}

#[test]
fn annotations_over_256_kib_with_the_operators_own_are_refused() {
    let own: usize = annotations::OWN
        .iter()
        .map(|k| k.len() + annotations::OWN_VALUE_MAX_BYTES)
        .sum();
    let room = ANNOTATIONS_TOTAL_MAX - own - "big".len();
    let fits = "v".repeat(room);
    assert_eq!(
        check(|c| c.spec.secret_template = template(&[], &[("big", &fits)])),
        Ok(())
    );
    let over = "v".repeat(room + 1);
    let err = check(|c| c.spec.secret_template = template(&[], &[("big", &over)])).unwrap_err();
    assert_eq!(err.field(), "spec.secretTemplate.annotations");
    assert!(err.message().contains("256 KiB"), "{err}");
    // The API server counts bytes, not characters.
    let wide = "é".repeat(room / 2 + 1);
    assert_eq!(
        refused_field(|c| c.spec.secret_template = template(&[], &[("big", &wide)])),
        "spec.secretTemplate.annotations"
    );
}

#[test]
fn renew_before_percentage_must_be_within_the_crd_range() {
    for (value, ok) in [
        (0, false),
        (1, true),
        (33, true),
        (99, true),
        (100, false),
        (255, false),
    ] {
        let result = check(|c| c.spec.renew_before_percentage = value);
        assert_eq!(result.is_ok(), ok, "{value}");
        if let Err(err) = result {
            assert_eq!(
                err.to_string(),
                format!("spec.renewBeforePercentage {value} must be between 1 and 99")
            );
        }
    }
}

#[test]
fn renew_before_must_be_positive_and_at_most_ten_years() {
    for (text, ok) in [
        ("1ns", true),
        ("72h", true),
        ("8760h", true),
        ("87600h", true),
        ("0s", false),
        ("0h0m", false),
        ("87600h1s", false),
        ("1000000h", false),
    ] {
        let result = check(|c| c.spec.renew_before = Some(text.parse().unwrap()));
        assert_eq!(result.is_ok(), ok, "{text}");
        if let Err(err) = result {
            assert_eq!(err.field(), "spec.renewBefore");
            assert!(err.message().starts_with(&format!("{text:?}")), "{err}");
        }
    }
    // The bound leaves every renewal computation in range, from any time jiff can hold.
    let max = jiff::SignedDuration::try_from(RENEW_BEFORE_MAX).unwrap();
    assert!(jiff::Timestamp::MAX.checked_sub(max).is_ok());
    assert!(i64::try_from(RENEW_BEFORE_MAX.as_nanos()).is_ok());
}

#[test]
fn grant_paths_must_be_plain_absolute_paths() {
    for (path, ok) in [
        ("/auth/token", true),
        ("/", true),
        ("/a/b.c/~d_e-f", true),
        ("/v1/oauth2:token", true),
        ("/a%20b%2F", true),
        ("/a//b", true),
        ("/.well-known/x", true),
        ("/a..b/...", true),
        ("/!$&'()*+,;=", true),
        ("", false),
        ("auth/token", false),
        ("//evil.example", false),
        ("//", false),
        ("/\\evil", false),
        ("\\evil", false),
        ("@evil.example/x", false),
        ("/x@evil.example", false),
        (".evil.example/x", false),
        (":8443/x", false),
        ("/x?y=1", false),
        ("/x#y", false),
        ("/a b", false),
        ("/a\tb", false),
        ("/a\nb", false),
        ("/a\u{7f}", false),
        ("/a\u{0}", false),
        ("/é", false),
        ("/a<b>", false),
        ("/a\"b", false),
        ("/{x}|^`[]", false),
        ("/%", false),
        ("/%2", false),
        ("/%zz", false),
        ("/..", false),
        ("/../x", false),
        ("/a/../b", false),
        ("/a/./b", false),
        ("/.", false),
        ("/%2e%2e/", false),
        ("/%2E%2e/x", false),
        ("/.%2E", false),
        ("/a/%2e", false),
    ] {
        let token = refused_field(|c| c.spec.server.token_path = path.into());
        let refresh = refused_field(|c| c.spec.server.refresh_path = path.into());
        let (want_token, want_refresh) = if ok {
            (ACCEPTED, ACCEPTED)
        } else {
            ("spec.server.tokenPath", "spec.server.refreshPath")
        };
        assert_eq!(token, want_token, "{path:?}");
        assert_eq!(refresh, want_refresh, "{path:?}");
    }
}

#[test]
fn a_refused_path_never_shows_what_follows_a_question_mark_hash_or_at() {
    for path in ["/x?token=hunter2", "/x#hunter2", "/x@hunter2", "@hunter2"] {
        let err = check(|c| c.spec.server.token_path = path.into()).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    let err = check(|c| c.spec.server.token_path = "/a b".into()).unwrap_err();
    assert!(err.to_string().contains("\"/a b\""), "{err}");
}

#[test]
fn a_server_url_with_userinfo_query_or_fragment_is_refused_without_showing_it() {
    for url in [
        "https://user:hunter2@oauth.example",
        "https://hunter2@oauth.example",
        "https://oauth.example\\@hunter2",
        "https://oauth.example?hunter2",
        "https://oauth.example/x?k=hunter2",
        "https://oauth.example/#hunter2",
    ] {
        let err = check(|c| c.spec.server.url = Some(url.into())).unwrap_err();
        assert_eq!(err.field(), "spec.server.url", "{url}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!err.to_string().contains("oauth.example"), "{err}");
    }
    assert_eq!(
        check(|c| c.spec.server.url = Some("http://127.0.0.1:8090/base".into())),
        Ok(())
    );
}

#[test]
fn long_or_unprintable_values_are_cut_and_escaped_in_messages() {
    let err = check(|c| c.spec.secret_name = Some("X".repeat(100_000))).unwrap_err();
    assert!(err.to_string().len() < 400, "{}", err.to_string().len());
    assert!(err.message().contains('…'));

    let err = check(|c| c.spec.secret_name = Some("a\nb\u{1b}[31m".into())).unwrap_err();
    assert!(err.message().starts_with(r#""a\nb\u{1b}[31m""#), "{err}");
}

#[test]
fn hostile_text_in_any_field_is_refused_by_that_field_without_panicking() {
    let hostile = [
        " ".to_owned(),
        "\n".into(),
        "a\u{0}b".into(),
        "\u{202e}kcatta".into(),
        // Multi-byte characters across the point where messages cut values.
        "é".repeat(200),
        "x".repeat(100_000),
        "../..".into(),
        "a\\b".into(),
        "a?b#c@d".into(),
    ];
    type SetText = fn(&mut WetixCredential, &str);
    let fields: [(&str, SetText); 12] = [
        ("spec.secretName", |c, v| {
            c.spec.secret_name = Some(v.into())
        }),
        ("spec.clientSecretRef.name", |c, v| {
            c.spec.client_secret_ref.name = v.into()
        }),
        ("spec.clientSecretRef.clientIdKey", |c, v| {
            c.spec.client_secret_ref.client_id_key = v.into()
        }),
        ("spec.clientSecretRef.clientSecretKey", |c, v| {
            c.spec.client_secret_ref.client_secret_key = v.into()
        }),
        ("spec.refreshTokenSecretRef.name", |c, v| {
            c.spec.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
                name: v.into(),
                key: "k".into(),
            })
        }),
        ("spec.refreshTokenSecretRef.key", |c, v| {
            c.spec.refresh_token_secret_ref = Some(RefreshTokenSecretRef {
                name: "boot".into(),
                key: v.into(),
            })
        }),
        ("spec.secretTemplate.labels", |c, v| {
            c.spec.secret_template = template(&[(v, "ok")], &[])
        }),
        ("spec.secretTemplate.labels[\"k\"]", |c, v| {
            c.spec.secret_template = template(&[("k", v)], &[])
        }),
        ("spec.secretTemplate.annotations", |c, v| {
            c.spec.secret_template = template(&[], &[(v, "ok")])
        }),
        ("spec.server.tokenPath", |c, v| {
            c.spec.server.token_path = v.into()
        }),
        ("spec.server.refreshPath", |c, v| {
            c.spec.server.refresh_path = v.into()
        }),
        ("spec.rolloutRestartTargets[0].name", |c, v| {
            c.spec.rollout_restart_targets = vec![target(v)]
        }),
    ];
    for value in &hostile {
        for (field, edit) in fields {
            let got = refused_field(|c| edit(c, value));
            assert!(got.starts_with(field), "{field} {value:?}: {got}");
            let err = check(|c| edit(c, value)).unwrap_err();
            assert!(err.to_string().len() < 700, "{field}: {err}");
        }
    }
}
