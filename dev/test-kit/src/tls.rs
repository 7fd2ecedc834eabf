//! The process-wide rustls crypto provider. kube and reqwest are built without one of their
//! own (as the operator is), so a process must install ring before its first TLS client, once.

/// Installs ring as the process's rustls crypto provider; a second call changes nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
