//! Integration tests of auth against the real broker and PostgreSQL.

mod abuse;
