//! The AWS SDK set-up shared by the S3 store and the ALB: region, optional endpoint (for moto or
//! another S3-compatible store), and an HTTPS client on rustls with ring, so the build needs no
//! C crypto library beyond ring's.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where the AWS APIs are.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsSettings {
    /// AWS region; when unset, the SDK's usual sources (AWS_REGION, the profile, the instance
    /// metadata service) decide.
    #[arg(long, env = "OWP_DEPLOYER_REGION")]
    pub region: Option<String>,
    /// Endpoint for S3 and ELBv2 instead of AWS's own, e.g. a moto server for tests. S3 is then
    /// addressed path-style (`http://host/bucket/key`).
    #[arg(long, env = "OWP_DEPLOYER_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// Loads the SDK configuration: credentials from the default chain (environment, profile,
/// instance role).
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    loader(settings).load().await
}

/// The configuration loader with region, endpoint and HTTPS client set, for callers that add
/// their own credentials (tests against moto).
pub fn loader(settings: &AwsSettings) -> ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader
}
