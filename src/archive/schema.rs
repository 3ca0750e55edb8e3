//! The archive's tables, versioned: each migration in `migrations/` runs
//! once, in order, in a transaction of its own, under an advisory lock so
//! that two processes starting together do not both run it.

use tokio_postgres::Client;

/// Every migration, oldest first: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "archive", include_str!("migrations/0001_archive.sql")),
    (2, "events_brin", include_str!("migrations/0002_events_brin.sql")),
    (3, "expect_cursor", include_str!("migrations/0003_expect_cursor.sql")),
    (4, "event_pages", include_str!("migrations/0004_event_pages.sql")),
    (
        5,
        "event_pages_text",
        include_str!("migrations/0005_event_pages_text.sql"),
    ),
];

/// The lock's key: "hallcall" in ASCII.
const LOCK: i64 = 0x6861_6c6c_6361_6c6c;

/// Brings the database's schema up to date; the version it is at after.
///
/// # Errors
/// PostgreSQL refused a statement, or holds a newer schema than this build
/// knows.
pub async fn migrate(client: &mut Client) -> Result<i32, tokio_postgres::Error> {
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS hallcall;
             CREATE TABLE IF NOT EXISTS hallcall.migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let mut at = 0;
    for (version, name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK]).await?;
        let done = tx
            .query_opt("SELECT 1 FROM hallcall.migrations WHERE version = $1", &[version])
            .await?
            .is_some();
        if !done {
            tracing::info!(version, name, "archive: applying a schema migration");
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO hallcall.migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .await?;
        }
        tx.commit().await?;
        at = *version;
    }
    Ok(at)
}
