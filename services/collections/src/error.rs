//! The one error type of the collections crate.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid collection name {0:?}: use 1 to 48 of a-z, 0-9 and _, starting with a letter")]
    CollectionName(String),
    #[error("invalid cursor: {0}")]
    Cursor(String),
    /// The configuration cannot be used; names the file, the entry and why.
    #[error("{}: {entry}: {reason}", file.display())]
    Config { file: PathBuf, entry: String, reason: String },
    #[error("cannot read the translator configuration {}: {source}", file.display())]
    ConfigRead { file: PathBuf, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
