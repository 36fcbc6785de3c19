//! Refresh: a refresh token buys a new access token and, when rotating, a
//! new refresh token of the same family; the old one is retired. Presenting
//! a retired token again is reuse, and revokes the family, except for a
//! proxy's resend of the same request ([`Presentation`]) and, when
//! `refresh_reuse_interval` is set, for the just-retired token presented again
//! within it while its successor is unused: both get that successor again.
//!
//! Both modes decide in one write transaction that first locks the token's
//! record, so a concurrent retirement (another replica rotating the same
//! token) is either wholly before the decision or wholly after it.

use std::fmt;

use chrono::{DateTime, Utc};
use domain::time::{from_db, to_db};
use domain::{
    write_transaction, DbConnection, RefreshToken, RevokeReason, Session, SessionId, TokenId,
    UserId,
};

use super::{parse_user_id, Authority, Issued, TokenError, TokenPair};
use crate::claims::TokenType;

/// How long after a rotation (or a registration) a proxy's resend of the same
/// request still gets the same answer: longer than nginx's retry budget
/// (`proxy_next_upstream_timeout 10s`), short enough that a request id
/// captured later is useless.
pub const RESEND_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// A refresh token as presented, with the id a trusted proxy gave the
/// request (its X-Request-Id), if any. A proxy resends a request when the
/// replica it sent it to died without answering, and that replica may have
/// committed the rotation first. The resend is the same presentation, not a
/// reuse: within [`RESEND_WINDOW`] of the rotation, while the successor is
/// still unused and its family live, it gets the successor again (same
/// `jti`) instead of revoking the family.
#[derive(Clone, Copy)]
pub struct Presentation<'a> {
    pub token: &'a str,
    pub request_id: Option<&'a str>,
}

impl<'a> From<&'a str> for Presentation<'a> {
    fn from(token: &'a str) -> Self {
        Self {
            token,
            request_id: None,
        }
    }
}

impl<'a> From<&'a String> for Presentation<'a> {
    fn from(token: &'a String) -> Self {
        Self::from(token.as_str())
    }
}

/// The token stays out of logs.
impl fmt::Debug for Presentation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presentation")
            .field("token", &"<redacted>")
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// A presentation whose token checked out, with the instant it is judged at.
struct Presented<'a> {
    jti: TokenId,
    sid: SessionId,
    user_id: UserId,
    request_id: Option<&'a str>,
    now: DateTime<Utc>,
}

enum Outcome {
    Issued(Box<Issued>),
    /// Committed: the family is revoked, the caller gets `Reused`.
    Reused,
}

impl Authority {
    /// Trade a refresh token for a new access token and, when rotating, a new
    /// refresh token of the same family (see [`Presentation`] for a proxy's
    /// resend).
    pub fn refresh<'a>(
        &self,
        conn: &mut DbConnection,
        presentation: impl Into<Presentation<'a>>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        let presentation = presentation.into();
        let claims = self
            .codec
            .decode(presentation.token, Some(TokenType::Refresh))?;
        let presented = Presented {
            user_id: parse_user_id(&claims)?,
            jti: TokenId(claims.jti),
            sid: SessionId(claims.sid),
            request_id: presentation.request_id,
            now,
        };
        let outcome = write_transaction(conn, |c| {
            if self.settings.rotate_refresh_tokens {
                self.rotate(c, &presented)
            } else {
                self.reissue(c, &presented)
            }
        })?;
        match outcome {
            Outcome::Issued(issued) => self.sign_pair(&issued, now),
            Outcome::Reused => Err(TokenError::Reused),
        }
    }

    /// Without rotation: the token stays valid, unless a rotation (while
    /// rotation was on, or on another replica) retired it.
    fn reissue(&self, c: &mut DbConnection, p: &Presented) -> Result<Outcome, TokenError> {
        let record = RefreshToken::find_for_update(c, &p.jti)?.ok_or(TokenError::Unknown)?;
        if record.used_at.is_some() {
            Session::revoke(
                c,
                &record.session_id,
                to_db(p.now),
                RevokeReason::ReuseDetected,
            )?;
            return Ok(Outcome::Reused);
        }
        let (session, user) = self.live_session(c, &p.sid, p.user_id, p.now)?;
        Session::record_refresh(c, &session.id, to_db(p.now))?;
        Ok(Outcome::Issued(Box::new(Issued {
            session,
            user,
            refresh: None,
        })))
    }

    fn rotate(&self, c: &mut DbConnection, p: &Presented) -> Result<Outcome, TokenError> {
        let next_jti = TokenId::random();
        // The conditional UPDATE comes first: it takes the lock that orders
        // concurrent refreshes of the same token.
        let now = to_db(p.now);
        let cutoff = to_db(self.settings.refresh_record_cutoff(p.now));
        if !RefreshToken::retire(c, &p.jti, now, cutoff, Some(&next_jti), p.request_id)? {
            return match RefreshToken::find(c, &p.jti)? {
                Some(record) if record.used_at.is_some() => {
                    if let Some(issued) = self.resent_rotation(c, &record, p)? {
                        return Ok(Outcome::Issued(Box::new(issued)));
                    }
                    if let Some(issued) = self.within_reuse_interval(c, &record, p)? {
                        return Ok(Outcome::Issued(Box::new(issued)));
                    }
                    Session::revoke(c, &record.session_id, now, RevokeReason::ReuseDetected)?;
                    Ok(Outcome::Reused)
                }
                Some(_) => Err(TokenError::SessionEnded),
                None => Err(TokenError::Unknown),
            };
        }
        let (session, user) = self.live_session(c, &p.sid, p.user_id, p.now)?;
        let mut next = self.new_refresh_record(&session, p.now);
        next.jti = next_jti;
        if next.expires_at <= now {
            return Err(TokenError::SessionEnded);
        }
        RefreshToken::record(c, &next)?;
        Session::record_refresh(c, &session.id, now)?;
        Ok(Outcome::Issued(Box::new(Issued {
            session,
            user,
            refresh: Some(next),
        })))
    }

    /// The successor of `retired` when this is the proxy's resend of the very
    /// request that retired it (see [`Presentation`]).
    fn resent_rotation(
        &self,
        c: &mut DbConnection,
        retired: &RefreshToken,
        p: &Presented,
    ) -> Result<Option<Issued>, TokenError> {
        let same_request =
            p.request_id.is_some() && retired.retired_by_request.as_deref() == p.request_id;
        if !same_request {
            return Ok(None);
        }
        let issued = self.unused_successor(c, retired, p, RESEND_WINDOW)?;
        if issued.is_some() {
            // Worth seeing: it means a replica died after committing.
            log::info!(
                "refresh: request {} resent by the proxy; answered with the successor it committed",
                p.request_id.unwrap_or_default()
            );
        }
        Ok(issued)
    }

    /// The successor of `retired` when it is presented again within
    /// `AUTH_REFRESH_REUSE_INTERVAL` of its rotation: a second tab, or a
    /// client's retry, that sent the same token. Not reuse, as long as the
    /// successor is unused and the family live.
    fn within_reuse_interval(
        &self,
        c: &mut DbConnection,
        retired: &RefreshToken,
        p: &Presented,
    ) -> Result<Option<Issued>, TokenError> {
        let interval = self.settings.refresh_reuse_interval;
        if interval <= chrono::TimeDelta::zero() {
            return Ok(None);
        }
        self.unused_successor(c, retired, p, interval)
    }

    /// The successor `retired` was replaced by, for presenting `retired` again
    /// less than `window` after its rotation: only while that successor is
    /// unused and unexpired and its family live. Anything else is reuse.
    fn unused_successor(
        &self,
        c: &mut DbConnection,
        retired: &RefreshToken,
        p: &Presented,
        window: chrono::TimeDelta,
    ) -> Result<Option<Issued>, TokenError> {
        let recent = retired
            .used_at
            .is_some_and(|at| from_db(at) + window > p.now);
        let (true, Some(next_jti)) = (recent, &retired.replaced_by) else {
            return Ok(None);
        };
        let Some(next) = RefreshToken::find(c, next_jti)? else {
            return Ok(None);
        };
        if next.used_at.is_some() || next.expires_at <= to_db(p.now) {
            return Ok(None);
        }
        let (session, user) = match self.live_session(c, &p.sid, p.user_id, p.now) {
            Ok(live) => live,
            Err(TokenError::Database(e)) => return Err(e.into()),
            // an ended or revoked family: presenting it again is reuse
            Err(_) => return Ok(None),
        };
        Ok(Some(Issued {
            session,
            user,
            refresh: Some(next),
        }))
    }
}
