//! Login throttling over the database counters, on both backends: a username
//! and a client address each get a fixed window; once a window has used up its
//! failures, logins are refused for the rest of it.

use auth::{LoginThrottle, Throttled};
use chrono::{DateTime, Duration, Utc};
use domain::DbConnection;
use test_support::{backend_tests, TestDb};

const WINDOW_SECS: i64 = 15 * 60;

/// Small limits, so the tests stay short; the contract's window.
fn throttle() -> LoginThrottle {
    LoginThrottle {
        max_username_failures: 3,
        max_address_failures: 5,
        window: Duration::seconds(WINDOW_SECS),
    }
}

fn check(
    throttle: &LoginThrottle,
    conn: &mut DbConnection,
    username: &str,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Throttled> {
    throttle
        .check(conn, username, address, now)
        .expect("the query runs")
}

fn fail(
    throttle: &LoginThrottle,
    conn: &mut DbConnection,
    username: &str,
    address: Option<&str>,
    now: DateTime<Utc>,
) {
    throttle
        .record_failure(conn, username, address, now)
        .expect("the failure is counted");
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

fn a_username_is_throttled_for_the_rest_of_its_window(db: &TestDb) {
    let mut conn = db.migrated();
    let throttle = throttle();
    let t0 = Utc::now();

    // below the limit: allowed
    fail(&throttle, &mut conn, "alice", None, t0);
    fail(&throttle, &mut conn, "alice", None, t0 + secs(1));
    assert_eq!(
        check(&throttle, &mut conn, "alice", None, t0 + secs(2)),
        Ok(())
    );

    // the third failure uses the window up: refused until t0 + 15 min
    fail(&throttle, &mut conn, "alice", None, t0 + secs(2));
    let refused = check(&throttle, &mut conn, "alice", None, t0 + secs(2)).unwrap_err();
    assert_eq!(
        refused.retry_after_secs,
        (WINDOW_SECS - 2) as u64,
        "until the window that began at t0 ends"
    );

    // still refused later in the window, with no failure recorded since
    // (the throttled attempts themselves are not failures)
    let late = t0 + secs(WINDOW_SECS - 60);
    assert_eq!(
        check(&throttle, &mut conn, "alice", None, late),
        Err(Throttled {
            retry_after_secs: 60
        })
    );
    let last_moment = t0 + secs(WINDOW_SECS) - Duration::milliseconds(500);
    assert_eq!(
        check(&throttle, &mut conn, "alice", None, last_moment),
        Err(Throttled {
            retry_after_secs: 1
        }),
        "half a second left rounds up to one whole second"
    );
    // with a client address that is itself fine, the username still decides
    assert!(check(&throttle, &mut conn, "alice", Some("198.51.100.1"), late).is_err());

    // another username is not affected; usernames compare case-sensitively
    assert_eq!(
        check(&throttle, &mut conn, "bob", None, t0 + secs(2)),
        Ok(())
    );
    assert_eq!(
        check(&throttle, &mut conn, "Alice", None, t0 + secs(2)),
        Ok(())
    );

    // the window is over
    assert_eq!(
        check(&throttle, &mut conn, "alice", None, t0 + secs(WINDOW_SECS)),
        Ok(())
    );
}

fn a_new_window_starts_after_the_old_one(db: &TestDb) {
    let mut conn = db.migrated();
    let throttle = throttle();
    let t0 = Utc::now();
    for i in 0..3 {
        fail(&throttle, &mut conn, "alice", None, t0 + secs(i));
    }
    assert!(check(&throttle, &mut conn, "alice", None, t0 + secs(3)).is_err());

    // after the window the count starts again from zero
    let t1 = t0 + secs(WINDOW_SECS + 10);
    fail(&throttle, &mut conn, "alice", None, t1);
    fail(&throttle, &mut conn, "alice", None, t1 + secs(1));
    assert_eq!(
        check(&throttle, &mut conn, "alice", None, t1 + secs(1)),
        Ok(()),
        "two failures in the new window"
    );
    fail(&throttle, &mut conn, "alice", None, t1 + secs(2));
    assert_eq!(
        check(&throttle, &mut conn, "alice", None, t1 + secs(2)),
        Err(Throttled {
            retry_after_secs: (WINDOW_SECS - 2) as u64
        }),
        "the new window runs from its first failure"
    );
}

fn an_address_is_throttled_across_usernames(db: &TestDb) {
    let mut conn = db.migrated();
    let throttle = throttle();
    let t0 = Utc::now();
    let address = Some("203.0.113.7");

    // five failures from one address, each for another username (none of
    // them reaches its own limit)
    for (i, user) in ["u1", "u2", "u3", "u4"].iter().enumerate() {
        fail(&throttle, &mut conn, user, address, t0 + secs(i as i64));
    }
    assert_eq!(
        check(&throttle, &mut conn, "fresh", address, t0 + secs(4)),
        Ok(()),
        "four is below five"
    );
    fail(&throttle, &mut conn, "u5", address, t0 + secs(4));

    // a username never seen before is refused from that address ...
    let refused = check(&throttle, &mut conn, "fresh", address, t0 + secs(4)).unwrap_err();
    assert_eq!(refused.retry_after_secs, (WINDOW_SECS - 4) as u64);
    assert!(check(
        &throttle,
        &mut conn,
        "fresh",
        address,
        t0 + secs(WINDOW_SECS - 1)
    )
    .is_err());
    // ... but fine from elsewhere, or with no address known
    assert_eq!(
        check(
            &throttle,
            &mut conn,
            "fresh",
            Some("203.0.113.8"),
            t0 + secs(4)
        ),
        Ok(())
    );
    assert_eq!(
        check(&throttle, &mut conn, "fresh", None, t0 + secs(4)),
        Ok(())
    );
    assert_eq!(
        check(&throttle, &mut conn, "u1", None, t0 + secs(4)),
        Ok(()),
        "one failure for u1 alone"
    );
    // and over when its window is
    assert_eq!(
        check(
            &throttle,
            &mut conn,
            "fresh",
            address,
            t0 + secs(WINDOW_SECS)
        ),
        Ok(())
    );
}

fn the_longer_of_two_refusals_is_reported(db: &TestDb) {
    let mut conn = db.migrated();
    let throttle = LoginThrottle {
        max_username_failures: 1,
        max_address_failures: 1,
        ..throttle()
    };
    let t0 = Utc::now();
    fail(&throttle, &mut conn, "alice", Some("192.0.2.1"), t0);
    fail(
        &throttle,
        &mut conn,
        "bob",
        Some("192.0.2.9"),
        t0 + secs(100),
    );
    // alice's window ends at 900, the address 192.0.2.9's at 1000
    let refused = check(
        &throttle,
        &mut conn,
        "alice",
        Some("192.0.2.9"),
        t0 + secs(200),
    )
    .unwrap_err();
    assert_eq!(refused.retry_after_secs, (WINDOW_SECS - 100) as u64);

    // The mirror: bob's window ends at 1000, the address 192.0.2.1's at 900.
    // The username is looked at first and the address last, so the two cases
    // together tell "the longer refusal" from "the first" or "the last one".
    let refused = check(
        &throttle,
        &mut conn,
        "bob",
        Some("192.0.2.1"),
        t0 + secs(200),
    )
    .unwrap_err();
    assert_eq!(refused.retry_after_secs, (WINDOW_SECS - 100) as u64);
}

fn expired_windows_are_deleted(db: &TestDb) {
    let mut conn = db.migrated();
    let throttle = throttle();
    let t0 = Utc::now();
    fail(&throttle, &mut conn, "alice", Some("192.0.2.1"), t0);
    fail(&throttle, &mut conn, "bob", None, t0 + secs(60));
    assert_eq!(
        throttle
            .delete_expired(&mut conn, t0 + secs(WINDOW_SECS - 1))
            .unwrap(),
        0
    );
    assert_eq!(
        throttle
            .delete_expired(&mut conn, t0 + secs(WINDOW_SECS))
            .unwrap(),
        2,
        "alice's and the address's"
    );
    assert_eq!(
        throttle
            .delete_expired(&mut conn, t0 + secs(WINDOW_SECS + 60))
            .unwrap(),
        1,
        "bob's"
    );
}

backend_tests!(
    a_username_is_throttled_for_the_rest_of_its_window,
    a_new_window_starts_after_the_old_one,
    an_address_is_throttled_across_usernames,
    the_longer_of_two_refusals_is_reported,
    expired_windows_are_deleted,
);
