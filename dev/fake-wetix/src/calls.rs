//! The call log tests read to see what the client did.

use crate::Endpoint;

/// One call the server answered. Holds no secret and no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// [`Endpoint::Token`] or [`Endpoint::Refresh`].
    pub endpoint: Endpoint,
    /// The client id from the Basic credentials, when they could be parsed.
    pub client_id: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// When the call arrived.
    pub at: jiff::Timestamp,
}
