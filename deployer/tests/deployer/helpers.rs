//! Shared by the tests: the moto server, AWS clients with test credentials, a fresh bucket per
//! test, key pairs, small signed releases and tarball surgery for the tampering tests.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use aws_sdk_s3::config::Credentials;
use deployer::{
    aws::AwsSettings,
    publish::Signing,
    store::{Condition, Layout, ReleaseStore, S3},
};
use owp_release::{PackageSpec, Packaged, Pointer, PublicKey, SecretKey, SignedPointer, Version};

pub struct Moto {
    pub endpoint: String,
    _process: Mutex<Child>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The moto server shared by every test of this binary.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let venv = std::env::var_os("OWP_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|| {
            let cache = std::env::var_os("OWP_CACHE").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/owp")
            });
            cache.join("venv-moto")
        });
        let server = venv.join("bin/moto_server");
        assert!(
            server.is_file(),
            "moto is not installed at {}: run scripts/install-deployer-deps",
            server.display()
        );
        let port = free_port();
        // The shell keeps moto only as long as this test binary holds the pipe open: when the
        // binary exits, `read` sees end of file and the shell kills moto, so no server is left.
        let process = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; read -r _ || true; kill "$pid""#)
            .arg(&server)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .spawn()
            .expect("cannot start moto");
        wait_for_port(port, Duration::from_secs(30));
        Moto { endpoint: format!("http://127.0.0.1:{port}"), _process: Mutex::new(process) }
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listened on 127.0.0.1:{port} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn aws_settings() -> AwsSettings {
    AwsSettings { region: Some("us-east-1".into()), endpoint_url: Some(moto().endpoint.clone()) }
}

/// SDK configuration for moto, with static test credentials (so nothing asks the instance
/// metadata service).
pub async fn sdk_config() -> aws_config::SdkConfig {
    deployer::aws::loader(&aws_settings())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// A new bucket with a unique name.
pub async fn bucket() -> S3 {
    let name = format!("owp-test-{}", uuid::Uuid::new_v4().simple());
    let s3 = S3::from_config(&sdk_config().await, &name);
    s3.client().create_bucket().bucket(&name).send().await.expect("cannot create the test bucket");
    s3
}

pub fn store(s3: S3) -> ReleaseStore {
    ReleaseStore::new(s3, Layout::new("releases/", "test").unwrap())
}

/// A key pair in `dir`, named `name`.
pub fn keypair(dir: &Path, name: &str) -> (SecretKey, PublicKey, PathBuf) {
    let (secret, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    let public_key = owp_release::generate_keypair(&secret, &public).unwrap();
    (SecretKey::from_file(&secret, None).unwrap(), public_key, public)
}

/// A release whose one "binary", `svc`, is the shell script `script`; with the repository's real
/// systemd units and default configuration.
pub fn package(dir: &Path, version: &str, script: &str, key: &SecretKey) -> Packaged {
    let work = dir.join(format!("build-{version}"));
    let bin_dir = work.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::write(bin_dir.join("svc"), format!("#!/bin/sh\n{script}\n")).unwrap();
    let migrations = work.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("0001_test.sql"), "CREATE TABLE test (id uuid PRIMARY KEY);\n").unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let spec = PackageSpec {
        version: version.parse().unwrap(),
        git_commit: "0123456789abcdef".into(),
        bin_dir,
        bins: vec!["svc".into()],
        units_dir: repo.join("dist/systemd"),
        config_dir: repo.join("deployer/release-config"),
        migrations_dir: Some(migrations),
        out_dir: dir.join("out"),
        // Scripts are not ELF files; the real binaries go through `strip` in the fleet example.
        strip: false,
    };
    owp_release::package(&spec, key).unwrap()
}

pub fn version(text: &str) -> Version {
    text.parse().unwrap()
}

/// Copies a release tarball entry by entry; `edit` may change an entry's bytes, and `extra`
/// entries are appended.
pub fn rewrite_tarball(
    source: &Path,
    target: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(source).unwrap()));
    let out =
        flate2::write::GzEncoder::new(std::fs::File::create(target).unwrap(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(out);
    fn append<W: Write>(builder: &mut tar::Builder<W>, name: &str, bytes: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, bytes).unwrap();
    }
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if let Some(bytes) = edit(&name, bytes) {
            append(&mut builder, &name, &bytes);
        }
    }
    for (name, bytes) in extra {
        append(&mut builder, name, bytes);
    }
    builder.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// Signing for `publish`: a pointer signed with `key` there, not a rollback.
pub fn signed_by(key: &SecretKey) -> Signing<'_> {
    Signing::Key { key, rollback: false }
}

/// Signs a pointer to the uploaded release `version` and writes it straight to S3, past every
/// check `publish` makes: what someone holding the key, or replaying bytes, could put there.
/// Returns the object's bytes.
pub async fn point(
    store: &ReleaseStore,
    key: &SecretKey,
    environment: &str,
    version: &str,
    release_created_at: &str,
    rollback: bool,
) -> Vec<u8> {
    let sha256 = store.release_sha256(&self::version(version)).await.unwrap().expect("an uploaded release");
    let pointer =
        Pointer::new(environment, self::version(version), sha256, release_created_at.into(), rollback, None);
    let signed = SignedPointer::sign(&pointer, key).unwrap();
    store.set_current(&signed, Condition::Always).await.unwrap();
    signed.to_bytes().unwrap()
}

/// Writes `bytes` as the `current` object, whatever they are.
pub async fn put_current(store: &ReleaseStore, bytes: Vec<u8>) {
    store.s3().put(&store.layout().current(), bytes, Condition::Always).await.unwrap();
}

/// The current pointer, verified under `key`.
pub async fn current_pointer(store: &ReleaseStore, key: &PublicKey) -> Option<Pointer> {
    let object = store.current().await.unwrap()?;
    Some(SignedPointer::from_bytes(&object.bytes).unwrap().verify(key).unwrap())
}
