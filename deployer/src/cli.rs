//! The `deployer` command line: `run` (the daemon), `status`, `publish`, `package` (build and
//! sign a release tarball), `sign-pointer` (sign a `current` pointer for a later `publish`) and
//! `keygen`. Every flag has an `OWP_DEPLOYER_*` variable and may be
//! set in the `--config` TOML file by its long name. Parsing happens here, once; the commands
//! below get validated values.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use owp_platform::telemetry::{LogFormat, TelemetrySettings};
use owp_release::{PackageSpec, PublicKey, SecretKey, SignedPointer, Version};
use tokio_util::sync::CancellationToken;

use crate::{
    Result,
    daemon::Deployer,
    publish,
    settings::RunSettings,
    status,
    store::{ReleaseStore, StoreSettings},
};

/// Signed OWP releases and locked, health-gated rolling upgrades behind the load balancer.
#[derive(Debug, Parser)]
#[command(name = "deployer", version, about, long_about = None)]
pub struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_DEPLOYER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log output format (JSON lines carry the deploy events).
    #[arg(long, env = "OWP_DEPLOYER_LOG_FORMAT", value_enum, default_value = "auto", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn telemetry(&self) -> TelemetrySettings {
        TelemetrySettings { log_format: self.log_format }
    }

    /// The subcommand's name, for error messages.
    pub fn command_name(&self) -> &'static str {
        match self.command {
            Command::Run(_) => "run",
            Command::Status(_) => "status",
            Command::Publish(_) => "publish",
            Command::Package(_) => "package",
            Command::SignPointer(_) => "sign-pointer",
            Command::Keygen(_) => "keygen",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the deployer daemon on this instance.
    Run(Box<RunSettings>),
    /// Show the current release, the lease holder and every instance's version, phase and health.
    Status(StatusArgs),
    /// Upload a release tarball and make it the current release of the environment (a pointer
    /// signed with the release key).
    Publish(PublishArgs),
    /// Build and sign a release tarball from built binaries, units and default configuration.
    Package(PackageArgs),
    /// Sign a current-release pointer for a release tarball, for a later `publish --pointer`.
    SignPointer(SignPointerArgs),
    /// Create a release signing key pair (minisign format).
    Keygen(KeygenArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub store: StoreSettings,
    /// Print JSON instead of a table.
    #[arg(long, env = "OWP_DEPLOYER_STATUS_JSON")]
    pub json: bool,
    /// Check the current pointer's signature against this minisign public key.
    #[arg(long, env = "OWP_DEPLOYER_PUBLIC_KEY")]
    pub public_key: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub store: StoreSettings,
    /// Release tarball to upload; without it, --release-version must name an uploaded release.
    #[arg(long, env = "OWP_DEPLOYER_TARBALL")]
    pub tarball: Option<PathBuf>,
    /// The version to make current (checked against the tarball's manifest when both are given).
    #[arg(long, env = "OWP_DEPLOYER_RELEASE_VERSION")]
    pub release_version: Option<Version>,
    /// Verify the tarball against this minisign public key before uploading it.
    #[arg(long, env = "OWP_DEPLOYER_PUBLIC_KEY")]
    pub public_key: Option<PathBuf>,
    /// Upload the tarball but leave the current-release pointer where it is (a later `publish
    /// --release-version` or `publish --pointer` deploys it).
    #[arg(long, requires = "tarball", conflicts_with_all = ["secret_key", "pointer", "rollback"])]
    pub upload_only: bool,
    /// Sign the new pointer with this minisign secret key (the release key).
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY", conflicts_with = "pointer")]
    pub secret_key: Option<PathBuf>,
    /// Password of an encrypted secret key.
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY_PASSWORD", hide_env_values = true)]
    pub secret_key_password: Option<String>,
    /// Publish a pointer signed earlier by `deployer sign-pointer` (checked against
    /// --public-key), instead of signing one here.
    #[arg(long, env = "OWP_DEPLOYER_POINTER")]
    pub pointer: Option<PathBuf>,
    /// Sign the pointer as a rollback: the only way to point the fleet at a release older than
    /// the current one.
    #[arg(long, requires = "secret_key")]
    pub rollback: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SignPointerArgs {
    /// The release tarball the pointer names (it must verify under the key's public half).
    #[arg(long, env = "OWP_DEPLOYER_TARBALL")]
    pub tarball: PathBuf,
    /// The environment the pointer is for; deployers of every other environment refuse it.
    #[arg(long, env = "OWP_DEPLOYER_ENVIRONMENT")]
    pub environment: String,
    /// minisign secret key (the release key).
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY")]
    pub secret_key: PathBuf,
    /// Password of an encrypted secret key.
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY_PASSWORD", hide_env_values = true)]
    pub secret_key_password: Option<String>,
    /// Sign it as a rollback.
    #[arg(long)]
    pub rollback: bool,
    /// Where to write the signed pointer.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PackageArgs {
    /// Version of the release (letters, digits, '.', '_', '-').
    #[arg(long, env = "OWP_DEPLOYER_RELEASE_VERSION")]
    pub release_version: Version,
    /// Git commit recorded in the manifest; defaults to HEAD of the work tree (`-dirty` when it
    /// has uncommitted changes).
    #[arg(long, env = "OWP_DEPLOYER_GIT_COMMIT")]
    pub git_commit: Option<String>,
    /// Directory of the built binaries; defaults to $CARGO_TARGET_DIR/release, else target/release.
    #[arg(long, env = "OWP_DEPLOYER_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Binaries to ship (comma-separated).
    #[arg(long, env = "OWP_DEPLOYER_BINS", value_delimiter = ',', default_value = "writepoint,owp,deployer")]
    pub bins: Vec<String>,
    /// systemd unit files to ship.
    #[arg(long, env = "OWP_DEPLOYER_UNITS_DIR", default_value = "dist/systemd")]
    pub units_dir: PathBuf,
    /// Default configuration files to ship under config/.
    #[arg(long, env = "OWP_DEPLOYER_CONFIG_DIR", default_value = "deployer/release-config")]
    pub config_dir: PathBuf,
    /// SQL migrations to ship under migrations/ (an empty value ships none).
    #[arg(long, env = "OWP_DEPLOYER_MIGRATIONS_DIR", default_value = "services/robots/migrations")]
    pub migrations_dir: PathBuf,
    /// minisign secret key that signs the manifest.
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY")]
    pub secret_key: PathBuf,
    /// Password of an encrypted secret key.
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY_PASSWORD", hide_env_values = true)]
    pub secret_key_password: Option<String>,
    /// Where the tarball is written.
    #[arg(long, env = "OWP_DEPLOYER_OUT_DIR", default_value = ".")]
    pub out_dir: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (kept by CI, never on instances).
    #[arg(long, env = "OWP_DEPLOYER_SECRET_KEY")]
    pub secret_key: PathBuf,
    /// Where to write the public key (configured on every deployer).
    #[arg(long, env = "OWP_DEPLOYER_PUBLIC_KEY")]
    pub public_key: PathBuf,
}

/// Runs the parsed command; `run` returns when `shutdown` is cancelled.
pub async fn execute(cli: Cli, shutdown: CancellationToken) -> Result<()> {
    match cli.command {
        Command::Run(settings) => Deployer::build(*settings, shutdown.clone()).await?.run().await,
        Command::Status(args) => {
            let store = ReleaseStore::connect(&args.store).await?;
            let key = args.public_key.as_deref().map(PublicKey::from_file).transpose()?;
            let fleet = status::fleet_status(&store, key.as_ref()).await?;
            if args.json {
                let text =
                    serde_json::to_string_pretty(&fleet).map_err(|err| crate::Error::json("status", err))?;
                println!("{text}");
            } else {
                print!("{}", status::render(&fleet));
            }
            Ok(())
        }
        Command::Publish(args) => {
            let store = ReleaseStore::connect(&args.store).await?;
            let key = args.public_key.as_deref().map(PublicKey::from_file).transpose()?;
            if let (true, Some(tarball)) = (args.upload_only, args.tarball.as_deref()) {
                let (version, uploaded) =
                    publish::upload_only(&store, tarball, args.release_version.clone(), key.as_ref()).await?;
                println!(
                    "release {version} is in s3://{}/{} ({}); the current release did not change",
                    store.s3().bucket(),
                    store.layout().tarball(&version),
                    if uploaded { "uploaded" } else { "already uploaded" }
                );
                return Ok(());
            }
            let secret = args
                .secret_key
                .as_deref()
                .map(|path| SecretKey::from_file(path, args.secret_key_password.clone()))
                .transpose()?;
            let signing = match (&secret, &args.pointer) {
                (Some(key), _) => publish::Signing::Key { key, rollback: args.rollback },
                (None, Some(path)) => {
                    let bytes = std::fs::read(path)
                        .map_err(|err| crate::Error::io(format!("cannot read {}", path.display()), err))?;
                    let pointer = SignedPointer::from_bytes(&bytes)
                        .map_err(|reason| crate::Error::Publish(format!("{}: {reason}", path.display())))?;
                    let public_key = key.as_ref().ok_or_else(|| {
                        crate::Error::Config("--pointer needs --public-key to check it against".into())
                    })?;
                    publish::Signing::Signed { pointer, public_key }
                }
                (None, None) => {
                    return Err(crate::Error::Config(
                        "the current pointer must be signed: give --secret-key (the release key) or --pointer (signed by `deployer sign-pointer`)".into(),
                    ));
                }
            };
            let published = publish::publish(
                &store,
                args.tarball.as_deref(),
                args.release_version,
                key.as_ref(),
                signing,
            )
            .await?;
            if let Some(reason) = &published.replaced_untrusted {
                eprintln!("the pointer replaced did not verify ({reason}); it is overwritten");
            }
            println!(
                "release {} is current in s3://{}/{}: {} ({}{})",
                published.pointer.version,
                store.s3().bucket(),
                store.layout().current(),
                published.pointer.describe(),
                if published.uploaded { "uploaded" } else { "already uploaded" },
                if published.moved { "" } else { "; the pointer was already this one" }
            );
            Ok(())
        }
        Command::SignPointer(args) => {
            let key = SecretKey::from_file(&args.secret_key, args.secret_key_password)?;
            let signed = publish::sign_pointer(&args.tarball, &args.environment, &key, args.rollback).await?;
            let pointer =
                signed.unverified().ok_or_else(|| crate::Error::Publish("unreadable pointer".into()))?;
            std::fs::write(&args.out, signed.to_bytes()?)
                .map_err(|err| crate::Error::io(format!("cannot write {}", args.out.display()), err))?;
            println!("{}: {}", args.out.display(), pointer.describe());
            Ok(())
        }
        Command::Package(args) => {
            let key = SecretKey::from_file(&args.secret_key, args.secret_key_password)?;
            let git_commit = match args.git_commit {
                Some(commit) => commit,
                None => owp_release::git_commit(
                    &std::env::current_dir().map_err(|err| crate::Error::io("no working directory", err))?,
                )?,
            };
            let bin_dir = args.bin_dir.unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                    .join("release")
            });
            let spec = PackageSpec {
                version: args.release_version,
                git_commit,
                bin_dir,
                bins: args.bins,
                units_dir: args.units_dir,
                config_dir: args.config_dir,
                migrations_dir: (!args.migrations_dir.as_os_str().is_empty()).then_some(args.migrations_dir),
                out_dir: args.out_dir,
                strip: true,
            };
            let packaged = tokio::task::spawn_blocking(move || owp_release::package(&spec, &key))
                .await
                .map_err(|err| crate::Error::Package(format!("the packaging task failed: {err}")))??;
            println!(
                "{} ({} files, commit {})",
                packaged.tarball.display(),
                packaged.manifest.files.len(),
                packaged.manifest.git_commit
            );
            Ok(())
        }
        Command::Keygen(args) => {
            let public = owp_release::generate_keypair(&args.secret_key, &args.public_key)?;
            println!(
                "key id {}: secret key {}, public key {}",
                public.key_id(),
                args.secret_key.display(),
                args.public_key.display()
            );
            Ok(())
        }
    }
}
