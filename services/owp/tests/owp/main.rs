//! Integration tests of the `owp` binary against the real broker: the one-process stack and the
//! operator commands, as an operator runs them.

mod cli;
mod roles;
mod up;
