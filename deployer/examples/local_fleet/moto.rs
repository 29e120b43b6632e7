//! moto's server on a free loopback port, standing in for S3, with a bucket for the fleet.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::config::Credentials;
use deployer::aws::AwsSettings;

pub struct Moto {
    pub endpoint: String,
    pub bucket: String,
    process: Child,
}

impl Moto {
    pub async fn start(work: &Path) -> Result<Self> {
        let venv = std::env::var_os("OWP_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|| {
            std::env::var_os("OWP_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/owp")
                })
                .join("venv-moto")
        });
        let server = venv.join("bin/moto_server");
        if !server.is_file() {
            bail!("moto is not installed at {}: run scripts/install-deployer-deps", server.display());
        }
        let port = free_port()?;
        let log = std::fs::File::create(work.join("logs/moto.log")).context("cannot create the moto log")?;
        let process = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start moto")?;
        let mut moto = Self { endpoint: format!("http://127.0.0.1:{port}"), bucket: String::new(), process };
        wait_port(port, Duration::from_secs(30)).context("moto did not listen")?;
        moto.bucket = format!("owp-fleet-{}", uuid::Uuid::new_v4().simple());
        let config = deployer::aws::loader(&moto.aws())
            .credentials_provider(Credentials::new("test", "test", None, None, "local-fleet"))
            .load()
            .await;
        deployer::store::S3::from_config(&config, &moto.bucket)
            .client()
            .create_bucket()
            .bucket(&moto.bucket)
            .send()
            .await
            .context("cannot create the bucket in moto")?;
        Ok(moto)
    }

    pub fn aws(&self) -> AwsSettings {
        AwsSettings { region: Some("us-east-1".into()), endpoint_url: Some(self.endpoint.clone()) }
    }

    /// The environment every deployer process gets for moto: static credentials, and no
    /// instance metadata service (nothing may leave the loopback interface).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OWP_DEPLOYER_BUCKET", self.bucket.clone()),
            ("OWP_DEPLOYER_ENDPOINT_URL", self.endpoint.clone()),
            ("OWP_DEPLOYER_REGION", "us-east-1".into()),
            ("OWP_DEPLOYER_ENVIRONMENT", "fleet".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn wait_port(port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            bail!("nothing listened on 127.0.0.1:{port} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
