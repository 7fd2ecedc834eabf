//! A stored WetixCredential, as a list or watch hands it over: any bytes read or are refused,
//! never a panic; with well-formed metadata, any spec and status read (a field that does not
//! parse marks that part unreadable instead), and what reads is validated, named and turned
//! into a renewal policy without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wetix_operator::{credential::WetixCredential, validate};

fn touch(credential: &WetixCredential) {
    let _ = credential.secret_name();
    let _ = credential.ready_condition();
    if credential.spec.unreadable.is_none() {
        let _ = credential.spec.renew_policy();
        let _ = validate::spec(credential);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(credential) = serde_json::from_slice::<WetixCredential>(data) {
        touch(&credential);
    }
    // Whatever spec and status the input carries, under metadata the API server would send.
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut stored = json!({
        "apiVersion": "wetix.my/v1alpha1",
        "kind": "WetixCredential",
        "metadata": {"name": "ticketing", "namespace": "shop", "uid": "0b5e3c1e"},
        "spec": object.get("spec").cloned().unwrap_or(Value::Null),
    });
    if let Some(status) = object.get("status") {
        stored["status"] = status.clone();
    }
    match serde_json::from_value::<WetixCredential>(stored) {
        Ok(credential) => touch(&credential),
        Err(error) => panic!("well-formed metadata, yet the object failed: {error}"),
    }
});
