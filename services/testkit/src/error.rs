//! The one error type of the test kit.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`scripts/services {args}` failed ({status}); state and logs kept in {state_dir}:\n{output}")]
    Script { args: String, status: String, state_dir: PathBuf, output: String },
    #[error(
        "`scripts/services {args}` did not finish within {seconds} s; state and logs kept in {state_dir}"
    )]
    ScriptTimeout { args: String, seconds: u64, state_dir: PathBuf },
    #[error("cannot run scripts/services: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("cannot create the stack's state directory: {0}")]
    StateDir(#[source] std::io::Error),
    #[error("no free ports for a private stack after {0} tries")]
    NoPorts(usize),
    #[error("this stack was not launched secure: it has no Kafka users")]
    NotSecure,
    #[error("cannot read Kafka credentials from {}: {source}", file.display())]
    Credentials { file: PathBuf, source: std::io::Error },
    #[error("{node} did not serve within {seconds} s; see {log}")]
    NotServing { node: String, seconds: u64, log: PathBuf },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
