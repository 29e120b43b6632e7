//! What the translator, the read store and the read point agree on about collections, with
//! nothing that talks to a server: a collection's name, the translator configuration that
//! defines collections and who may read each (`translator.toml`), the signed cursor a listing
//! hands out, and the notification that names the keys a batch wrote.
//!
//! It sits upstream of all three so that none of them depends on another for a shared word, and
//! it is small and pure so that its parsers can be fuzzed (`fuzz/`).

pub mod config;
mod cursor;
mod error;
mod name;
pub mod written;

pub use config::{Config, Entry, EntryConfig, Visibility};
pub use cursor::{Cursor, CursorKey};
pub use error::{Error, Result};
pub use name::CollectionName;
