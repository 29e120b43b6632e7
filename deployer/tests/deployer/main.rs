//! The deployer's integration tests, against a real moto server (S3 with conditional writes,
//! ELBv2, EC2) on a loopback port: one moto per test binary, a fresh bucket per test.

mod alb;
mod bad_release;
mod daemon;
mod helpers;
mod lease;
mod publish;
mod verify;
