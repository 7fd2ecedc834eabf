//! `status`: WetixCredentials as a table, one in detail, or their status as JSON/YAML.
//!
//! This file fetches what the arguments name (`fetch`) and prints it ([`run`]). Everything
//! shown is computed by pure functions of the objects and `now`: [`table`] and [`detail`] in
//! `text`, [`json`] and [`yaml`] in `structured`, the times ([`relative`], [`when`]) in
//! `times`.

mod structured;
mod text;
mod times;

use jiff::Timestamp;
use kube::{Api, ResourceExt, api::ListParams};

pub use self::{
    structured::{Entry, json, yaml},
    text::{detail, table},
    times::{human_duration, relative, when},
};
use super::{CommandError, Exit};
use crate::{
    cli::{OutputFormat, StatusArgs},
    credential::WetixCredential,
};

/// Why `status` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to the Kubernetes API")]
    Connect(#[source] kube::Error),
    #[error("WetixCredential {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error("reading WetixCredential {namespace}/{name}")]
    Get {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing WetixCredentials")]
    List(#[source] kube::Error),
    #[error("rendering the status as {format}")]
    Render {
        format: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing to stdout")]
    Output(#[source] std::io::Error),
}

impl CommandError for Error {
    fn exit(&self) -> Exit {
        match self {
            Self::NotFound { .. } => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

/// Fetches the credential(s) the arguments name and prints them.
pub async fn run(args: StatusArgs) -> Result<Exit, Error> {
    let client = super::kube_client().await.map_err(Error::Connect)?;
    let now = args.now.unwrap_or_else(Timestamp::now);
    let namespace = args
        .namespace
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let credentials = fetch(client, &args, &namespace).await?;

    let single = args.name.is_some();
    let text = match args.output {
        // `fetch` returns exactly the one named credential here.
        OutputFormat::Table if single => credentials.iter().map(|c| detail(c, now)).collect(),
        OutputFormat::Table if credentials.is_empty() => {
            if args.all_namespaces {
                eprintln!("No WetixCredentials found.");
            } else {
                eprintln!("No WetixCredentials found in namespace {namespace}.");
            }
            return Ok(Exit::Success);
        }
        OutputFormat::Table => table(&credentials, args.all_namespaces, now),
        OutputFormat::Json => json(&credentials, single).map_err(|e| Error::Render {
            format: "JSON",
            source: e.into(),
        })?,
        OutputFormat::Yaml => yaml(&credentials, single).map_err(|e| Error::Render {
            format: "YAML",
            source: e.into(),
        })?,
    };
    super::print_stdout(&text).map_err(Error::Output)?;
    Ok(Exit::Success)
}

/// The one credential NAME names in `namespace` (not found is an error), or else all of
/// `namespace` or, with `--all-namespaces`, of the cluster, sorted by namespace and name.
async fn fetch(
    client: kube::Client,
    args: &StatusArgs,
    namespace: &str,
) -> Result<Vec<WetixCredential>, Error> {
    match &args.name {
        Some(name) => {
            let api = Api::<WetixCredential>::namespaced(client, namespace);
            let found = api.get_opt(name).await.map_err(|source| Error::Get {
                namespace: namespace.to_owned(),
                name: name.clone(),
                source,
            })?;
            Ok(vec![found.ok_or_else(|| Error::NotFound {
                namespace: namespace.to_owned(),
                name: name.clone(),
            })?])
        }
        None => {
            let api = if args.all_namespaces {
                Api::<WetixCredential>::all(client)
            } else {
                Api::namespaced(client, namespace)
            };
            let mut items = api
                .list(&ListParams::default())
                .await
                .map_err(Error::List)?
                .items;
            items.sort_by_key(|c| (c.namespace(), c.name_any()));
            Ok(items)
        }
    }
}

#[cfg(test)]
mod tests;
