//! One Django user, from a `dumpdata auth.user` record or an `auth_user`
//! row, checked field by field and mapped to our columns. A bad field is an
//! error naming the record index and the field.

use auth::HashKind;
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::django_import::{DjangoRow, ImportedUser};
use domain::time::{to_db, Timestamp};
use domain::{normalize_username, UserId};
use serde_json::{Map, Value};

/// What is stored for a user whose Django hash cannot be verified here
/// (unusable or legacy): Django's own unusable mark, which never matches.
pub const UNUSABLE: &str = "!";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("record {index}: field {field:?}: {problem}")]
pub struct BadRecord {
    pub index: usize,
    pub field: &'static str,
    pub problem: String,
}

/// An imported user and whether its password can be verified here.
pub struct Mapped {
    pub user: ImportedUser,
    pub verifiable: bool,
}

/// The fields of a Django user, before mapping.
struct Fields {
    id: i64,
    username: String,
    password: String,
    email: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    date_joined: String,
    last_login: Option<String>,
}

/// `{"model": "auth.user", "pk": 1, "fields": {...}}`, Django's fixture format.
pub fn from_fixture(index: usize, record: Value, now: DateTime<Utc>) -> Result<Mapped, BadRecord> {
    let bad = |field, problem: &str| BadRecord {
        index,
        field,
        problem: problem.to_owned(),
    };
    let Value::Object(mut record) = record else {
        return Err(bad("record", "not an object"));
    };
    match record.get("model").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("auth.user") => {}
        _ => return Err(bad("model", "must be \"auth.user\"")),
    }
    let id = record
        .get("pk")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("pk", "must be an integer"))?;
    let Some(Value::Object(mut fields)) = record.remove("fields") else {
        return Err(bad("fields", "must be an object"));
    };
    let mut text = |field: &'static str| match fields.remove(field) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(bad(field, "must be a string")),
    };
    let (username, password, email) = (text("username")?, text("password")?, text("email")?);
    let date_joined = text("date_joined")?;
    let last_login = match fields.remove("last_login") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad("last_login", "must be a string or null")),
    };
    let flag = |fields: &Map<String, Value>, field: &'static str| {
        fields
            .get(field)
            .and_then(Value::as_bool)
            .ok_or_else(|| bad(field, "must be true or false"))
    };
    let fields = Fields {
        id,
        username,
        password,
        email,
        is_active: flag(&fields, "is_active")?,
        is_staff: flag(&fields, "is_staff")?,
        is_superuser: flag(&fields, "is_superuser")?,
        date_joined,
        last_login,
    };
    map(index, fields, now)
}

/// A row read from Django's `auth_user`.
pub fn from_row(index: usize, row: DjangoRow, now: DateTime<Utc>) -> Result<Mapped, BadRecord> {
    map(
        index,
        Fields {
            id: row.id,
            username: row.username,
            password: row.password,
            email: row.email,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            date_joined: row.date_joined,
            last_login: row.last_login,
        },
        now,
    )
}

fn map(index: usize, f: Fields, now: DateTime<Utc>) -> Result<Mapped, BadRecord> {
    let bad = |field, problem: String| BadRecord {
        index,
        field,
        problem,
    };
    if f.id < 1 {
        return Err(bad("pk", "must be a positive integer".into()));
    }
    let username = normalize_username(&f.username);
    let length = username.chars().count();
    if !(1..=150).contains(&length) {
        return Err(bad("username", "must be 1 to 150 characters".into()));
    }
    if f.email.chars().count() > 254 {
        return Err(bad("email", "must be at most 254 characters".into()));
    }
    if f.password.len() > 1024 {
        return Err(bad("password", "is longer than any Django hash".into()));
    }
    let date_joined = parse_time(&f.date_joined).map_err(|p| bad("date_joined", p))?;
    let last_login = f
        .last_login
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|p| bad("last_login", p))?;
    let verifiable = HashKind::of(&f.password).is_verifiable();
    let password_hash = if verifiable {
        f.password
    } else {
        UNUSABLE.to_owned()
    };
    Ok(Mapped {
        user: ImportedUser {
            id: UserId(f.id),
            username,
            email: Some(f.email).filter(|e| !e.is_empty()),
            password_hash,
            is_active: f.is_active,
            is_admin: f.is_staff || f.is_superuser,
            date_joined,
            last_login,
            password_changed_at: to_db(now),
        },
        verifiable,
    })
}

/// Django's datetimes: ISO 8601 with an offset or `Z` (`USE_TZ = True`),
/// or naive (`USE_TZ = False`, taken as UTC); `T` or a space between date
/// and time.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    let iso = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..])
    } else {
        s.to_owned()
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&iso) {
        return Ok(t.naive_utc());
    }
    if let Ok(t) = DateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%S%.f%#z") {
        return Ok(t.naive_utc());
    }
    NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| format!("{s:?} is not an ISO 8601 date and time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(fields: Value) -> Value {
        json!({"model": "auth.user", "pk": 7, "fields": fields})
    }

    fn fields() -> Value {
        json!({
            "password": "pbkdf2_sha256$870000$salt$AAAA", "last_login": null,
            "is_superuser": false, "username": "ﬁle", "first_name": "", "last_name": "",
            "email": "", "is_staff": true, "is_active": true,
            "date_joined": "2024-05-01T10:20:30.123Z", "groups": [], "user_permissions": []
        })
    }

    #[test]
    fn maps_a_fixture_record() {
        let m = from_fixture(0, record(fields()), Utc::now()).unwrap();
        assert_eq!(m.user.id, UserId(7));
        assert_eq!(m.user.username, "file");
        assert_eq!(m.user.email, None);
        assert!(m.user.is_admin && m.user.is_active && m.verifiable);
        assert_eq!(m.user.date_joined.to_string(), "2024-05-01 10:20:30.123");
        assert_eq!(m.user.last_login, None);
    }

    #[test]
    fn legacy_and_unusable_hashes_become_unusable() {
        for hash in ["md5$salt$abc", "!abcdef", "", "sha1$$abc"] {
            let mut f = fields();
            f["password"] = json!(hash);
            let m = from_fixture(0, record(f), Utc::now()).unwrap();
            assert!(!m.verifiable, "{hash}");
            assert_eq!(m.user.password_hash, UNUSABLE);
        }
    }

    #[test]
    fn bad_fields_name_the_record_and_the_field() {
        let cases: [(&str, Value, &str); 6] = [
            ("username", json!(3), "username"),
            ("username", json!(""), "username"),
            ("is_active", json!("yes"), "is_active"),
            ("date_joined", json!("yesterday"), "date_joined"),
            ("last_login", json!(5), "last_login"),
            ("email", json!(null), "email"),
        ];
        for (field, value, named) in cases {
            let mut f = fields();
            f[field] = value;
            let e = from_fixture(4, record(f), Utc::now()).err().expect(field);
            assert_eq!((e.index, e.field), (4, named));
        }
        let e = from_fixture(
            2,
            json!({"model": "auth.group", "pk": 1, "fields": {}}),
            Utc::now(),
        );
        assert_eq!(e.err().unwrap().field, "model");
        let e = from_fixture(
            2,
            json!({"model": "auth.user", "pk": "x", "fields": {}}),
            Utc::now(),
        );
        assert_eq!(
            e.err().unwrap().to_string(),
            "record 2: field \"pk\": must be an integer"
        );
    }

    #[test]
    fn parses_django_datetimes() {
        for (s, expected) in [
            ("2024-05-01T10:20:30Z", "2024-05-01 10:20:30"),
            ("2024-05-01T12:20:30.5+02:00", "2024-05-01 10:20:30.500"),
            ("2024-05-01 10:20:30.123456", "2024-05-01 10:20:30.123456"),
            ("2024-05-01T10:20:30.123456", "2024-05-01 10:20:30.123456"),
            (
                "2024-05-01 10:20:30.123456+00",
                "2024-05-01 10:20:30.123456",
            ),
        ] {
            assert_eq!(parse_time(s).unwrap().to_string(), expected, "{s}");
        }
        assert!(parse_time("2024-05-01").is_err());
    }
}
