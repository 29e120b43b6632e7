//! The release store: where releases, the "current release" pointer, bad-release markers,
//! the fleet lease and the instances' status reports live, and what each record looks like.
//!
//! Key layout (the IAM policy in `terraform/modules/app` grants exactly these prefixes):
//!
//! | key | written by |
//! |---|---|
//! | `<releases>/<version>/owp-<version>.tar.gz` | `deployer publish` (create-only: releases are immutable) |
//! | `<releases>/current` | `deployer publish`: a pointer signed with the release key (`owp_release::SignedPointer`) |
//! | `leases/<environment>/fleet.json` | the deployer holding the lease (see `lease`) |
//! | `leases/<environment>/bad/<version>.json` | a deployer that rolled the release back |
//! | `leases/<environment>/instances/<instance>.json` | each deployer, about itself |

pub mod s3;

use owp_release::{SignedPointer, Version};
use serde::{Deserialize, Serialize};

pub use s3::{Condition, Object, S3, Written};

use crate::{Error, Result, aws::AwsSettings};

/// Where in S3 the deployer reads and writes.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreSettings {
    /// S3 bucket holding releases, the current-release pointer and the fleet lease (required;
    /// optional here only so that the `--config` file can give it).
    #[arg(long, env = "OWP_DEPLOYER_BUCKET")]
    pub bucket: Option<String>,
    /// Key prefix of the releases and the `current` pointer.
    #[arg(long, env = "OWP_DEPLOYER_RELEASES_PREFIX", default_value = "releases/")]
    pub releases_prefix: String,
    /// Environment name; the lease, bad-release markers and status reports live under
    /// `leases/<environment>/`.
    #[arg(long, env = "OWP_DEPLOYER_ENVIRONMENT", default_value = "dev")]
    pub environment: String,
    #[command(flatten)]
    pub aws: AwsSettings,
}

impl StoreSettings {
    pub fn bucket(&self) -> Result<&str> {
        self.bucket.as_deref().filter(|bucket| !bucket.is_empty()).ok_or_else(|| {
            Error::Config(
                "no bucket: set --bucket, OWP_DEPLOYER_BUCKET or `bucket` in the --config file".into(),
            )
        })
    }
}

/// The key layout, separate from the client so it can be unit-tested.
#[derive(Debug, Clone)]
pub struct Layout {
    releases: String,
    state: String,
    environment: String,
}

impl Layout {
    pub fn new(releases_prefix: &str, environment: &str) -> Result<Self> {
        if environment.is_empty()
            || !environment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config(format!(
                "environment {environment:?} must be letters, digits, '-' or '_' (it is an S3 key segment)"
            )));
        }
        let mut releases = releases_prefix.to_owned();
        if !releases.is_empty() && !releases.ends_with('/') {
            releases.push('/');
        }
        Ok(Self { releases, state: format!("leases/{environment}/"), environment: environment.to_owned() })
    }

    /// The environment: a signed pointer names the one it is for.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    pub fn tarball(&self, version: &Version) -> String {
        format!("{}{version}/{}", self.releases, owp_release::tarball_name(version))
    }

    pub fn current(&self) -> String {
        format!("{}current", self.releases)
    }

    pub fn lease(&self) -> String {
        format!("{}fleet.json", self.state)
    }

    pub fn bad(&self, version: &Version) -> String {
        format!("{}bad/{version}.json", self.state)
    }

    pub fn instances(&self) -> String {
        format!("{}instances/", self.state)
    }

    pub fn instance(&self, instance: &str) -> String {
        format!("{}{instance}.json", self.instances())
    }
}

/// The `current` object as read, with the ETag a conditional replacement names. Its bytes are
/// untrusted until `owp_release::judge` or `SignedPointer::verify` says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentObject {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// Written when a release failed on an instance and was rolled back; deployers never try a
/// release that has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadMarker {
    pub version: Version,
    pub reason: String,
    pub instance: String,
    pub deploy_id: String,
    pub marked_at: String,
}

/// What a deployer reports about its instance, for `deployer status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceReport {
    pub instance: String,
    /// The release the instance runs (its `current` symlink), if any.
    pub version: Option<String>,
    /// The deploy phase, `idle` between deploys.
    pub phase: String,
    /// The release being deployed, during a deploy.
    pub target: Option<String>,
    /// The load balancer's view of this instance.
    pub target_health: String,
    pub deploy_id: Option<String>,
    /// The last thing an operator should know: a refused release, a rollback and why.
    #[serde(default)]
    pub note: Option<String>,
    pub updated_at: String,
}

/// Releases, pointer, markers and reports in one bucket.
#[derive(Debug, Clone)]
pub struct ReleaseStore {
    s3: S3,
    layout: Layout,
}

impl ReleaseStore {
    pub async fn connect(settings: &StoreSettings) -> Result<Self> {
        // Settings first: loading the AWS configuration may ask the instance metadata service.
        settings.bucket()?;
        Layout::new(&settings.releases_prefix, &settings.environment)?;
        let config = crate::aws::sdk_config(&settings.aws).await;
        Self::from_config(settings, &config)
    }

    /// The store from a loaded AWS configuration.
    pub fn from_config(settings: &StoreSettings, config: &aws_config::SdkConfig) -> Result<Self> {
        let layout = Layout::new(&settings.releases_prefix, &settings.environment)?;
        Ok(Self { s3: S3::from_config(config, settings.bucket()?), layout })
    }

    pub fn new(s3: S3, layout: Layout) -> Self {
        Self { s3, layout }
    }

    pub fn s3(&self) -> &S3 {
        &self.s3
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The `current` pointer object, if there is one, unverified.
    pub async fn current(&self) -> Result<Option<CurrentObject>> {
        Ok(self
            .s3
            .get(&self.layout.current())
            .await?
            .map(|object| CurrentObject { bytes: object.body, etag: object.etag }))
    }

    /// Replaces the pointer; `condition` makes it a compare-and-swap against what was read.
    pub async fn set_current(&self, pointer: &SignedPointer, condition: Condition) -> Result<Written> {
        self.s3.put(&self.layout.current(), pointer.to_bytes()?, condition).await
    }

    pub async fn has_release(&self, version: &Version) -> Result<bool> {
        self.s3.exists(&self.layout.tarball(version)).await
    }

    /// The sha256 recorded with an uploaded tarball, if the release exists.
    pub async fn release_sha256(&self, version: &Version) -> Result<Option<String>> {
        Ok(self
            .s3
            .metadata(&self.layout.tarball(version))
            .await?
            .map(|metadata| metadata.get("sha256").cloned().unwrap_or_default()))
    }

    /// Downloads a release tarball to `path`.
    pub async fn download(&self, version: &Version, path: &std::path::Path) -> Result<()> {
        let key = self.layout.tarball(version);
        if self.s3.download(&key, path).await? {
            Ok(())
        } else {
            Err(Error::S3 {
                operation: "GET",
                bucket: self.s3.bucket().to_owned(),
                key,
                message: "the release tarball does not exist (published without uploading?)".into(),
            })
        }
    }

    pub async fn bad_marker(&self, version: &Version) -> Result<Option<BadMarker>> {
        self.get_json(&self.layout.bad(version)).await
    }

    /// Marks a release bad. The first marker wins; a second is not an error.
    pub async fn mark_bad(&self, marker: &BadMarker) -> Result<()> {
        self.put_json(&self.layout.bad(&marker.version), marker, Condition::IfAbsent).await.map(|_| ())
    }

    pub async fn put_report(&self, report: &InstanceReport) -> Result<()> {
        self.put_json(&self.layout.instance(&report.instance), report, Condition::Always).await.map(|_| ())
    }

    pub async fn reports(&self) -> Result<Vec<InstanceReport>> {
        let mut reports = Vec::new();
        for key in self.s3.list(&self.layout.instances()).await? {
            if let Some(report) = self.get_json::<InstanceReport>(&key).await? {
                reports.push(report);
            }
        }
        reports.sort_by(|a, b| a.instance.cmp(&b.instance));
        Ok(reports)
    }

    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.s3.get(key).await? {
            Some(object) => serde_json::from_slice(&object.body).map(Some).map_err(|err| {
                Error::json(format!("s3://{}/{key} is not a valid record", self.s3.bucket()), err)
            }),
            None => Ok(None),
        }
    }

    async fn put_json<T: Serialize>(&self, key: &str, value: &T, condition: Condition) -> Result<Written> {
        let body = serde_json::to_vec(value).map_err(|err| Error::json(format!("record for {key}"), err))?;
        self.s3.put(key, body, condition).await
    }
}

/// Now, as RFC 3339 (UTC), for records people read.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let layout = Layout::new("releases", "staging").unwrap();
        let v: Version = "v7".parse().unwrap();
        assert_eq!(layout.tarball(&v), "releases/v7/owp-v7.tar.gz");
        assert_eq!(layout.current(), "releases/current");
        assert_eq!(layout.lease(), "leases/staging/fleet.json");
        assert_eq!(layout.bad(&v), "leases/staging/bad/v7.json");
        assert_eq!(layout.instance("i-1"), "leases/staging/instances/i-1.json");
        assert!(Layout::new("releases/", "../prod").is_err());
    }
}
