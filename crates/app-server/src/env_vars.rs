//! Reading environment variables so that every error names its variable.

use std::collections::HashMap;

/// One line for stderr, naming the variable (and its value, except for secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {problem}")]
pub struct EnvError {
    pub variable: &'static str,
    pub problem: String,
}

impl EnvError {
    pub fn invalid(variable: &'static str, problem: String) -> Self {
        Self { variable, problem }
    }
}

/// A snapshot of the variables, so parsing is a pure function of it.
#[derive(Debug, Default, Clone)]
pub struct Env {
    vars: HashMap<String, Option<String>>,
}

impl Env {
    pub fn process() -> Self {
        // A value that is not UTF-8 is kept as None and reported if it is one of ours.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok())))
            .collect();
        Self { vars }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
                .collect(),
        }
    }

    /// The value, or `None` when unset or empty.
    fn get(&self, name: &str) -> Option<&str> {
        match self.vars.get(name) {
            Some(Some(v)) if !v.is_empty() => Some(v.as_str()),
            _ => None,
        }
    }

    /// The value as set, `None` when unset or empty; an error when it is
    /// not UTF-8 (the value is not shown: it may be a secret).
    pub fn value(&self, name: &'static str) -> Result<Option<&str>, EnvError> {
        if matches!(self.vars.get(name), Some(None)) {
            return Err(EnvError::invalid(name, "is not valid UTF-8".to_owned()));
        }
        Ok(self.get(name))
    }
}
