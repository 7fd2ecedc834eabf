//! How the server issues tokens: lifetimes, rotation, and the names it signs into them.

use std::time::Duration;

/// WeTix's documented access-token lifetime: 60 days (`expires_in` 5184000).
pub const WETIX_ACCESS_LIFETIME: Duration = Duration::from_secs(60 * 24 * 60 * 60);
/// WeTix's documented refresh-token lifetime: 365 days (`refresh_token_expires_in` 31536000).
pub const WETIX_REFRESH_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Issuance settings. Lifetimes count in whole seconds; anything below a second is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
    /// `false` is WeTix's documented behaviour: a refresh answers with the refresh token it was
    /// given. `true`: every refresh issues a new refresh token and spends the old one.
    pub rotate_refresh_tokens: bool,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
}

impl Default for Settings {
    /// What WeTix production does.
    fn default() -> Self {
        Settings {
            access_lifetime: WETIX_ACCESS_LIFETIME,
            refresh_lifetime: WETIX_REFRESH_LIFETIME,
            rotate_refresh_tokens: false,
            issuer: "https://oauth.wetix.my".to_owned(),
            audience: "wetix-open-api".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lifetimes_are_the_documented_wetix_seconds() {
        let settings = Settings::default();
        assert_eq!(settings.access_lifetime.as_secs(), 5_184_000);
        assert_eq!(settings.refresh_lifetime.as_secs(), 31_536_000);
        assert!(!settings.rotate_refresh_tokens);
    }
}
