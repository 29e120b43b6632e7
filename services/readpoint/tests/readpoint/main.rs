//! End-to-end tests of the read path on the real stack (broker, PostgreSQL, robots, auth, write
//! point, translator, read point), each on its own topics and database: read-your-writes in one
//! call, collections kept up to date, hot reload of the translator configuration, and a replay
//! followed by a translator rebuild giving the same documents. The end-to-end tests run on
//! OpenSearch, the core flow and the rebuild on PostgreSQL too (`end_to_end!` in the harness).

use owp_testkit::services as support;

#[macro_use]
mod harness;

mod api;
mod config;
mod flows;
mod lookups;
mod rebuild;
