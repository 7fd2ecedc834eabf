//! A stand-in for the WeTix OAuth server, for the operator's tests, the local sandbox and the
//! end-to-end run on a kind cluster. Never part of the operator binary.
//!
//! It speaks WeTix's two calls exactly (`POST /auth/token`, `POST /auth/refresh`, Basic client
//! credentials, JSON bodies, HS256 JWTs with WeTix's claims, and a refresh token that by default
//! is returned unchanged with its full lifetime), and lets a test steer it: register clients,
//! shorten lifetimes, rotate refresh tokens, arm faults, mint and revoke refresh tokens, move its
//! clock, and read back a log of the calls.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use fake_wetix::{Endpoint, FakeWetix, Fault, Settings};
//! let wetix = FakeWetix::start(Settings::default()).await?;
//! wetix.add_client("shop", "s3cret");
//! wetix.inject(Endpoint::Refresh, Fault::Status(503), 2);
//! // ... point the client under test at wetix.url() ...
//! assert!(wetix.calls().iter().all(|call| call.client_id.as_deref() == Some("shop")));
//! # Ok(()) }
//! ```
//!
//! Modules, in the order a call meets them:

/// Clients, live refresh tokens and the grant rules, as functions of `now`.
mod authority;
/// The call log entry: [`Call`].
mod calls;
/// The server's movable clock: [`Clock`].
mod clock;
/// Faults armed for the next calls: [`Endpoint`], [`Fault`].
mod faults;
/// The HTTP routes, Basic credentials, request bodies and fault answers.
mod http;
/// The HS256 tokens: [`Claims`], signing and verification.
mod jwt;
/// The running server and its handle: [`FakeWetix`].
mod server;
/// Issuance settings: [`Settings`].
mod settings;

pub use calls::Call;
pub use clock::Clock;
pub use faults::{Endpoint, Fault};
pub use jwt::{Claims, TokenType};
pub use server::FakeWetix;
pub use settings::{Settings, WETIX_ACCESS_LIFETIME, WETIX_REFRESH_LIFETIME};
