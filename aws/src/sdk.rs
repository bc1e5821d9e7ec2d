//! The AWS SDK's configuration as every binary of ours loads it: region, credentials and
//! endpoint (`AWS_ENDPOINT_URL`) from the environment, over one HTTPS client, rustls with
//! ring's cryptography.
//!
//! Why not the SDK's default client: it is rustls with aws-lc, whose C library was the
//! slowest step of a cold build here (34 s of the 8 minutes, docs/DEVELOPING.md); ring is
//! the other provider the SDK's client supports. The crates are built without their
//! `default-https-client` feature, so a client built without this loader has no HTTP
//! client at all and fails at its first call, never silently on another TLS stack.

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The SDK configuration from the environment (what `aws_config::load_from_env` reads),
/// with [`https_client`].
pub async fn load_from_env() -> aws_config::SdkConfig {
    loader().load().await
}

/// [`load_from_env`]'s loader, for callers that set more (a region, retries) first.
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client())
}

/// The HTTPS client of every SDK client: rustls with ring, the system's root certificates.
pub fn https_client() -> SharedHttpClient {
    Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}
