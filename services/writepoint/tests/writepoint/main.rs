//! Integration tests of the write point against the real broker (`OWP_KAFKA_BROKERS`, default
//! 127.0.0.1:9092) and the real HTTP stack. Every test gets its own topic and port.

mod batch;
mod broker_down;
mod errors;
mod health;
mod helpers;
mod idle_rss;
mod kafka_acl;
mod limits;
mod openapi;
mod round_trip;
mod shutdown;
