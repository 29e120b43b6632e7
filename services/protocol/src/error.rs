//! The one error type of the protocol crate.

/// A single reason a document was refused, located by a JSON pointer into the submitted document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Violation {
    /// RFC 6901 pointer to the offending field; `""` means the whole document.
    #[schema(format = "json-pointer", example = "/name")]
    pub pointer: String,
    /// What is wrong, phrased for the person who sent the document.
    pub detail: String,
}

impl Violation {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), detail: detail.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is well-formed JSON but breaks the contract (envelope or item schema).
    #[error("the document breaks its schema: {}", summary(.0))]
    Invalid(Vec<Violation>),
    /// The document needs a live session (its item type's `x-owp-session`) and came without one.
    #[error("a {item_type} document {} needs a session: send `Authorization: Bearer <session_id>`", if *.creates { "that creates" } else { "that updates" })]
    SessionRequired { item_type: String, creates: bool },
    /// The `item_type` names no known schema.
    #[error("unknown item_type {0:?}")]
    UnknownItemType(String),
    /// A schema file shipped with this crate does not compile; this is a bug in the repository.
    #[error("schema file schemas/{file}.json is not a usable JSON Schema: {reason}")]
    BadSchema { file: String, reason: String },
    /// A value from the log or configuration is not a valid topic name, id or item type.
    #[error("{what} {value:?} is not valid: {reason}")]
    InvalidValue { what: &'static str, value: String, reason: String },
}

impl Error {
    /// The violations to report, with a pointer each; empty for errors that are not about a field.
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            Error::Invalid(violations) => violations.clone(),
            Error::UnknownItemType(name) => {
                vec![Violation::new("/item_type", format!("unknown item_type {name:?}"))]
            }
            Error::SessionRequired { .. } | Error::BadSchema { .. } | Error::InvalidValue { .. } => {
                Vec::new()
            }
        }
    }
}

fn summary(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", if v.pointer.is_empty() { "/" } else { &v.pointer }, v.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
