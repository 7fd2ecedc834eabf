//! Values read out of a Prometheus text exposition, for tests that wait on a counter (a
//! reconcile finished, a token request was sent) instead of on time. Pure.

/// The sum of every sample of the metric `name`, whatever its labels; 0 when there is none.
/// `name` is the sample's name as exposed, e.g. `wetix_reconciliations_total`.
pub fn sum(text: &str, name: &str) -> f64 {
    samples(text)
        .filter(|(sample, _, _)| *sample == name)
        .map(|(_, _, value)| value)
        .sum()
}

/// The value of the one sample written exactly as `series`, e.g.
/// `wetix_token_requests_total{grant="refresh_token",outcome="success"}`.
pub fn value(text: &str, series: &str) -> Option<f64> {
    samples(text)
        .find(|(name, labels, _)| {
            series
                .strip_prefix(name)
                .is_some_and(|rest| rest == *labels)
        })
        .map(|(_, _, value)| value)
}

/// (name, labels with braces or "", value) of each sample line.
fn samples(text: &str) -> impl Iterator<Item = (&str, &str, f64)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = match line.rfind('}') {
                Some(end) => (&line[..=end], line[end + 1..].trim()),
                None => line.split_once(' ')?,
            };
            let (name, labels) = match series.find('{') {
                Some(start) => (&series[..start], &series[start..]),
                None => (series, ""),
            };
            // A timestamp may follow the value.
            let value = value.split_whitespace().next()?.parse().ok()?;
            Some((name, labels, value))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP wetix_reconciliations Reconciles of WetixCredentials, by result.
# TYPE wetix_reconciliations counter
wetix_reconciliations_total{result=\"success\"} 3
wetix_reconciliations_total{result=\"error\"} 1
wetix_token_requests_total{grant=\"refresh_token\",outcome=\"success\"} 2
wetix_leader 0
wetix_credential_ready{namespace=\"shop\",name=\"a b}\"} 1 1700000000000
# EOF
";

    #[test]
    fn sums_add_every_labelled_sample_of_one_metric() {
        let cases = [
            ("wetix_reconciliations_total", 4.0),
            ("wetix_token_requests_total", 2.0),
            ("wetix_leader", 0.0),
            ("wetix_credential_ready", 1.0),
            ("wetix_reconciliations", 0.0),
            ("absent", 0.0),
        ];
        for (name, want) in cases {
            assert_eq!(sum(TEXT, name), want, "{name}");
        }
    }

    #[test]
    fn a_value_is_the_sample_written_exactly_so() {
        let cases = [
            ("wetix_reconciliations_total{result=\"error\"}", Some(1.0)),
            (
                "wetix_token_requests_total{grant=\"refresh_token\",outcome=\"success\"}",
                Some(2.0),
            ),
            ("wetix_leader", Some(0.0)),
            (
                "wetix_credential_ready{namespace=\"shop\",name=\"a b}\"}",
                Some(1.0),
            ),
            ("wetix_reconciliations_total", None),
            ("wetix_reconciliations_total{result=\"other\"}", None),
        ];
        for (series, want) in cases {
            assert_eq!(value(TEXT, series), want, "{series}");
        }
    }
}
