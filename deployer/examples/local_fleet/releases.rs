//! The scenarios' two releases: the real `writepoint` and `deployer`, packaged and signed with
//! `deployer package` under a key made for the run, the write point configured with a commands
//! topic of the run's own.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};
use owp_platform::kafka::{KafkaSettings, TopicSpec};

pub struct Releases {
    repo: PathBuf,
    /// Where `deployer package` takes the shipped binaries from.
    bin_dir: PathBuf,
    /// The deployer binary that packages and publishes (the one the releases ship).
    pub deployer: PathBuf,
    work: PathBuf,
    brokers: String,
    topic: String,
    run: String,
}

/// A fresh commands topic for this run, so the fleet's documents stay out of the shared one.
pub async fn create_topic(brokers: &str) -> Result<String> {
    let name = format!("owp.fleet.{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let topic = owp_protocol::TopicName::parse(name.clone()).context("topic name")?;
    owp_platform::kafka::ensure_topics(&KafkaSettings::new(brokers), &[TopicSpec::new(topic, 3)])
        .await
        .with_context(|| {
            format!(
                "cannot create topic {name} on {brokers}: is the broker running (scripts/services start)?"
            )
        })?;
    Ok(name)
}

impl Releases {
    pub fn prepare(
        repo: &Path,
        binaries: &crate::Binaries,
        work: &Path,
        brokers: &str,
        topic: &str,
    ) -> Result<Self> {
        // The two binaries come from two target directories; the release takes both from here.
        let bin_dir = work.join("bin");
        std::fs::create_dir_all(&bin_dir)?;
        let deployer = bin_dir.join("deployer");
        std::fs::copy(&binaries.deployer, &deployer).context("cannot copy the deployer binary")?;
        std::fs::copy(&binaries.writepoint, bin_dir.join("writepoint"))
            .context("cannot copy the writepoint binary")?;
        let status = Command::new(&deployer)
            .args(["keygen", "--secret-key"])
            .arg(work.join("release.key"))
            .arg("--public-key")
            .arg(work.join("release.pub"))
            .stdout(Stdio::null())
            .status()
            .context("cannot run deployer keygen")?;
        if !status.success() {
            bail!("deployer keygen failed");
        }
        Ok(Self {
            repo: repo.to_owned(),
            bin_dir,
            deployer,
            work: work.to_owned(),
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            run: time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
        })
    }

    pub fn public_key(&self) -> PathBuf {
        self.work.join("release.pub")
    }

    pub fn secret_key(&self) -> PathBuf {
        self.work.join("release.key")
    }

    pub fn tarball(&self, version: &str) -> PathBuf {
        self.work.join("dist").join(format!("owp-{version}.tar.gz"))
    }

    /// Packages a signed release of the real binaries with `deployer package`. A bad release's
    /// configuration points the write point at a closed port, so it never becomes ready.
    pub fn package(&self, tag: &str, bad: bool) -> Result<String> {
        let version = format!("{}-{tag}{}", self.run, if bad { "-bad" } else { "" });
        let config_dir = self.work.join(format!("config-{version}"));
        std::fs::create_dir_all(&config_dir)?;
        let defaults = std::fs::read_to_string(self.repo.join("deployer/release-config/writepoint.toml"))?;
        let brokers = if bad { "127.0.0.1:9" } else { self.brokers.as_str() };
        std::fs::write(
            config_dir.join("writepoint.toml"),
            format!("{defaults}kafka-brokers = \"{brokers}\"\ncommands-topic = \"{}\"\n", self.topic),
        )?;
        let output = Command::new(&self.deployer)
            .arg("package")
            .args(["--release-version", &version, "--bins", "writepoint,deployer"])
            .arg("--bin-dir")
            .arg(&self.bin_dir)
            .arg("--units-dir")
            .arg(self.repo.join("dist/systemd"))
            .arg("--config-dir")
            .arg(&config_dir)
            .arg("--secret-key")
            .arg(self.secret_key())
            .arg("--out-dir")
            .arg(self.work.join("dist"))
            .current_dir(&self.repo)
            .output()
            .context("cannot run deployer package")?;
        if !output.status.success() {
            bail!("deployer package failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        eprintln!("packaged {}", String::from_utf8_lossy(&output.stdout).trim());
        Ok(version)
    }
}
