//! `kube-emulator`: run the in-memory API server by hand and point kubectl at it.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// In-memory Kubernetes API server for local testing (plain HTTP, no auth).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "KUBE_EMULATOR_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Write a kubeconfig for this server to the given path.
    #[arg(long, env = "KUBE_EMULATOR_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Namespace of the kubeconfig's context.
    #[arg(long, env = "KUBE_EMULATOR_NAMESPACE", default_value = "default")]
    namespace: String,
    /// CustomResourceDefinition YAML file to install at start (repeatable).
    #[arg(long = "crd")]
    crds: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let emulator = kube_emulator::Emulator::start_on(cli.listen).await?;
    for path in &cli.crds {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        for doc in serde_saphyr::from_multiple::<serde_json::Value>(&text)
            .map_err(|e| format!("parsing {}: {e}", path.display()))?
        {
            if !doc.is_null() {
                emulator.install_crd(doc);
            }
        }
    }
    if let Some(path) = &cli.kubeconfig {
        std::fs::write(path, emulator.kubeconfig_yaml(&cli.namespace))?;
        eprintln!("kubeconfig written to {}", path.display());
    }
    eprintln!("kube-emulator serving on {}", emulator.url());
    tokio::signal::ctrl_c().await?;
    emulator.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
