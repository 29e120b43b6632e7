//! Every binary documents its settings, and a bad configuration file is refused with the file,
//! the entry and the reason — never a panic.

use std::{io::Write, process::Command};

#[test]
fn help_lists_every_setting_with_its_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_owp")).args(["up", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "OWP_KAFKA_BROKERS",
        "OWP_WRITEPOINT_ADDR",
        "OWP_COMMANDS_TOPIC",
        "OWP_PRODUCE_TIMEOUT",
        "OWP_MAX_BODY_BYTES",
        "OWP_BATCH_MAX_LINES",
        "OWP_COMMANDS_PARTITIONS",
        "OWP_COMMANDS_RETENTION",
        "OWP_CONFIG",
        "OWP_LOG_FORMAT",
        "OWP_SHUTDOWN_GRACE",
    ] {
        assert!(help.contains(variable), "owp up --help does not mention {variable}");
    }
}

#[test]
fn a_bad_config_file_names_file_entry_and_reason() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "produce-timeout = \"whenever\"").unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_owp")).args(["up", "--config", &path]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains(&path), "{stderr}");
    assert!(stderr.contains("`produce-timeout`"), "{stderr}");
    assert!(stderr.contains("not a duration"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_config_file_entry_reaches_the_service() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let topic = format!("owp.test.config.{}", uuid::Uuid::new_v4().simple());
    let brokers = std::env::var("OWP_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "kafka-brokers = \"{brokers}\"").unwrap();
    writeln!(file, "writepoint-addr = \"127.0.0.1:{port}\"").unwrap();
    writeln!(file, "commands-topic = \"{topic}\"").unwrap();
    // Only the write point: the whole stack would also start a translator, which finds no
    // translator.toml in the test's directory and stops `owp up`, racing the readiness check.
    let mut owp = Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["up", "--services", "writepoint", "--config", file.path().to_str().unwrap()])
        .env_remove("OWP_KAFKA_BROKERS")
        .env_remove("OWP_WRITEPOINT_ADDR")
        .env_remove("OWP_COMMANDS_TOPIC")
        .env("OWP_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ready = runtime.block_on(async {
        // Ready means: listening where the file said, on the topic the file named (created by
        // owp up), through the brokers the file named.
        let every = std::time::Duration::from_millis(50);
        owp_testkit::eventually(std::time::Duration::from_secs(30), every, async || {
            let response = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await;
            response.is_ok_and(|r| r.status() == 200).then_some(())
        })
        .await
        .is_some()
    });
    owp.kill().unwrap();
    owp.wait().unwrap();
    assert!(ready, "owp up did not serve on the address from the config file");
}
