//! Layered configuration: built-in defaults < TOML file < environment variables < flags.
//!
//! Every setting is a `clap` flag with an `OWP_*` environment variable, so `--help` documents all
//! of them. A TOML file (`--config FILE` or `OWP_CONFIG`) may set any flag by its long name
//! (`produce-timeout = "5s"`); a file entry only fills settings that neither the environment nor
//! the command line gave. File values go through the same parser as flags, so a bad value is
//! refused with the same rule, and the error names the file, the entry and the reason.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use clap::{ArgMatches, Parser, parser::ValueSource};

use crate::{Error, Result};

/// The flag every binary carries to point at a configuration file.
pub const CONFIG_FLAG: &str = "config";

/// Parses the process arguments into `T`, merging the configuration file if one is named.
/// `--help`, `--version` and flag errors exit the process as clap does.
pub fn parse<T: Parser>() -> Result<T> {
    parse_from(std::env::args_os())
}

/// [`parse`] over explicit arguments, for tests.
pub fn parse_from<T: Parser>(args: impl IntoIterator<Item = impl Into<OsString>>) -> Result<T> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = T::command();
    // Building propagates global flags into subcommands, so file entries can find them there.
    command.build();
    let matches = command.clone().try_get_matches_from(&args).unwrap_or_else(|err| err.exit());
    let Some(file) = find_config(&matches) else {
        return Ok(T::from_arg_matches(&matches).unwrap_or_else(|err| err.exit()));
    };

    let text =
        std::fs::read_to_string(&file).map_err(|source| Error::ConfigRead { file: file.clone(), source })?;
    let table: toml::Table = text.parse().map_err(|err: toml::de::Error| Error::Config {
        file: file.clone(),
        entry: "(syntax)".into(),
        reason: err.to_string(),
    })?;

    let (sub_command, sub_matches) = deepest(&command, &matches);
    let mut merged = args.clone();
    for (entry, value) in &table {
        let config_error =
            |reason: String| Error::Config { file: file.clone(), entry: entry.clone(), reason };
        let arg = sub_command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(entry.as_str()) && arg.get_id() != CONFIG_FLAG)
            .ok_or_else(|| config_error("no such setting (see --help for the list)".into()))?;
        let id = arg.get_id().as_str();
        // Environment and flags win over the file.
        if matches!(sub_matches.value_source(id), Some(ValueSource::EnvVariable | ValueSource::CommandLine)) {
            continue;
        }
        for text in scalar_values(value).map_err(config_error)? {
            // Each file entry is checked alone first, so an error can name it.
            check_value(sub_command, entry, &text).map_err(config_error)?;
            merged.push(format!("--{entry}={text}").into());
        }
    }
    let merged_matches = command.try_get_matches_from(&merged).map_err(|err| Error::Config {
        file: file.clone(),
        entry: "(combined)".into(),
        reason: err.to_string(),
    })?;
    T::from_arg_matches(&merged_matches).map_err(|err| Error::Config {
        file,
        entry: "(combined)".into(),
        reason: err.to_string(),
    })
}

/// A settings group's defaults as its clap attributes declare them (what `--help` shows), the
/// environment left aside: the one declaration behind each settings struct's `Default`, so a
/// test's defaults are the same on every machine.
pub fn defaults<T: clap::Args>() -> T {
    let command = T::augment_args(clap::Command::new("defaults")).mut_args(|arg| arg.env(None::<&str>));
    // Each group's defaults are tested to parse.
    matches_of(command).unwrap_or_else(|err| panic!("built-in defaults must parse: {err}"))
}

/// A settings group's defaults with any of its `OWP_*` variables applied, as a process that
/// embeds a service reads them. A variable that does not parse stops the process, as it would
/// stop the service's own binary.
pub fn from_env<T: clap::Args>() -> T {
    matches_of(T::augment_args(clap::Command::new("from-env")))
        .unwrap_or_else(|err| panic!("OWP_* settings must parse: {err}"))
}

fn matches_of<T: clap::Args>(command: clap::Command) -> std::result::Result<T, clap::Error> {
    let name = command.get_name().to_owned();
    command.try_get_matches_from([name]).and_then(|matches| T::from_arg_matches(&matches))
}

fn find_config(matches: &ArgMatches) -> Option<PathBuf> {
    let mut current = Some(matches);
    let mut found = None;
    while let Some(m) = current {
        if let Ok(Some(path)) = m.try_get_one::<PathBuf>(CONFIG_FLAG) {
            found = Some(path.clone());
        }
        current = m.subcommand().map(|(_, sub)| sub);
    }
    found
}

/// The subcommand that was chosen, and its matches: appended flags are parsed there.
fn deepest<'a>(command: &'a clap::Command, matches: &'a ArgMatches) -> (&'a clap::Command, &'a ArgMatches) {
    match matches.subcommand() {
        Some((name, sub_matches)) => match command.find_subcommand(name) {
            Some(sub_command) => deepest(sub_command, sub_matches),
            None => (command, matches),
        },
        None => (command, matches),
    }
}

fn scalar_values(value: &toml::Value) -> std::result::Result<Vec<String>, String> {
    match value {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Integer(i) => Ok(vec![i.to_string()]),
        toml::Value::Float(f) => Ok(vec![f.to_string()]),
        toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
        toml::Value::Array(items) => {
            items.iter().map(scalar_values).collect::<std::result::Result<Vec<_>, _>>().map(|v| v.concat())
        }
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            Err("expected a string, number, boolean or a list of them".into())
        }
    }
}

/// Runs the flag's own value parser over one value.
fn check_value(command: &clap::Command, long: &str, text: &str) -> std::result::Result<(), String> {
    let Some(arg) = command.get_arguments().find(|arg| arg.get_long() == Some(long)) else {
        return Err("no such setting".into());
    };
    let probe = clap::Command::new("probe")
        .no_binary_name(true)
        .arg(arg.clone().required(false).env(None::<&str>).default_value(None::<&str>).global(false));
    probe
        .try_get_matches_from([format!("--{long}={text}")])
        .map(|_| ())
        .map_err(|err| err.render().to_string().lines().next().unwrap_or_default().replace("error: ", ""))
}

/// Reads a TOML file for settings that are not flags (for example the translator's entries),
/// naming the file in every error.
pub fn read_toml<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T> {
    let text = std::fs::read_to_string(file)
        .map_err(|source| Error::ConfigRead { file: file.to_owned(), source })?;
    toml::from_str(&text).map_err(|err| Error::Config {
        file: file.to_owned(),
        entry: err
            .span()
            .map_or_else(|| "(file)".into(), |span| format!("bytes {}..{}", span.start, span.end)),
        reason: err.message().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::{io::Write, time::Duration};

    use super::*;

    #[derive(Debug, Parser)]
    struct Demo {
        #[arg(long, env = "OWP_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, env = "OWP_TEST_DEMO_TIMEOUT", default_value = "5s", value_parser = crate::duration::parse)]
        produce_timeout: Duration,
        #[arg(long, default_value_t = 10)]
        batch_max_lines: usize,
        #[arg(long, default_value = "a")]
        name: String,
    }

    #[derive(Debug, clap::Args)]
    struct Group {
        #[arg(long, env = "PATH", default_value = "declared")]
        path: String,
        #[arg(long, default_value_t = 7)]
        count: u32,
    }

    #[test]
    fn defaults_are_the_declared_ones_and_from_env_applies_variables() {
        let declared: Group = defaults();
        assert_eq!((declared.path.as_str(), declared.count), ("declared", 7));
        let applied: Group = from_env();
        assert_eq!(applied.path, std::env::var("PATH").unwrap_or_else(|_| "declared".into()));
        assert_eq!(applied.count, 7);
    }

    fn file_with(contents: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        file
    }

    #[test]
    fn the_file_fills_what_flags_did_not_set() {
        let file = file_with("produce-timeout = \"250ms\"\nbatch-max-lines = 3\nname = \"from-file\"\n");
        let path = file.path().to_str().unwrap();
        let demo: Demo = parse_from(["demo", "--config", path, "--name", "from-flag"]).unwrap();
        assert_eq!(demo.produce_timeout, Duration::from_millis(250));
        assert_eq!(demo.batch_max_lines, 3);
        assert_eq!(demo.name, "from-flag");
    }

    #[test]
    fn a_bad_entry_names_file_entry_and_reason() {
        let file = file_with("produce-timeout = \"soon\"\n");
        let path = file.path().to_str().unwrap();
        let err = parse_from::<Demo>(["demo", "--config", path]).unwrap_err().to_string();
        assert!(err.contains(path), "{err}");
        assert!(err.contains("`produce-timeout`"), "{err}");
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn an_unknown_entry_is_refused() {
        let file = file_with("produce-timout = \"1s\"\n");
        let path = file.path().to_str().unwrap();
        let err = parse_from::<Demo>(["demo", "--config", path]).unwrap_err().to_string();
        assert!(err.contains("`produce-timout`: no such setting"), "{err}");
    }

    #[test]
    fn a_syntax_error_is_refused() {
        let file = file_with("produce-timeout = \n");
        let path = file.path().to_str().unwrap();
        let err = parse_from::<Demo>(["demo", "--config", path]).unwrap_err().to_string();
        assert!(err.contains(path) && err.contains("(syntax)"), "{err}");
    }
}
