//! The one TLS crypto provider used by the HTTPS server and every outbound client.
//!
//! `ring` rather than rustls' default `aws-lc-rs`: it covers every cipher suite and key type
//! the providers' APIs and a `--web.config.file` certificate need, and keeps the release
//! binary about 2 MB smaller (docs/performance.md).

use rustls::crypto::CryptoProvider;
use std::sync::Arc;

/// The crypto provider for server and client TLS configurations.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(ring())
}

fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Makes [`crypto_provider`] the process default, which `reqwest` reads when it builds a
/// client. Call before building any `reqwest::Client`; later calls do nothing.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already (by an earlier call, or by an
    // embedding program that chose its own); either way clients can be built.
    let _ = ring().install_default();
}
