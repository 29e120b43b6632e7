//! End-to-end tests of the read point on the real stack (broker, PostgreSQL, robots, auth, write
//! point, translator, read point), each on its own topics and database: read-your-writes in one
//! call, documents by key and listings as each caller may see them, problems that name the
//! parameter, and outcome look-ups coalesced into one store request. The end-to-end tests run on
//! OpenSearch, the core flow on PostgreSQL too (`owp_testkit::end_to_end!`).

use owp_testkit::{read_path as harness, services as support};

mod api;
mod flows;
mod lookups;
