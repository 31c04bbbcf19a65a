//! Scratch PostgreSQL databases for tests: one fresh database per test, dropped afterwards, so
//! tests run in parallel against one server. The server comes from `HIPPO_TEST_DATABASE_URL`,
//! else the local default server when one is listening.

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

/// The server tried when `HIPPO_TEST_DATABASE_URL` is unset: the local one these machines run
/// (trust auth, database `test`), so that plain `cargo test --workspace` covers PostgreSQL too.
pub const LOCAL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Where tests create their databases: `HIPPO_TEST_DATABASE_URL`, else [`LOCAL_DEFAULT`] if
/// something listens on its port (`explicit` = false), else `None` after printing why.
pub fn admin_url(test: &str) -> Option<(String, bool)> {
    let explicit = std::env::var(ENV).is_ok_and(|u| !u.trim().is_empty());
    match admin_url_quiet() {
        Some(url) => Some((url, explicit)),
        None => {
            skipped(test, "nothing listens on 127.0.0.1:5432");
            None
        }
    }
}

fn skipped(test: &str, why: &str) {
    crate::store::note(&format!(
        "SKIPPED (PostgreSQL half) {test}: {ENV} is not set and {why}; run .ci/run, or set it to e.g. {LOCAL_DEFAULT}"
    ));
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
    /// Creates a fresh, empty database; `None` (with a note) if no PostgreSQL server is configured
    /// or reachable.
    pub async fn create(test: &str) -> Option<Self> {
        let (admin_url, explicit) = admin_url(test)?;
        let name = format!("hippo_t_{}", uuid_simple());
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            // A server the developer did not name may want a password: skip, loudly.
            Err(e) if !explicit => {
                skipped(
                    test,
                    &format!("{LOCAL_DEFAULT} refused the connection ({e})"),
                );
                return None;
            }
            Err(e) => panic!("{ENV} does not accept connections: {e}"),
        };
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
        run_on(&self.url, sql).await
    }

    /// Runs a query whose every column is text (cast in the query) and returns its rows.
    pub async fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        text_rows_on(&self.url, sql).await
    }

    /// [`TestDatabase::create`] for a caller that cannot await (a test server starting from
    /// inside a test's runtime): runs it on a runtime of its own, on another thread.
    pub fn create_blocking(test: &str) -> Option<Self> {
        let test = test.to_owned();
        on_own_runtime(async move { Self::create(&test).await })
    }

    /// A database for a test server when the suite runs on PostgreSQL: there, no server is a
    /// failure, not a skip (the run was asked to test PostgreSQL).
    pub fn create_for_suite(test: &str) -> Self {
        if admin_url_quiet().is_none() {
            panic!(
                "{} selects PostgreSQL, but {ENV} is unset and nothing listens on 127.0.0.1:5432: \
                 set {ENV} (e.g. {LOCAL_DEFAULT}) or run .ci/run",
                crate::store::STORE_ENV
            );
        }
        Self::create_blocking(test).unwrap_or_else(|| {
            panic!(
                "{} selects PostgreSQL, but {LOCAL_DEFAULT} refused the connection: set {ENV}",
                crate::store::STORE_ENV
            )
        })
    }
}

/// Where tests create databases, as [`admin_url`] finds it, without printing a skip note.
pub fn admin_url_quiet() -> Option<String> {
    if let Ok(u) = std::env::var(ENV) {
        if !u.trim().is_empty() {
            return Some(u);
        }
    }
    let local: std::net::SocketAddr = "127.0.0.1:5432".parse().expect("address");
    std::net::TcpStream::connect_timeout(&local, std::time::Duration::from_millis(300))
        .ok()
        .map(|_| LOCAL_DEFAULT.to_owned())
}

/// Runs `sql` (one or more statements) on the database at `url`.
pub async fn run_on(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .expect("superuser connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
}

/// Runs a query whose every column is text (cast in the query) on the database at `url`.
pub async fn text_rows_on(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .expect("superuser connection");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<Option<String>, _>(i).expect("a text column"))
                .collect()
        })
        .collect()
}

/// Runs `fut` to completion on a fresh single-threaded runtime on its own thread: code called
/// from inside a test's runtime cannot block on that runtime.
fn on_own_runtime<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(fut)
    })
    .join()
    .expect("the helper thread finishes")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        on_own_runtime(async move {
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut c)
                .await;
            }
        });
    }
}

fn uuid_simple() -> String {
    hippo_core::RecordId::new().to_string().replace('-', "")
}
