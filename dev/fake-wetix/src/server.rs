//! The running server and the handle tests steer it with.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::authority::{Authority, ClientSecret};
use crate::clock::Clock;
use crate::faults::FaultQueue;
use crate::jwt::{self, Claims};
use crate::{Call, Endpoint, Fault, Settings, http};

/// State shared by the handle and the request handlers. No lock is held across an `.await`.
pub(crate) struct Shared {
    pub(crate) authority: Mutex<Authority>,
    pub(crate) faults: Mutex<FaultQueue>,
    pub(crate) calls: Mutex<Vec<Call>>,
    /// Calls a [`Fault::Delay`] holds now.
    pub(crate) delayed: AtomicUsize,
    pub(crate) clock: Clock,
}

/// Locks `mutex`, carrying on after a panic elsewhere: a failed test must not hide behind
/// poisoned locks in the next assertion.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running stand-in WeTix OAuth server. Stops when dropped.
pub struct FakeWetix {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeWetix {
    /// Starts a server on a free loopback port. Must be called inside a Tokio runtime.
    pub async fn start(settings: Settings) -> std::io::Result<FakeWetix> {
        FakeWetix::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), settings).await
    }

    /// Starts a server on `addr`. Must be called inside a Tokio runtime.
    pub async fn start_on(addr: SocketAddr, settings: Settings) -> std::io::Result<FakeWetix> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            authority: Mutex::new(Authority::new(settings, fresh_signing_key())),
            faults: Mutex::new(FaultQueue::default()),
            calls: Mutex::new(Vec::new()),
            delayed: AtomicUsize::new(0),
            clock: Clock::default(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(Arc::clone(&shared));
        tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender stops the server as well.
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "fake WeTix server stopped");
            }
        });
        Ok(FakeWetix {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers a client, or replaces its secret; its refresh tokens stay valid.
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        lock(&self.shared.authority).add_client(client_id, ClientSecret::new(client_secret));
    }

    /// Forgets a client's credentials: its calls get 401 `invalid_client`. Its refresh tokens
    /// stay stored, so adding the client again (with a rotated secret, say) keeps them usable;
    /// [`FakeWetix::revoke_refresh_tokens`] drops them.
    pub fn remove_client(&self, client_id: &str) {
        lock(&self.shared.authority).remove_client(client_id);
    }

    /// Lifetimes for tokens issued from now on (whole seconds). Tokens already issued keep theirs.
    pub fn set_lifetimes(&self, access: Duration, refresh: Duration) {
        let mut authority = lock(&self.shared.authority);
        let settings = authority.settings_mut();
        settings.access_lifetime = access;
        settings.refresh_lifetime = refresh;
    }

    /// Turns refresh-token rotation on or off for later refresh calls.
    pub fn set_rotation(&self, rotate: bool) {
        lock(&self.shared.authority)
            .settings_mut()
            .rotate_refresh_tokens = rotate;
    }

    /// Arms `fault` for the next `times` calls to `endpoint`. Faults armed earlier apply first.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        lock(&self.shared.faults).arm(endpoint, fault, times);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The server's clock, the system clock by default. Moving it changes when tokens issued
    /// from then on expire, whether stored refresh tokens are still accepted, and the time of
    /// logged calls.
    pub fn clock(&self) -> Clock {
        self.shared.clock.clone()
    }

    /// Every call answered so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// How many calls a [`Fault::Delay`] holds now: each counts from its arrival until its
    /// delay is over, when it is handled, logged in [`FakeWetix::calls`] and answered at once.
    /// A client that hangs up meanwhile does not end it: it is handled to the end.
    pub fn delayed_calls(&self) -> usize {
        self.shared.delayed.load(Ordering::SeqCst)
    }

    /// Whether `refresh_token` would be accepted by a refresh now: issued by this server and
    /// not spent (with rotation, by the refresh it was sent with), revoked or expired.
    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        lock(&self.shared.authority).is_live(refresh_token, self.shared.clock.now())
    }

    pub fn clear_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// A valid refresh token for `client_id`, as if obtained elsewhere (e.g. through the
    /// authorization-code grant), with the current refresh lifetime. No call is logged.
    pub fn mint_refresh_token(&self, client_id: &str) -> String {
        lock(&self.shared.authority).mint_refresh_token(client_id, self.shared.clock.now())
    }

    /// Invalidates every refresh token of `client_id`; refreshing with one gets 400
    /// `invalid_grant`.
    pub fn revoke_refresh_tokens(&self, client_id: &str) {
        lock(&self.shared.authority).revoke(client_id);
    }

    /// The HS256 key tokens are signed with (random per server), for checking signatures.
    pub fn signing_key(&self) -> Vec<u8> {
        lock(&self.shared.authority).signing_key().to_vec()
    }

    /// The claims of `token` when this server signed it; `None` otherwise. Expiry not checked.
    pub fn verify_token(&self, token: &str) -> Option<Claims> {
        jwt::verify(&self.signing_key(), token)
    }

    /// Stops accepting connections; calls in flight are answered. Dropping does the same.
    pub fn shutdown(self) {}
}

impl Drop for FakeWetix {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for FakeWetix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeWetix")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

/// 32 random bytes: each server signs with its own key, so its tokens mean nothing elsewhere.
fn fresh_signing_key() -> Vec<u8> {
    let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}
