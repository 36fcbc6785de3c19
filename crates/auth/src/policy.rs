//! What a username, an email and a password must look like (NIST SP 800-63B
//! for passwords; Django's default validators for usernames). Each check
//! returns every message that applies, for the `fields` of a 400.

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::passwords::MAX_PASSWORD_BYTES;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_USERNAME_CHARS: usize = 150;
pub const MAX_EMAIL_CHARS: usize = 254;

/// Django's contrib/auth list of 20,000 common passwords (lowercase), as its
/// users know it from `CommonPasswordValidator`.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

pub fn password_problems(password: &str, username: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        problems.push(format!(
            "This password is too short. It must contain at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        problems.push(format!(
            "This password is too long. It must contain at most {MAX_PASSWORD_BYTES} bytes."
        ));
    }
    if !username.is_empty() && password.to_lowercase() == username.to_lowercase() {
        problems.push("The password is too similar to the username.".to_owned());
    }
    if COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str()) {
        problems.push("This password is too common.".to_owned());
    }
    problems
}

/// 1 to 150 of Unicode letters, digits and `@.+-_`, as Django's
/// `UnicodeUsernameValidator`.
pub fn username_problems(username: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if username.is_empty() {
        problems.push("This field may not be blank.".to_owned());
        return problems;
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        problems.push(format!(
            "Ensure this field has no more than {MAX_USERNAME_CHARS} characters."
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        problems.push(
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
                .to_owned(),
        );
    }
    problems
}

/// At most 254 characters with exactly one `@` between non-empty parts.
pub fn email_problems(email: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if email.chars().count() > MAX_EMAIL_CHARS {
        problems.push(format!(
            "Ensure this field has no more than {MAX_EMAIL_CHARS} characters."
        ));
    }
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !well_formed {
        problems.push("Enter a valid email address.".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_good_password() {
        assert!(password_problems("correct horse battery staple", "alice").is_empty());
        assert!(
            password_problems(&"x".repeat(72), "alice").is_empty(),
            "72 bytes is the limit, inclusive"
        );
    }

    #[test]
    fn refuses_each_weak_password_with_its_reason() {
        assert!(password_problems("Sh0rt!", "alice")[0].contains("too short"));
        assert!(password_problems(&"x".repeat(73), "alice")[0].contains("too long"));
        // 8 characters, 16 bytes: long enough in characters
        assert!(password_problems("éééééééé", "alice").is_empty());
        // 25 characters of 3 bytes: over the byte limit
        assert!(password_problems(&"€".repeat(25), "alice")[0].contains("too long"));
        assert!(password_problems("AliceInChains", "aliceinchains")[0].contains("similar"));
        for common in [
            "password",
            "12345678",
            "Password",
            "qwertyuiop",
            " iloveyou ",
        ] {
            assert!(
                password_problems(common, "bob")
                    .iter()
                    .any(|p| p.contains("too common")),
                "{common:?} is common"
            );
        }
        assert_eq!(
            password_problems("1234", "1234").len(),
            3,
            "short, same as username, common"
        );
    }

    #[test]
    fn the_shipped_list_is_djangos() {
        assert!(COMMON_PASSWORDS.len() > 19_000);
        assert!(COMMON_PASSWORDS.contains("123456"));
    }

    #[test]
    fn usernames_follow_djangos_validator() {
        for ok in [
            "alice",
            "a",
            "Zoë",
            "用户",
            "a.b+c-d_e@f",
            "x1",
            &"u".repeat(150),
        ] {
            assert!(username_problems(ok).is_empty(), "{ok:?} is valid");
        }
        for bad in [
            "",
            "with space",
            "semi;colon",
            "slash/",
            "tab\t",
            "emoji😀",
            &"u".repeat(151),
        ] {
            assert!(!username_problems(bad).is_empty(), "{bad:?} is invalid");
        }
    }

    #[test]
    fn emails_have_one_at() {
        assert!(email_problems("a@example.com").is_empty());
        assert!(email_problems("a@b").is_empty());
        for bad in [
            "",
            "no-at",
            "two@@example.com",
            "a@b@c",
            "@example.com",
            "a@",
            "a b@c",
            &format!("{}@b.c", "a".repeat(251)),
        ] {
            assert!(!email_problems(bad).is_empty(), "{bad:?} is invalid");
        }
    }
}
