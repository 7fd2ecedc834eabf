//! `status -o json|yaml`: each credential's namespace, name and status as stored, in the
//! shape a script reads (one object for a NAME, `{"items": [...]}` otherwise).

use kube::ResourceExt;
use serde::Serialize;

use crate::credential::{WetixCredential, WetixCredentialStatus};

/// What `-o json|yaml` prints per credential: where it is and its status as stored.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub namespace: String,
    pub name: String,
    pub status: Option<&'a WetixCredentialStatus>,
}

/// The list form: `{"items": [...]}`, like a Kubernetes list.
#[derive(Debug, Serialize)]
struct Entries<'a> {
    items: Vec<Entry<'a>>,
}

fn entries(credentials: &[WetixCredential]) -> Vec<Entry<'_>> {
    credentials
        .iter()
        .map(|c| Entry {
            namespace: c.namespace().unwrap_or_default(),
            name: c.name_any(),
            status: c.status.as_ref(),
        })
        .collect()
}

/// JSON: one object for a single NAME, `{"items": [...]}` otherwise.
pub fn json(credentials: &[WetixCredential], single: bool) -> serde_json::Result<String> {
    let mut entries = entries(credentials);
    let text = match (single, entries.pop()) {
        (true, Some(entry)) => serde_json::to_string_pretty(&entry)?,
        (_, last) => {
            entries.extend(last);
            serde_json::to_string_pretty(&Entries { items: entries })?
        }
    };
    Ok(text + "\n")
}

/// YAML: the same shapes as [`json`].
pub fn yaml(
    credentials: &[WetixCredential],
    single: bool,
) -> Result<String, serde_saphyr::SerializeError> {
    let mut entries = entries(credentials);
    match (single, entries.pop()) {
        (true, Some(entry)) => serde_saphyr::to_string(&entry),
        (_, last) => {
            entries.extend(last);
            serde_saphyr::to_string(&Entries { items: entries })
        }
    }
}
