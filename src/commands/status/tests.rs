use jiff::SignedDuration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::*;
use crate::{
    credential::WetixCredentialStatus,
    fixtures::{CredentialFixture, at, credential},
};

const NOW: &str = "2026-12-16T10:00:00Z";

fn time(text: &str) -> Option<Time> {
    Some(Time(at(text)))
}

fn ready(status: &str, reason: &str, message: &str) -> Condition {
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: Time(at("2026-11-25T10:00:00Z")),
        observed_generation: Some(1),
    }
}

fn healthy() -> WetixCredential {
    let mut c = credential();
    c.status = Some(WetixCredentialStatus {
        observed_generation: Some(1),
        conditions: vec![ready("True", "TokenIssued", "tokens issued")],
        secret_name: Some("ticketing-token".into()),
        access_token_expires_at: time("2027-01-24T10:00:00Z"),
        refresh_token_expires_at: time("2027-11-25T10:00:00Z"),
        last_refresh_time: time("2026-11-25T10:00:00Z"),
        next_refresh_time: time("2027-01-04T08:31:12Z"),
        failed_attempts: 0,
        last_failure_time: None,
        last_refresh_request: String::new(),
        token_fingerprint: Some("3f9a1c0d2b7e4a61".into()),
        unreadable: None,
    });
    c
}

fn failing() -> WetixCredential {
    let mut c = healthy().named("billing");
    c.metadata.namespace = Some("pay".into());
    let status = c.status.as_mut().unwrap();
    status.conditions = vec![ready(
        "False",
        "InvalidClient",
        "the WeTix OAuth server rejected the client credentials (HTTP 401)",
    )];
    status.failed_attempts = 3;
    status.last_failure_time = time("2026-12-16T07:00:00Z");
    c
}

#[test]
fn human_durations_follow_kubectl() {
    let cases = [
        (0, "0s"),
        (-5, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 12 * 60, "3h12m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (5 * 86400 + 4 * 3600, "5d4h"),
        (8 * 86400, "8d"),
        (39 * 86400 + 3600, "39d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400 + 10 * 86400, "9y"),
    ];
    for (seconds, expected) in cases {
        assert_eq!(
            human_duration(SignedDuration::from_secs(seconds)),
            expected,
            "{seconds}s"
        );
    }
}

#[test]
fn relative_times_say_in_or_ago() {
    let now = at(NOW);
    let cases = [
        ("2027-01-24T10:00:00Z", "in 39d"),
        ("2026-12-16T07:00:00Z", "3h ago"),
        ("2026-12-16T10:00:00.500Z", "now"),
        ("2026-12-16T09:59:59.500Z", "now"),
        ("2026-12-16T10:00:30Z", "in 30s"),
        ("2026-12-14T10:00:00Z", "2d ago"),
    ];
    for (t, expected) in cases {
        assert_eq!(relative(at(t), now), expected, "{t}");
    }
}

#[test]
fn a_missing_time_is_a_dash() {
    assert_eq!(when(None, at(NOW)), "-");
    assert_eq!(
        when(time("2027-01-24T10:00:00Z").as_ref(), at(NOW)),
        "2027-01-24T10:00:00Z (in 39d)"
    );
}

#[test]
fn the_table_aligns_columns_and_shows_namespace_only_with_all_namespaces() {
    let now = at(NOW);
    let credentials = [failing(), healthy()];
    let expected = "\
NAMESPACE   NAME        READY   REASON          ACCESS EXPIRES                  REFRESH EXPIRES                  NEXT REFRESH                    SECRET            FAILED   LAST FAILURE
pay         billing     False   InvalidClient   2027-01-24T10:00:00Z (in 39d)   2027-11-25T10:00:00Z (in 344d)   2027-01-04T08:31:12Z (in 18d)   ticketing-token   3        2026-12-16T07:00:00Z (3h ago)
shop        ticketing   True    TokenIssued     2027-01-24T10:00:00Z (in 39d)   2027-11-25T10:00:00Z (in 344d)   2027-01-04T08:31:12Z (in 18d)   ticketing-token   0        -
";
    assert_eq!(table(&credentials, true, now), expected);
    let one = table(&[healthy()], false, now);
    assert!(one.starts_with("NAME        READY"), "{one}");
    assert!(!one.contains("shop"), "{one}");
    assert!(one.lines().all(|l| !l.ends_with(' ')), "{one}");
}

#[test]
fn a_credential_without_status_shows_dashes_and_its_default_secret() {
    let text = table(&[credential()], false, at(NOW));
    let row = text.lines().nth(1).unwrap();
    let cells: Vec<&str> = row
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        [
            "ticketing",
            "-",
            "-",
            "-",
            "-",
            "-",
            "ticketing-token",
            "0",
            "-"
        ]
    );
}

#[test]
fn the_detail_view_has_the_message_and_every_time() {
    let text = detail(&failing(), at(NOW));
    let expected = "\
Name:                   billing
Namespace:              pay
Ready:                  False (InvalidClient)
Message:                the WeTix OAuth server rejected the client credentials (HTTP 401)
Ready since:            2026-11-25T10:00:00Z (21d ago)
Server:                 Sandbox (https://sb-oauth.wetix.my)
Suspended:              no
Managed Secret:         ticketing-token
Access token expires:   2027-01-24T10:00:00Z (in 39d)
Refresh token expires:  2027-11-25T10:00:00Z (in 344d)
Last refresh:           2026-11-25T10:00:00Z (21d ago)
Next refresh:           2027-01-04T08:31:12Z (in 18d)
Failed attempts:        3
Last failure:           2026-12-16T07:00:00Z (3h ago)
Last refresh request:   -
Token fingerprint:      3f9a1c0d2b7e4a61
Observed generation:    1 (current)
";
    assert_eq!(text, expected);
}

#[test]
fn the_detail_view_says_when_the_spec_is_not_yet_observed() {
    let mut c = healthy();
    c.metadata.generation = Some(2);
    c.spec.server.url = Some("https://oauth.example".into());
    let text = detail(&c, at(NOW));
    assert!(
        text.contains("Observed generation:    1 (current is 2)"),
        "{text}"
    );
    assert!(
        text.contains("Server:                 https://oauth.example\n"),
        "{text}"
    );
}

#[test]
fn json_is_one_object_for_a_name_and_a_list_otherwise() {
    let one: serde_json::Value = serde_json::from_str(&json(&[healthy()], true).unwrap()).unwrap();
    assert_eq!(one["namespace"], "shop");
    assert_eq!(one["name"], "ticketing");
    assert_eq!(
        one["status"]["accessTokenExpiresAt"],
        "2027-01-24T10:00:00Z"
    );
    assert_eq!(one["status"]["conditions"][0]["reason"], "TokenIssued");

    let list: serde_json::Value =
        serde_json::from_str(&json(&[failing(), healthy()], false).unwrap()).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "billing");
    assert_eq!(items[0]["status"]["failedAttempts"], 3);

    let empty: serde_json::Value = serde_json::from_str(&json(&[], false).unwrap()).unwrap();
    assert_eq!(empty, serde_json::json!({"items": []}));
    let no_status: serde_json::Value =
        serde_json::from_str(&json(&[credential()], true).unwrap()).unwrap();
    assert!(no_status["status"].is_null());
}

#[test]
fn yaml_has_the_same_shape_as_json() {
    let text = yaml(&[healthy()], false).unwrap();
    let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let from_json: serde_json::Value =
        serde_json::from_str(&json(&[healthy()], false).unwrap()).unwrap();
    assert_eq!(parsed, from_json);
    assert!(text.contains("name: ticketing"), "{text}");
}

#[test]
fn durations_and_relative_times_at_the_ends_of_the_range_read_as_years() {
    let cases = [
        (SignedDuration::MAX, "292471208677y"),
        (SignedDuration::MIN, "0s"),
        (SignedDuration::from_secs(i64::MAX), "292471208677y"),
        (SignedDuration::from_secs(i64::MIN), "0s"),
    ];
    for (d, expected) in cases {
        assert_eq!(human_duration(d), expected, "{d:?}");
    }
    let now = at(NOW);
    // Years of 365 days, as kubectl counts them: 7973 calendar years ahead read as 7978.
    let relative_cases = [
        (Timestamp::MAX, Timestamp::MIN, "in 20012y"),
        (Timestamp::MIN, Timestamp::MAX, "20012y ago"),
        (Timestamp::MAX, Timestamp::MAX, "now"),
        (Timestamp::MIN, Timestamp::MIN, "now"),
        (Timestamp::MAX, now, "in 7978y"),
        (Timestamp::MIN, now, "12033y ago"),
    ];
    for (t, now, expected) in relative_cases {
        assert_eq!(relative(t, now), expected, "{t} from {now}");
    }
}

#[test]
fn a_status_holding_the_extremes_of_every_field_still_prints_in_every_format() {
    let mut c = failing();
    let status = c.status.as_mut().unwrap();
    status.observed_generation = Some(i64::MIN);
    status.failed_attempts = u32::MAX;
    status.access_token_expires_at = Some(Time(Timestamp::MAX));
    status.refresh_token_expires_at = Some(Time(Timestamp::MIN));
    status.last_refresh_time = Some(Time(Timestamp::MIN));
    status.next_refresh_time = Some(Time(Timestamp::MAX));
    status.last_failure_time = Some(Time(Timestamp::MAX));
    status.conditions = vec![ready("", "", "")];
    status.secret_name = Some(String::new());
    status.last_refresh_request = "x".repeat(10_000);
    for now in [Timestamp::MIN, at(NOW), Timestamp::MAX] {
        let row = table(std::slice::from_ref(&c), true, now);
        assert!(row.contains("9999-12-30T22:00:00Z"), "{row}");
        assert!(row.contains("-009999-01-02T01:59:59Z"), "{row}");
        assert!(row.contains(&u32::MAX.to_string()), "{row}");
        let shown = detail(&c, now);
        assert!(shown.contains("9999-12-30T22:00:00Z"), "{shown}");
        json(std::slice::from_ref(&c), true).unwrap();
        yaml(std::slice::from_ref(&c), true).unwrap();
    }
}
