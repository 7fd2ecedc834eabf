//! The manifests under examples/ are what users copy: every WetixCredential in them must
//! parse as the operator reads it, and each workload must use the managed Secret's keys.

use wetix_operator::credential::WetixCredential;

fn documents(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.split("\n---\n")
        .map(|doc| serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn credentials(file: &str) -> Vec<WetixCredential> {
    documents(file)
        .into_iter()
        .filter(|d| d["kind"] == "WetixCredential")
        .map(|d| serde_json::from_value(d).expect("a valid WetixCredential"))
        .collect()
}

#[test]
fn the_sandbox_example_is_a_valid_credential_with_its_client_secret() {
    let creds = credentials("credential.yaml");
    assert_eq!(creds.len(), 1);
    let docs = documents("credential.yaml");
    let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
    assert_eq!(
        secret["metadata"]["name"],
        creds[0].spec.client_secret_ref.name.as_str()
    );
    assert!(secret["stringData"]["client_id"].is_string());
    assert!(secret["stringData"]["client_secret"].is_string());
    assert_eq!(
        creds[0].spec.renew_before.as_ref().unwrap().to_string(),
        "72h"
    );
}

#[test]
fn the_env_var_example_restarts_the_deployment_that_reads_its_secret() {
    let creds = credentials("deployment-env.yaml");
    let target = &creds[0].spec.rollout_restart_targets[0];
    let docs = documents("deployment-env.yaml");
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["metadata"]["name"], target.name.as_str());
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"][0];
    assert_eq!(
        env["valueFrom"]["secretKeyRef"]["name"],
        creds[0].secret_name().as_str()
    );
    assert_eq!(env["valueFrom"]["secretKeyRef"]["key"], "authorization");
}

#[test]
fn the_file_example_mounts_the_default_managed_secret() {
    let docs = documents("deployment-file.yaml");
    let volume = &docs[0]["spec"]["template"]["spec"]["volumes"][0];
    let creds = credentials("credential.yaml");
    assert_eq!(
        volume["secret"]["secretName"],
        creds[0].secret_name().as_str()
    );
}
