use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::{
    cached_credential::CachedCredential,
    credential::{WetixCredential, WetixCredentialStatus},
    fixtures::credential,
};

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
        let mut published = credential();
        published.status = Some(status);
        metrics.watch_credentials(cached(vec![published]));
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

fn cached(credentials: Vec<WetixCredential>) -> Arc<crate::credential_cache::CredentialCache> {
    let cache = Arc::new(crate::credential_cache::CredentialCache::default());
    for c in credentials {
        cache.apply(kube::runtime::watcher::Event::Apply(CachedCredential::new(
            c,
        )));
    }
    cache
}

#[test]
fn each_credential_s_series_come_from_its_cached_status_and_leave_with_it() {
    use crate::fixtures::CredentialFixture;
    let ready = |name: &str, ready: &str, expires: &str| {
        let mut c = credential().named(name);
        c.status = Some(WetixCredentialStatus {
            access_token_expires_at: Some(Time(expires.parse().unwrap())),
            conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: crate::status::READY.into(),
                status: ready.into(),
                reason: "TokenIssued".into(),
                message: String::new(),
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }],
            ..WetixCredentialStatus::default()
        });
        c
    };
    let metrics = Metrics::default();
    let new = credential().named("new");
    metrics.watch_credentials(cached(vec![
        ready("a", "True", "2026-11-25T10:00:00Z"),
        ready("b", "False", "2026-11-25T11:00:00Z"),
        new,
    ]));
    let text = metrics.render();
    let series = |family: &str, name: &str| {
        let start = format!("{family}{{");
        text.lines()
            .filter(|l| l.starts_with(&start) && l.contains(&format!("name=\"{name}\"")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(series("wetix_credential_ready", "a"), [1.0]);
    assert_eq!(series("wetix_credential_ready", "b"), [0.0]);
    assert_eq!(
        series(
            "wetix_credential_access_token_expiration_timestamp_seconds",
            "b"
        ),
        [1_795_604_400.0]
    );
    assert!(series("wetix_credential_ready", "new").is_empty());
    assert!(text.contains("namespace=\"shop\""), "{text}");
    assert!(
        text.contains("# TYPE wetix_credential_ready gauge"),
        "{text}"
    );

    let emptied = Metrics::default();
    emptied.watch_credentials(cached(vec![]));
    assert!(!emptied.render().contains("name=\"a\""));
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

/// A cached credential named `name` whose status gives all four series.
fn published(name: &str) -> WetixCredential {
    use crate::fixtures::CredentialFixture;
    let at = Some(Time("2026-11-25T10:00:00Z".parse().unwrap()));
    let mut c = credential().named(name);
    c.status = Some(WetixCredentialStatus {
        access_token_expires_at: at.clone(),
        refresh_token_expires_at: at.clone(),
        next_refresh_time: at,
        ..WetixCredentialStatus::default()
    });
    c
}

#[test]
fn a_scrape_of_many_credentials_is_sent_in_pieces_that_together_hold_every_series_once() {
    let n = 2 * fleet::SERIES_PER_PIECE + 7;
    let metrics = Metrics::default();
    metrics.watch_credentials(cached(
        (0..n).map(|i| published(&format!("c{i}"))).collect(),
    ));
    let pieces: Vec<String> = metrics.exposition().collect();
    // The operator's own families, three pieces for each of the four families, the end.
    assert_eq!(pieces.len(), 1 + 4 * 3 + 1);
    for piece in &pieces {
        let series = piece.lines().filter(|l| !l.starts_with('#')).count();
        assert!(
            series <= fleet::SERIES_PER_PIECE.max(40),
            "{series} series in a piece"
        );
    }
    let text = pieces.concat();
    assert_eq!(text, metrics.render());
    assert!(text.ends_with("\n# EOF\n") && text.matches("# EOF").count() == 1);
    for family in [
        "wetix_credential_access_token_expiration_timestamp_seconds",
        "wetix_credential_refresh_token_expiration_timestamp_seconds",
        "wetix_credential_next_refresh_timestamp_seconds",
        "wetix_credential_ready",
    ] {
        assert_eq!(text.matches(&format!("# TYPE {family} gauge\n")).count(), 1);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{family}{{")))
            .collect();
        let names: std::collections::BTreeSet<&str> = lines
            .iter()
            .map(|l| {
                l.split("name=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!((lines.len(), names.len()), (n, n), "{family}");
        // One family's series follow each other, after its descriptor.
        let first = text.find(&format!("\n{family}{{")).unwrap();
        let last = text.rfind(&format!("\n{family}{{")).unwrap();
        assert!(!text[first..last].contains("# TYPE"), "{family} is split");
    }
}

#[test]
fn label_values_are_escaped_as_openmetrics_requires() {
    let metrics = Metrics::default();
    metrics.watch_credentials(cached(vec![published("a\"b\\c\nd")]));
    let text = metrics.render();
    assert!(
        text.contains("wetix_credential_ready{namespace=\"shop\",name=\"a\\\"b\\\\c\\nd\"} 0.0\n"),
        "{text}"
    );
}

#[test]
fn finished_reconciles_count_both_results_and_add_no_series() {
    let metrics = Metrics::default();
    assert_eq!(metrics.reconciles_finished(), 0);
    assert!(!metrics.render().contains("result=\"error\""));
    metrics.reconciled(true, Duration::from_millis(3));
    metrics.reconciled(true, Duration::from_millis(3));
    assert_eq!(metrics.reconciles_finished(), 2);
    assert!(
        !metrics.render().contains("result=\"error\""),
        "reading adds nothing"
    );
    metrics.reconciled(false, Duration::from_millis(3));
    assert_eq!(metrics.reconciles_finished(), 3);
}
