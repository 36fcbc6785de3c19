//! Account recovery: password reset and e-mail verification, as rules over
//! `domain` (no HTTP, no mail). A request writes an outbox row in the same
//! transaction as what causes it; the link in the message is made only when
//! it is sent, from the row's time and the user as it is then
//! ([`Recovery::reset_link_parts`], [`Recovery::verify_key`]), so no usable
//! token is ever stored. Confirming checks the token again on the user's row,
//! locked, in the transaction that changes it: of two confirmations with one
//! token, one wins.

use chrono::{DateTime, Duration, Utc};
use domain::outbox;
use domain::time::{from_db, to_db};
use domain::{
    write_transaction, DbConnection, MailKind, QueryError, RevokeReason, Session, User, UserId,
};

use crate::mail_throttle::MailThrottle;
use crate::reset_tokens::{
    decode_uid, encode_uid, reset_value, seconds_since_2001, verify_value, TokenGenerator,
    RESET_SALT, VERIFY_SALT,
};
use crate::throttle::Throttled;

/// How long a verification key works: allauth's default
/// (`ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3`).
pub const VERIFY_TIMEOUT: Duration = Duration::days(3);

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// dj-rest-auth's `{"uid": ["Invalid value"]}`.
    #[error("the uid names no user")]
    BadUid,
    /// `{"token": ["Invalid value"]}`: wrong, expired, used, or the user's
    /// password, last login or address changed since.
    #[error("the token is not valid")]
    BadToken,
    /// `{"key": ["Invalid value"]}`.
    #[error("the key is not valid")]
    BadKey,
    #[error(transparent)]
    Database(#[from] QueryError),
}

#[derive(Debug, Clone)]
pub struct RecoverySettings {
    /// AUTH_PASSWORD_RESET_TIMEOUT: Django's `PASSWORD_RESET_TIMEOUT`.
    pub reset_timeout: Duration,
    pub verify_timeout: Duration,
    pub throttle: MailThrottle,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        Self {
            reset_timeout: Duration::days(3),
            verify_timeout: VERIFY_TIMEOUT,
            throttle: MailThrottle::default(),
        }
    }
}

#[derive(Debug)]
pub struct Recovery {
    reset: TokenGenerator,
    verify: TokenGenerator,
    settings: RecoverySettings,
}

impl Recovery {
    /// `secret`: the service's signing secret (or private key), as Django
    /// keys its tokens with `SECRET_KEY`; each kind of token derives its own
    /// HMAC key from it with its salt.
    pub fn new(secret: &[u8], settings: RecoverySettings) -> Self {
        Self {
            reset: TokenGenerator::new(RESET_SALT, secret),
            verify: TokenGenerator::new(VERIFY_SALT, secret),
            settings,
        }
    }

    pub fn settings(&self) -> &RecoverySettings {
        &self.settings
    }

    /// How long after its request a message of `kind` is still worth
    /// sending: as long as its link works.
    pub fn link_lifetime(&self, kind: MailKind) -> Duration {
        match kind {
            MailKind::PasswordReset => self.settings.reset_timeout,
            MailKind::EmailVerification => self.settings.verify_timeout,
        }
    }

    /// `(uid, token)` of the reset link for a request made at `requested`.
    pub fn reset_link_parts(&self, user: &User, requested: DateTime<Utc>) -> (String, String) {
        let ts = seconds_since_2001(requested);
        (
            encode_uid(user.id.0),
            self.reset.make(ts, &reset_value(user, ts)),
        )
    }

    /// The verification key for a request made at `requested`: `<uid>.<token>`.
    pub fn verify_key(&self, user: &User, requested: DateTime<Utc>) -> String {
        let ts = seconds_since_2001(requested);
        format!(
            "{}.{}",
            encode_uid(user.id.0),
            self.verify.make(ts, &verify_value(user, ts))
        )
    }

    /// A reset or a verification resend for `email`: counted against the
    /// address and the client (or refused), then one message of `kind` per
    /// active user with that address (for verification, only unverified
    /// ones). An address nobody has gets an outbox row too (born done), so
    /// the database does the same work either way. Returns how many
    /// messages were queued, which the caller must not tell the client.
    pub fn request(
        &self,
        conn: &mut DbConnection,
        kind: MailKind,
        email: &str,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Result<usize, Throttled>, QueryError> {
        write_transaction(conn, |c| {
            if let Err(throttled) = self.settings.throttle.count(c, kind, email, client, now)? {
                return Ok(Err(throttled));
            }
            let users: Vec<UserId> = User::find_active_by_email(c, email)?
                .into_iter()
                .filter(|u| kind == MailKind::PasswordReset || !u.email_verified)
                .map(|u| u.id)
                .collect();
            outbox::enqueue(c, &users, kind, to_db(now)).map(Ok)
        })
    }

    /// The user a reset link names, if its token is good now: the check
    /// before the new password is hashed (no bcrypt for a bad link).
    pub fn check_reset(
        &self,
        conn: &mut DbConnection,
        uid: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<User, RecoveryError> {
        let id = decode_uid(uid).ok_or(RecoveryError::BadUid)?;
        let user = User::find(conn, UserId(id))?.ok_or(RecoveryError::BadUid)?;
        self.reset_token_holds(&user, token, now)?;
        Ok(user)
    }

    /// Set the new password if the token still holds on the user's locked
    /// row, and end every session of the user, in one transaction.
    pub fn complete_reset(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        token: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RecoveryError> {
        write_transaction(conn, |c| {
            let locked = User::find_for_update(c, user)?.ok_or(RecoveryError::BadUid)?;
            self.reset_token_holds(&locked, token, now)?;
            User::set_password_hash(c, user, new_hash, to_db(now))?;
            Session::revoke_all_for_user(c, user, to_db(now), RevokeReason::PasswordReset)?;
            Ok(())
        })
    }

    fn reset_token_holds(
        &self,
        user: &User,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RecoveryError> {
        let good = user.is_active
            && user.email.is_some()
            && self.reset.check(
                token,
                |ts| reset_value(user, ts),
                now,
                self.settings.reset_timeout.num_seconds(),
            );
        if good {
            Ok(())
        } else {
            Err(RecoveryError::BadToken)
        }
    }

    /// Mark the address a verification key names as proven; the key works
    /// once, for the address it was sent to, within its lifetime.
    pub fn verify_email(
        &self,
        conn: &mut DbConnection,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<User, RecoveryError> {
        let (uid, token) = key.split_once('.').ok_or(RecoveryError::BadKey)?;
        let id = UserId(decode_uid(uid).ok_or(RecoveryError::BadKey)?);
        write_transaction(conn, |c| {
            let user = User::find_for_update(c, id)?.ok_or(RecoveryError::BadKey)?;
            let email = user.email.clone().ok_or(RecoveryError::BadKey)?;
            let good = user.is_active
                && self.verify.check(
                    token,
                    |ts| verify_value(&user, ts),
                    now,
                    self.settings.verify_timeout.num_seconds(),
                );
            if !good || !User::set_email_verified(c, id, &email)? {
                return Err(RecoveryError::BadKey);
            }
            Ok(User {
                email_verified: true,
                ..user
            })
        })
    }

    /// Whether a queued message is too old to send: its link would not work.
    pub fn expired(&self, kind: MailKind, requested: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        requested + self.link_lifetime(kind) < now
    }
}

/// The time a row was requested, as the link's timestamp.
pub fn requested_at(row: &domain::OutboxMessage) -> DateTime<Utc> {
    from_db(row.created_at)
}
