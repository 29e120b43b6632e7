//! The translator on the real stack (broker, PostgreSQL, robots, auth, write point, translator,
//! read point), each test on its own topics and database: hot reload of `translator.toml` (an
//! edit backfilled, a bad edit refused with the file, entry and reason while the old
//! configuration stays), and the documents as a cache of the log (a replay and a rebuild give
//! the same documents; changes around a replayed projection's swap all reach them).

use owp_testkit::read_path as harness;

mod config;
mod rebuild;
