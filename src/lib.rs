//! wetix-operator keeps WeTix OAuth tokens fresh in Kubernetes Secrets.
//!
//! Read the modules in the order the data flows:
//!
//! - [`credential`]: the `WetixCredential` resource, its spec and status.
//! - [`duration`]: the Go-style duration of `spec.renewBefore`.
//! - [`sensitive`]: the wrapper that keeps tokens and client secrets out of every log.
//! - [`tokens`]: the token pair and its lifetimes, as plain data.

pub mod cli;
pub mod credential;
pub mod duration;
pub mod sensitive;
pub mod tokens;
