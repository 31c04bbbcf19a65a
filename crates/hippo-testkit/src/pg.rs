//! Scratch PostgreSQL databases for tests: one fresh database per test, dropped afterwards, so
//! tests run in parallel against one server. The server comes from `HIPPO_TEST_DATABASE_URL`.

use sqlx::Connection;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const ENV: &str = "HIPPO_TEST_DATABASE_URL";

/// A database created for one test; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    /// URL of the fresh database.
    pub url: String,
    pub name: String,
    admin_url: String,
}

/// The admin URL, or `None` (after printing why) when PostgreSQL tests are not configured.
pub fn admin_url(test: &str) -> Option<String> {
    match std::env::var(ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            eprintln!(
                "SKIPPED (PostgreSQL half) {test}: {ENV} is not set; run .ci/run, or set it to e.g. postgres://postgres@127.0.0.1:5432/test"
            );
            None
        }
    }
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDatabase {
    /// Creates a fresh, empty database; `None` if `HIPPO_TEST_DATABASE_URL` is unset.
    pub async fn create(test: &str) -> Option<Self> {
        let admin_url = admin_url(test)?;
        let name = format!("hippo_t_{}", uuid_simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("HIPPO_TEST_DATABASE_URL accepts connections");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        Some(Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// A superuser connection to this database, for tests that inspect or damage it directly.
    pub async fn superuser(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url)
            .await
            .expect("superuser connection")
    }
}

impl TestDatabase {
    /// Runs `sql` (one or more statements) as the superuser.
    pub async fn run(&self, sql: &str) {
        let mut c = self.superuser().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs a query whose every column is text (cast in the query) and returns its rows.
    pub async fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        let mut c = self.superuser().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<Option<String>, _>(i).expect("a text column"))
                    .collect()
            })
            .collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            })
        })
        .join();
    }
}

fn uuid_simple() -> String {
    hippo_core::RecordId::new().to_string().replace('-', "")
}
