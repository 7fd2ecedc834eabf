//! What the operator's tests (`tests/`), the emulator's tests, the local sandbox
//! (`dev/sandbox`) and the fleet benchmark (`benches/fleet/`) share, so that starting a stack
//! is written once. A dev-dependency of the operator crate and of the emulator, a dependency
//! of the sandbox; never part of the operator binary.
//!
//! Modules, in the order a stack is put together:
//!
//! - [`tls`]: the process-wide rustls crypto provider, installed before the first client.
//! - [`dir`]: a temporary directory removed on drop ([`TempDir`]).
//! - [`standins`]: the stand-ins started in this process: the Kubernetes API emulator with the
//!   CRDs given and a client for it, the fake WeTix server with its client.
//! - [`operator`]: the flags every stack starts the operator with, and the command that runs
//!   the operator binary with them.
//! - [`process`]: a child process whose output is kept, stopped with SIGTERM ([`Process`]).
//! - [`net`]: free loopback ports and a plain HTTP GET (for `/metrics`, `/readyz`).
//! - [`metrics`]: a value read out of a Prometheus text exposition. Pure.
//! - [`procfs`]: a process's CPU time and resident memory, read from /proc (the benchmark's).
//! - [`server`]: which Kubernetes API a test runs against, as `WETIX_TEST_CLUSTER` says.
//! - [`control_plane`]: the real control plane that `hack/control-plane.sh` builds and starts.
//!
//! The kit does not depend on the operator crate: the CRD comes in as JSON and the operator
//! binary as a path, so the emulator's tests build without the operator and the sandbox stays
//! free of Go and of any cluster (nothing here starts a control plane unless
//! [`control_plane`] is called).

pub mod control_plane;
pub mod dir;
pub mod metrics;
pub mod net;
pub mod operator;
pub mod process;
pub mod procfs;
pub mod server;
pub mod standins;
pub mod tls;

pub use dir::TempDir;
pub use process::Process;
pub use server::Server;
