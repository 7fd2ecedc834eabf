//! The server's memory and rules: registered clients, live refresh tokens, and what each grant
//! answers. No HTTP and no clock here: every decision takes `now` as an argument.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::Settings;
use crate::jwt::{self, Claims, TokenType};

/// The only token type WeTix issues.
pub(crate) const BEARER: &str = "Bearer";

/// A client secret. Prints as a placeholder; [`ClientSecret::matches`] is the only way to use it.
#[derive(Clone)]
pub(crate) struct ClientSecret(String);

impl ClientSecret {
    pub(crate) fn new(secret: &str) -> Self {
        ClientSecret(secret.to_owned())
    }

    fn matches(&self, presented: &str) -> bool {
        self.0 == presented
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a grant was refused; each maps to one OAuth error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantError {
    /// Unknown client id or wrong secret: 401 `invalid_client`.
    InvalidClient,
    /// Unknown, spent, expired or foreign refresh token: 400 `invalid_grant`.
    InvalidGrant,
}

/// The body of a 2xx answer, exactly as WeTix words it.
#[derive(Serialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: String,
    pub(crate) expires_in: i64,
    pub(crate) refresh_token: String,
    pub(crate) refresh_token_expires_in: i64,
    pub(crate) token_type: &'static str,
}

/// What the server knows about a refresh token it issued and has not seen spent.
struct RefreshRecord {
    client_id: String,
    /// Accepted strictly before this instant.
    expires_at: Timestamp,
}

pub(crate) struct Authority {
    settings: Settings,
    signing_key: Vec<u8>,
    clients: HashMap<String, ClientSecret>,
    /// Keyed by the token itself. Spent and revoked tokens are removed.
    refresh_tokens: HashMap<String, RefreshRecord>,
}

impl Authority {
    pub(crate) fn new(settings: Settings, signing_key: Vec<u8>) -> Self {
        Authority {
            settings,
            signing_key,
            clients: HashMap::new(),
            refresh_tokens: HashMap::new(),
        }
    }

    pub(crate) fn signing_key(&self) -> &[u8] {
        &self.signing_key
    }

    pub(crate) fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Registers a client, or replaces its secret. Its refresh tokens stay valid either way.
    pub(crate) fn add_client(&mut self, client_id: &str, secret: ClientSecret) {
        self.clients.insert(client_id.to_owned(), secret);
    }

    /// Forgets a client's credentials. Its refresh tokens stay stored, so re-adding the client
    /// (say, with a rotated secret) keeps them usable; [`Authority::revoke`] drops them.
    pub(crate) fn remove_client(&mut self, client_id: &str) {
        self.clients.remove(client_id);
    }

    pub(crate) fn authenticate(&self, client_id: &str, secret: &str) -> Result<(), GrantError> {
        match self.clients.get(client_id) {
            Some(known) if known.matches(secret) => Ok(()),
            _ => Err(GrantError::InvalidClient),
        }
    }

    /// The client-credentials grant: a fresh access token and a fresh refresh token.
    pub(crate) fn client_credentials(&mut self, client_id: &str, now: Timestamp) -> TokenAnswer {
        self.forget_expired(now);
        let (access_token, expires_in) = self.access_token(client_id, now);
        let refresh_token = self.mint_refresh_token(client_id, now);
        TokenAnswer {
            access_token,
            expires_in,
            refresh_token,
            refresh_token_expires_in: whole_seconds(self.settings.refresh_lifetime),
            token_type: BEARER,
        }
    }

    /// The refresh grant. Without rotation the answer carries the same refresh token with the
    /// full configured lifetime as `refresh_token_expires_in` (WeTix's documented example); the
    /// token itself keeps its original expiry. With rotation the old token is spent.
    pub(crate) fn refresh(
        &mut self,
        client_id: &str,
        refresh_token: &str,
        now: Timestamp,
    ) -> Result<TokenAnswer, GrantError> {
        self.forget_expired(now);
        match self.refresh_tokens.get(refresh_token) {
            Some(record) if record.client_id == client_id && now < record.expires_at => {}
            _ => return Err(GrantError::InvalidGrant),
        }
        let (access_token, expires_in) = self.access_token(client_id, now);
        let refresh_token = if self.settings.rotate_refresh_tokens {
            self.refresh_tokens.remove(refresh_token);
            self.mint_refresh_token(client_id, now)
        } else {
            refresh_token.to_owned()
        };
        Ok(TokenAnswer {
            access_token,
            expires_in,
            refresh_token,
            refresh_token_expires_in: whole_seconds(self.settings.refresh_lifetime),
            token_type: BEARER,
        })
    }

    /// A refresh token for `client_id`, stored as if issued now.
    pub(crate) fn mint_refresh_token(&mut self, client_id: &str, now: Timestamp) -> String {
        let lifetime = self.settings.refresh_lifetime;
        let (token, expires_at) = self.sign(TokenType::RefreshToken, client_id, lifetime, now);
        self.refresh_tokens.insert(
            token.clone(),
            RefreshRecord {
                client_id: client_id.to_owned(),
                expires_at,
            },
        );
        token
    }

    /// Whether a refresh with `token` would be granted at `now`: issued here, not spent, not
    /// revoked, not expired.
    pub(crate) fn is_live(&self, token: &str, now: Timestamp) -> bool {
        self.refresh_tokens
            .get(token)
            .is_some_and(|record| now < record.expires_at)
    }

    /// Drops every refresh token of `client_id`; later refreshes with them get `invalid_grant`.
    pub(crate) fn revoke(&mut self, client_id: &str) {
        self.refresh_tokens.retain(|_, r| r.client_id != client_id);
    }

    /// A well-formed token pair the server does not remember, for faulty answers.
    pub(crate) fn unrecorded_pair(&self, client_id: &str, now: Timestamp) -> TokenAnswer {
        let (access_token, expires_in) = self.access_token(client_id, now);
        let lifetime = self.settings.refresh_lifetime;
        let (refresh_token, _) = self.sign(TokenType::RefreshToken, client_id, lifetime, now);
        TokenAnswer {
            access_token,
            expires_in,
            refresh_token,
            refresh_token_expires_in: whole_seconds(lifetime),
            token_type: BEARER,
        }
    }

    fn access_token(&self, client_id: &str, now: Timestamp) -> (String, i64) {
        let lifetime = self.settings.access_lifetime;
        let (token, _) = self.sign(TokenType::AccessToken, client_id, lifetime, now);
        (token, whole_seconds(lifetime))
    }

    /// Signs a token issued at `now`. Returns it with the instant it stops being accepted,
    /// `now + lifetime`; the JWT's `exp` (whole seconds) is never later than that instant.
    fn sign(
        &self,
        token_type: TokenType,
        client_id: &str,
        lifetime: Duration,
        now: Timestamp,
    ) -> (String, Timestamp) {
        let lifetime = whole_seconds(lifetime);
        let issued = now.as_second();
        let claims = Claims {
            exp: issued.saturating_add(lifetime),
            iat: issued,
            nbf: issued,
            token_type,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            client_key: client_id.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let expires_at = now
            .checked_add(SignedDuration::from_secs(lifetime))
            .unwrap_or(Timestamp::MAX);
        (jwt::sign(&self.signing_key, &claims), expires_at)
    }

    fn forget_expired(&mut self, now: Timestamp) {
        self.refresh_tokens.retain(|_, r| now < r.expires_at);
    }
}

/// A lifetime as WeTix reports it: whole seconds, clamped to what JSON's int64 holds.
fn whole_seconds(lifetime: Duration) -> i64 {
    i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = "shop";

    fn t(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    fn authority(rotate: bool) -> Authority {
        let settings = Settings {
            access_lifetime: Duration::from_secs(60),
            refresh_lifetime: Duration::from_secs(600),
            rotate_refresh_tokens: rotate,
            ..Settings::default()
        };
        let mut authority = Authority::new(settings, b"key".to_vec());
        authority.add_client(SHOP, ClientSecret::new("s3cret"));
        authority
    }

    #[test]
    fn right_secret_authenticates_and_wrong_or_unknown_do_not() {
        let authority = authority(false);
        assert_eq!(authority.authenticate(SHOP, "s3cret"), Ok(()));
        assert_eq!(
            authority.authenticate(SHOP, "nope"),
            Err(GrantError::InvalidClient)
        );
        assert_eq!(
            authority.authenticate("other", "s3cret"),
            Err(GrantError::InvalidClient)
        );
    }

    #[test]
    fn client_credentials_answers_configured_lifetimes_and_bearer() {
        let answer = authority(false).client_credentials(SHOP, t(0));
        assert_eq!(answer.expires_in, 60);
        assert_eq!(answer.refresh_token_expires_in, 600);
        assert_eq!(answer.token_type, "Bearer");
        let access = jwt::verify(b"key", &answer.access_token).unwrap();
        assert_eq!(access.token_type, TokenType::AccessToken);
        assert_eq!(
            (access.iat, access.exp),
            (t(0).as_second(), t(60).as_second())
        );
        let refresh = jwt::verify(b"key", &answer.refresh_token).unwrap();
        assert_eq!(refresh.token_type, TokenType::RefreshToken);
        assert_eq!(refresh.exp, t(600).as_second());
    }

    #[test]
    fn non_rotating_refresh_returns_the_same_token_with_the_full_lifetime_again() {
        let mut authority = authority(false);
        let first = authority.client_credentials(SHOP, t(0));
        let answer = authority
            .refresh(SHOP, &first.refresh_token, t(500))
            .unwrap();
        assert_eq!(answer.refresh_token, first.refresh_token);
        assert_eq!(answer.refresh_token_expires_in, 600);
        assert_ne!(answer.access_token, first.access_token);
    }

    #[test]
    fn non_rotating_refresh_does_not_extend_the_refresh_token() {
        let mut authority = authority(false);
        let first = authority.client_credentials(SHOP, t(0));
        assert!(
            authority
                .refresh(SHOP, &first.refresh_token, t(599))
                .is_ok()
        );
        assert_eq!(
            authority.refresh(SHOP, &first.refresh_token, t(600)).err(),
            Some(GrantError::InvalidGrant)
        );
    }

    #[test]
    fn rotating_refresh_spends_the_old_token_and_the_new_one_works() {
        let mut authority = authority(true);
        let first = authority.client_credentials(SHOP, t(0));
        let second = authority.refresh(SHOP, &first.refresh_token, t(1)).unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(
            authority.refresh(SHOP, &first.refresh_token, t(2)).err(),
            Some(GrantError::InvalidGrant)
        );
        assert!(authority.refresh(SHOP, &second.refresh_token, t(3)).is_ok());
    }

    #[test]
    fn a_rotated_refresh_token_is_live_until_spent() {
        let mut authority = authority(true);
        let first = authority.client_credentials(SHOP, t(0)).refresh_token;
        assert!(authority.is_live(&first, t(1)));
        let second = authority.refresh(SHOP, &first, t(1)).unwrap().refresh_token;
        assert!(!authority.is_live(&first, t(1)));
        assert!(authority.is_live(&second, t(1)));
        assert!(!authority.is_live("not-a-token", t(1)));
    }

    #[test]
    fn refresh_token_is_rejected_from_the_instant_it_expires() {
        let mut authority = authority(false);
        let token = authority.mint_refresh_token(SHOP, t(0));
        let just_before = t(600).checked_sub(SignedDuration::from_millis(1)).unwrap();
        assert!(authority.refresh(SHOP, &token, just_before).is_ok());
        assert_eq!(
            authority.refresh(SHOP, &token, t(600)).err(),
            Some(GrantError::InvalidGrant)
        );
    }

    #[test]
    fn refresh_token_of_another_client_is_an_invalid_grant() {
        let mut authority = authority(false);
        authority.add_client("other", ClientSecret::new("x"));
        let token = authority.mint_refresh_token("other", t(0));
        assert_eq!(
            authority.refresh(SHOP, &token, t(1)).err(),
            Some(GrantError::InvalidGrant)
        );
    }

    #[test]
    fn unknown_or_unrecorded_refresh_token_is_an_invalid_grant() {
        let mut authority = authority(false);
        let unrecorded = authority.unrecorded_pair(SHOP, t(0)).refresh_token;
        for token in ["", "garbage", unrecorded.as_str()] {
            assert_eq!(
                authority.refresh(SHOP, token, t(1)).err(),
                Some(GrantError::InvalidGrant)
            );
        }
    }

    #[test]
    fn revoke_drops_only_that_clients_refresh_tokens() {
        let mut authority = authority(false);
        authority.add_client("other", ClientSecret::new("x"));
        let mine = authority.mint_refresh_token(SHOP, t(0));
        let theirs = authority.mint_refresh_token("other", t(0));
        authority.revoke(SHOP);
        assert!(authority.refresh(SHOP, &mine, t(1)).is_err());
        assert!(authority.refresh("other", &theirs, t(1)).is_ok());
    }

    #[test]
    fn removed_and_readded_client_keeps_its_refresh_tokens() {
        let mut authority = authority(false);
        let token = authority.mint_refresh_token(SHOP, t(0));
        authority.remove_client(SHOP);
        assert!(authority.authenticate(SHOP, "s3cret").is_err());
        authority.add_client(SHOP, ClientSecret::new("rotated"));
        assert!(authority.refresh(SHOP, &token, t(1)).is_ok());
    }

    #[test]
    fn tokens_issued_in_the_same_second_differ() {
        let mut authority = authority(false);
        let a = authority.client_credentials(SHOP, t(0));
        let b = authority.client_credentials(SHOP, t(0));
        assert_ne!(a.access_token, b.access_token);
        assert_ne!(a.refresh_token, b.refresh_token);
    }

    #[test]
    fn client_secret_debug_is_a_placeholder() {
        assert_eq!(format!("{:?}", ClientSecret::new("s3cret")), "<redacted>");
    }
}
