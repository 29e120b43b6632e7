//! Integration tests of the robots, auth and the projection against the real broker and
//! PostgreSQL: each test runs a whole stack on its own topics and database.

use owp_testkit::services as support;

mod duplicates;
mod flows;
mod openapi;
mod poison;
mod replay;
