use serde_json::json;

use crate::credential::WetixCredential;

fn credential(spec: serde_json::Value, status: Option<serde_json::Value>) -> serde_json::Value {
    let mut object = json!({
        "apiVersion": "wetix.my/v1alpha1",
        "kind": "WetixCredential",
        "metadata": {"name": "ticketing", "namespace": "shop", "uid": "u1"},
        "spec": spec,
    });
    if let Some(status) = status {
        object["status"] = status;
    }
    object
}

fn good_spec() -> serde_json::Value {
    json!({"server": {"environment": "Sandbox"}, "clientSecretRef": {"name": "wetix-client"}})
}

#[test]
fn a_good_object_reads_as_before_and_writes_back_the_same() {
    let object = credential(good_spec(), Some(json!({"failedAttempts": 2})));
    let read: WetixCredential = serde_json::from_value(object).unwrap();
    assert_eq!(read.spec.unreadable, None);
    assert_eq!(read.spec.client_secret_ref.name, "wetix-client");
    let status = read.status.as_ref().unwrap();
    assert_eq!((status.failed_attempts, &status.unreadable), (2, &None));
    let written = serde_json::to_value(&read).unwrap();
    assert!(written["spec"].get("unreadable").is_none());
    assert!(written["status"].get("unreadable").is_none());
    assert_eq!(written["spec"]["renewBeforePercentage"], 33);
}

#[test]
fn a_spec_that_does_not_parse_names_its_field_instead_of_failing() {
    let table = [
        (
            json!({"renewBeforePercentage": 100000}),
            "spec.renewBeforePercentage: ",
        ),
        (
            json!({"renewBefore": "99999999999999999999999h"}),
            "spec.renewBefore: ",
        ),
        (json!({"renewBefore": "soon"}), "spec.renewBefore: "),
        (
            json!({"clientSecretRef": {"name": 7}}),
            "spec.clientSecretRef.name: ",
        ),
        (
            json!({"server": {"environment": "Moon"}}),
            "spec.server.environment: ",
        ),
        (
            json!({"rolloutRestartTargets": [{"kind": "Deployment", "name": "a"}, {"kind": "Pod", "name": "b"}]}),
            "spec.rolloutRestartTargets[1].kind: ",
        ),
        (json!({"suspend": "yes"}), "spec.suspend: "),
    ];
    for (change, field) in table {
        let mut spec = good_spec();
        for (key, value) in change.as_object().unwrap() {
            if key == "server" || key == "clientSecretRef" {
                for (k, v) in value.as_object().unwrap() {
                    spec[key][k] = v.clone();
                }
            } else {
                spec[key] = value.clone();
            }
        }
        let read: WetixCredential = serde_json::from_value(credential(spec, None))
            .unwrap_or_else(|e| panic!("{change}: the list must not fail: {e}"));
        let problem = read.spec.unreadable.unwrap_or_default();
        assert!(problem.starts_with(field), "{change}: {problem}");
    }
    let not_an_object: WetixCredential =
        serde_json::from_value(credential(json!("text"), None)).unwrap();
    assert!(not_an_object.spec.unreadable.unwrap().starts_with("spec: "));
}

#[test]
fn a_status_that_does_not_parse_is_read_as_unreadable() {
    let table = [
        json!({"failedAttempts": 5_000_000_000u64}),
        json!({"failedAttempts": -1}),
        json!({"conditions": "Ready"}),
        json!({"lastFailureTime": "yesterday"}),
        json!(["not", "a", "status"]),
    ];
    for status in table {
        let read: WetixCredential =
            serde_json::from_value(credential(good_spec(), Some(status.clone())))
                .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(read.spec.unreadable, None, "{status}");
        let status_read = read.status.unwrap();
        assert!(
            status_read
                .unreadable
                .as_deref()
                .is_some_and(|p| p.starts_with("status")),
            "{status}"
        );
        assert_eq!(status_read.failed_attempts, 0, "{status}");
    }
}

#[test]
fn a_list_with_one_bad_object_reads_every_object() {
    let list = json!([
        credential(good_spec(), None),
        credential(
            json!({"renewBeforePercentage": 100000, "server": {"environment": "Sandbox"}, "clientSecretRef": {"name": "c"}}),
            Some(json!({"failedAttempts": 1e12}))
        ),
        credential(good_spec(), None),
    ]);
    let read: Vec<WetixCredential> = serde_json::from_value(list).unwrap();
    let unreadable: Vec<bool> = read.iter().map(|c| c.spec.unreadable.is_some()).collect();
    assert_eq!(unreadable, [false, true, false]);
}

#[test]
fn a_problem_is_bounded() {
    let long = "x".repeat(10_000);
    let mut spec = good_spec();
    spec["server"]["environment"] = json!(long);
    let read: WetixCredential = serde_json::from_value(credential(spec, None)).unwrap();
    assert!(read.spec.unreadable.unwrap().chars().count() <= 300);
}
