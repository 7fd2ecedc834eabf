use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::fixtures::credential;

/// The value of the one sample of `family` in the exposition.
fn sample(text: &str, family: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{family}{{")))
        .unwrap_or_else(|| panic!("no {family} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn times_at_the_ends_of_the_range_are_published_as_exact_unix_seconds() {
    let cases = [
        (Timestamp::MIN, -377_705_023_201.0),
        (Timestamp::MAX, 253_402_207_200.0),
        (Timestamp::UNIX_EPOCH, 0.0),
        ("2026-11-25T10:00:00Z".parse().unwrap(), 1_795_600_800.0),
    ];
    for (t, seconds) in cases {
        assert_eq!(unix_seconds(t), seconds, "{t}");
        let metrics = Metrics::default();
        let status = WetixCredentialStatus {
            access_token_expires_at: Some(Time(t)),
            refresh_token_expires_at: Some(Time(t)),
            next_refresh_time: Some(Time(t)),
            failed_attempts: u32::MAX,
            ..WetixCredentialStatus::default()
        };
        metrics.credential(&credential(), &status);
        let text = metrics.render();
        for family in [
            "wetix_credential_access_token_expiration_timestamp_seconds",
            "wetix_credential_refresh_token_expiration_timestamp_seconds",
            "wetix_credential_next_refresh_timestamp_seconds",
        ] {
            assert_eq!(sample(&text, family), seconds, "{t} {family}");
        }
    }
}

#[test]
fn absurd_durations_are_observed_without_panicking() {
    let metrics = Metrics::default();
    for took in [Duration::ZERO, Duration::from_secs(u64::MAX), Duration::MAX] {
        metrics.token_request("client_credentials", None, took);
        metrics.reconciled(false, took);
    }
    let text = metrics.render();
    assert!(
        text.contains("wetix_token_request_duration_seconds_count{grant=\"client_credentials\"} 3"),
        "{text}"
    );
}
