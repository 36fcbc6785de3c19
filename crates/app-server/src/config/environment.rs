//! AUTH_ENV: development is forgiving, production refuses what would be unsafe.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v {
            "development" => Ok(Self::Development),
            "production" => Ok(Self::Production),
            _ => Err("must be development or production".to_owned()),
        }
    }
}
