//! A JSON array read element by element (serde's `SeqAccess`), so that a
//! dump of any size is held one record at a time.

use std::io::{BufReader, Read};

use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use serde_json::Value;

use super::ImportError;

/// Call `each` with every element of the JSON array in `reader`, and its
/// index; the first error, `each`'s or the parser's, ends the reading.
pub fn records(
    reader: Box<dyn Read>,
    each: impl FnMut(usize, Value) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, reader));
    let mut visitor = Elements {
        each,
        count: 0,
        stopped: None,
    };
    let parsed = (&mut de).deserialize_seq(&mut visitor);
    if let Some(e) = visitor.stopped {
        return Err(e);
    }
    let malformed = |e: serde_json::Error| ImportError::Malformed {
        index: visitor.count,
        reason: e.to_string(),
    };
    parsed.map_err(malformed)?;
    de.end().map_err(malformed)
}

struct Elements<F> {
    each: F,
    count: usize,
    stopped: Option<ImportError>,
}

impl<'de, F> Visitor<'de> for &mut Elements<F>
where
    F: FnMut(usize, Value) -> Result<(), ImportError>,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of records, as `dumpdata auth.user` writes it")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            if let Err(e) = (self.each)(self.count, value) {
                self.stopped = Some(e);
                return Err(A::Error::custom("stopped"));
            }
            self.count += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (Vec<Value>, Result<(), ImportError>) {
        let mut seen = Vec::new();
        let result = records(Box::new(std::io::Cursor::new(json.to_owned())), |i, v| {
            assert_eq!(i, seen.len());
            seen.push(v);
            Ok(())
        });
        (seen, result)
    }

    #[test]
    fn reads_each_element() {
        let (seen, result) = read(r#" [ {"a": 1}, {"b": 2} ] "#);
        assert!(result.is_ok());
        assert_eq!(seen.len(), 2);
        let (seen, result) = read("[]");
        assert!(result.is_ok() && seen.is_empty());
    }

    #[test]
    fn malformed_json_names_the_record() {
        let (_, result) = read(r#"[{"a": 1}, {"b": ]"#);
        assert!(
            matches!(result, Err(ImportError::Malformed { index: 1, .. })),
            "{result:?}"
        );
        let (_, result) = read(r#"{"model": "auth.user"}"#);
        assert!(matches!(
            result,
            Err(ImportError::Malformed { index: 0, .. })
        ));
        let (_, result) = read("[] trailing");
        assert!(matches!(result, Err(ImportError::Malformed { .. })));
    }
}
