//! `app-server import-django-users`: a Django project's users, from the
//! output of `manage.py dumpdata auth.user` (a file or standard input) or
//! straight from its `auth_user` table, into ours, all or nothing in one
//! transaction (docs/API.md, "Coming from Django").
//!
//! The dump is read as a stream, record by record, and written in batches:
//! memory holds one batch, however large the file.

mod record;
mod stream;

use std::io::Read;

use chrono::{DateTime, Utc};
use domain::django_import::{DjangoSource, DjangoSourceError, ImportedUser, Importer, OnConflict};
use domain::{write_transaction, DbConnection, QueryError};

pub use record::BadRecord;

/// Users per query: one lookup and one insert each.
const BATCH: usize = 1000;

pub enum Source {
    /// A `dumpdata auth.user` JSON array.
    Dump(Box<dyn Read>),
    /// Django's database URL (postgres:// or sqlite://), read only.
    Database(String),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub created: u64,
    pub skipped: u64,
    pub updated: u64,
    /// Users whose hash is unusable (`!`) or a legacy format, stored as
    /// unusable: password reset gives them one.
    pub unverifiable: u64,
    pub dry_run: bool,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{} records: {} created, {} skipped, {} updated; {} with a password that cannot be verified here",
            if self.dry_run { "dry run, nothing written: " } else { "" },
            self.records,
            self.created,
            self.skipped,
            self.updated,
            self.unverifiable
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}; nothing imported")]
    BadRecord(#[from] BadRecord),
    #[error("record {index}: malformed JSON ({reason}); nothing imported")]
    Malformed { index: usize, reason: String },
    /// Each conflict, one line each.
    #[error("{} conflicting users (listed above); nothing imported (see --on-conflict)", .0.len())]
    Conflicts(Vec<String>),
    #[error("the Django database: {0}")]
    Source(#[from] DjangoSourceError),
    #[error("database error: {0}")]
    Database(#[from] QueryError),
    /// Not a failure: ends a dry run's transaction with a rollback.
    #[error("dry run")]
    DryRun(Summary),
}

/// Import everything from `source`, or nothing.
pub fn run(
    conn: &mut DbConnection,
    source: Source,
    on_conflict: OnConflict,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<Summary, ImportError> {
    let result = write_transaction(conn, |c| {
        let mut run = Run {
            importer: Importer::new(on_conflict),
            batch: Vec::with_capacity(BATCH),
            first_index: 0,
            summary: Summary::default(),
        };
        match source {
            Source::Dump(reader) => stream::records(reader, |index, value| {
                let mapped = record::from_fixture(index, value, now)?;
                run.push(c, mapped)
            })?,
            Source::Database(url) => {
                let mut django = DjangoSource::open(&url)?;
                let (mut after, mut index) = (0, 0);
                loop {
                    let page = django.page(after, BATCH as i64)?;
                    let Some(last) = page.last() else { break };
                    after = last.id;
                    for row in page {
                        let mapped = record::from_row(index, row, now)?;
                        run.push(c, mapped)?;
                        index += 1;
                    }
                }
            }
        }
        run.flush(c)?;
        let Run {
            importer,
            mut summary,
            ..
        } = run;
        if !importer.conflicts.is_empty() {
            return Err(ImportError::Conflicts(importer.conflicts));
        }
        importer.finish(c)?;
        summary.created = importer.counts.created;
        summary.skipped = importer.counts.skipped;
        summary.updated = importer.counts.updated;
        if dry_run {
            summary.dry_run = true;
            return Err(ImportError::DryRun(summary));
        }
        Ok(summary)
    });
    match result {
        Err(ImportError::DryRun(summary)) => Ok(summary),
        // In a dry run too: conflicts are what it reports.
        other => other,
    }
}

struct Run {
    importer: Importer,
    batch: Vec<ImportedUser>,
    first_index: usize,
    summary: Summary,
}

impl Run {
    fn push(&mut self, conn: &mut DbConnection, mapped: record::Mapped) -> Result<(), ImportError> {
        self.summary.records += 1;
        if !mapped.verifiable {
            self.summary.unverifiable += 1;
        }
        self.batch.push(mapped.user);
        if self.batch.len() == BATCH {
            self.flush(conn)?;
        }
        Ok(())
    }

    fn flush(&mut self, conn: &mut DbConnection) -> Result<(), ImportError> {
        self.importer.apply(conn, &self.batch, self.first_index)?;
        self.first_index += self.batch.len();
        self.batch.clear();
        Ok(())
    }
}
