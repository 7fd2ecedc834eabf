//! The stand-ins a local stack is made of, started in this process: the Kubernetes API
//! emulator serving the CRDs given, a kube client for it, and the fake WeTix server with one
//! client. The tests, the sandbox and the fleet benchmark start them here, alike.

use std::net::SocketAddr;
use std::time::Duration;

use fake_wetix::{FakeWetix, Settings};
use kube_emulator::Emulator;

/// An emulator on `addr` (port 0: a free one) serving `crds` (apiextensions.k8s.io/v1 JSON).
pub async fn start_emulator(
    addr: SocketAddr,
    crds: impl IntoIterator<Item = serde_json::Value>,
) -> std::io::Result<Emulator> {
    let emulator = Emulator::start_on(addr).await?;
    for crd in crds {
        emulator.install_crd(crd);
    }
    Ok(emulator)
}

/// A client for `emulator`, as a user's kubeconfig would give, defaulting to `namespace`.
/// The rustls provider must be installed (see [`crate::tls`]).
pub fn emulator_client(emulator: &Emulator, namespace: &str) -> Result<kube::Client, kube::Error> {
    let url = emulator
        .url()
        .parse()
        .expect("the emulator's URL is a valid URI");
    let mut config = kube::Config::new(url);
    config.default_namespace = namespace.to_owned();
    kube::Client::try_from(config)
}

/// A client for the server and user a kubeconfig names.
///
/// # Panics
/// If the kubeconfig is not usable: a mistake in the calling test.
pub async fn client_from(kubeconfig_yaml: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config from kubeconfig");
    kube::Client::try_from(config).expect("client")
}

/// Issuance settings with these lifetimes, the rest as WeTix has them.
pub fn lifetimes(access: Duration, refresh: Duration) -> Settings {
    Settings {
        access_lifetime: access,
        refresh_lifetime: refresh,
        ..Settings::default()
    }
}

/// The fake WeTix server on a free loopback port, with the one client registered.
pub async fn start_wetix(
    settings: Settings,
    client_id: &str,
    client_secret: &str,
) -> std::io::Result<FakeWetix> {
    let wetix = FakeWetix::start(settings).await?;
    wetix.add_client(client_id, client_secret);
    Ok(wetix)
}
