//! Faults a test arms for the next calls: what the server does instead of its normal answer.

use std::net::SocketAddr;
use std::time::Duration;

/// The two WeTix calls, and [`Endpoint::Any`] to arm a fault for either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /auth/token`, the client-credentials grant.
    Token,
    /// `POST /auth/refresh`, the refresh grant.
    Refresh,
    /// Either call; only used to arm faults, a [`crate::Call`] is always one of the two.
    Any,
}

impl Endpoint {
    /// The short name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Refresh => "refresh",
            Endpoint::Any => "any",
        }
    }

    fn covers(self, call: Endpoint) -> bool {
        self == Endpoint::Any || self == call
    }
}

/// What an armed fault does to a call.
///
/// Except for [`Fault::Delay`], a fault replaces the whole handling of the call: credentials are
/// not checked, no token is stored and no refresh token is spent, so the client's old tokens stay
/// usable. Tokens inside a faulty 2xx answer are well-formed but unknown to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and a JSON error body. An invalid code becomes 500.
    Status(u16),
    /// Answer 429 with a `Retry-After: <seconds>` header.
    RateLimited { retry_after_secs: u64 },
    /// Wait this long, then handle the call normally (to provoke client timeouts). The call is
    /// handled to the end even when the client has given up, as a real server would.
    Delay(Duration),
    /// Answer 200 with `Content-Type: application/json` and a body that is not JSON.
    MalformedJson,
    /// Answer 200 with a token pair lacking this field (e.g. `"refresh_token"`).
    MissingField(&'static str),
    /// Answer 200 with a token pair whose `token_type` is not `Bearer`.
    WrongTokenType,
    /// Answer 200 with a token pair whose `expires_in` is 0.
    NonPositiveLifetime,

    // The fault matrix's answers (tests/fault_matrix.rs).
    /// End the connection without a byte of answer, as a crashed server or a resetting proxy
    /// does. The call log still records it, with status 200.
    ConnectionReset,
    /// Answer 200 with a token pair whose `expires_in` and `refresh_token_expires_in` are both
    /// this many seconds (negative, or far beyond any expiry); the JWTs' `exp` claims keep the
    /// configured lifetimes.
    DeclaredLifetime(i64),
    /// Answer 200 with a token pair whose two lifetimes are a JSON integer beyond i64
    /// (`18446744073709551615`).
    LifetimeBeyondI64,
    /// Answer 200 with a token pair whose JWTs carry this `exp` claim (Unix seconds: one in the
    /// past, or absurdly far ahead); `expires_in` and `refresh_token_expires_in` stay as
    /// configured.
    JwtExp(i64),
    /// Answer `307 Temporary Redirect` to the token path on `to`, another host: a client that
    /// followed it would show up in that host's call log.
    Redirect(SocketAddr),
    /// Answer 200 with a token pair padded to at least this many bytes, chunked, without a
    /// `Content-Length`: a size limit has to hold while reading.
    Oversized(usize),
}

/// Armed faults, oldest first; each call consumes one use of the first fault that covers it.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    armed: Vec<Armed>,
}

#[derive(Debug)]
struct Armed {
    endpoint: Endpoint,
    fault: Fault,
    remaining: usize,
}

impl FaultQueue {
    pub(crate) fn arm(&mut self, endpoint: Endpoint, fault: Fault, times: usize) {
        if times > 0 {
            self.armed.push(Armed {
                endpoint,
                fault,
                remaining: times,
            });
        }
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// The fault for a call to `call`, if one is armed; uses it up once.
    pub(crate) fn take(&mut self, call: Endpoint) -> Option<Fault> {
        let index = self.armed.iter().position(|a| a.endpoint.covers(call))?;
        let armed = &mut self.armed[index];
        let fault = armed.fault;
        armed.remaining -= 1;
        if armed.remaining == 0 {
            self.armed.remove(index);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_applies_exactly_the_armed_number_of_times() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Token, Fault::Status(503), 2);
        assert_eq!(queue.take(Endpoint::Token), Some(Fault::Status(503)));
        assert_eq!(queue.take(Endpoint::Token), Some(Fault::Status(503)));
        assert_eq!(queue.take(Endpoint::Token), None);
    }

    #[test]
    fn fault_for_one_endpoint_leaves_the_other_alone() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Refresh, Fault::MalformedJson, 1);
        assert_eq!(queue.take(Endpoint::Token), None);
        assert_eq!(queue.take(Endpoint::Refresh), Some(Fault::MalformedJson));
    }

    #[test]
    fn any_covers_both_endpoints_and_counts_across_them() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Any, Fault::WrongTokenType, 2);
        assert_eq!(queue.take(Endpoint::Token), Some(Fault::WrongTokenType));
        assert_eq!(queue.take(Endpoint::Refresh), Some(Fault::WrongTokenType));
        assert_eq!(queue.take(Endpoint::Refresh), None);
    }

    #[test]
    fn faults_apply_in_the_order_they_were_armed() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Any, Fault::Status(500), 1);
        queue.arm(Endpoint::Token, Fault::NonPositiveLifetime, 1);
        assert_eq!(queue.take(Endpoint::Token), Some(Fault::Status(500)));
        assert_eq!(
            queue.take(Endpoint::Token),
            Some(Fault::NonPositiveLifetime)
        );
    }

    #[test]
    fn zero_times_and_clear_leave_nothing_armed() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Token, Fault::Status(500), 0);
        assert_eq!(queue.take(Endpoint::Token), None);
        queue.arm(Endpoint::Token, Fault::Status(500), 3);
        queue.clear();
        assert_eq!(queue.take(Endpoint::Token), None);
    }
}
