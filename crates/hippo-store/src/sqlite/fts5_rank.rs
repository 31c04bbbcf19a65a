//! `hippo_bm25`, an FTS5 auxiliary function that scores each match from the phrase instances
//! FTS5 already holds for it, so ranking a search reads no row's text.
//!
//! FTS5's own `bm25()` computes the same formula but counts every phrase's rows again on each
//! query (a walk of the whole doclist); scoring in Rust from each row's text avoided that but
//! read 500 rows of text per search, most of them pages the cache did not hold. This function
//! takes the phrases' IDFs from the caller (cached per database) and reads only what FTS5 has
//! in hand: the instances of each phrase in the row, and the row's token count.
//!
//! Written by hand on SQLite's C interface: rusqlite wraps scalar functions but not FTS5's
//! auxiliary-function API, and no maintained crate does. Every pointer used comes from SQLite
//! for the duration of one call; nothing here can panic (a panic cannot cross `extern "C"`).

use crate::StoreError;
use rusqlite::ffi;
use rusqlite::Connection;
use std::os::raw::{c_int, c_void};
use std::ptr;

/// The function's SQL name. Arguments after the table: the key column's weight (the text's is
/// 1), the corpus's average row length in tokens, the IDF of each of the query's phrases, in
/// FTS5's phrase order, as a blob of little-endian `f64`s, and the row's length in tokens if
/// the caller has it (NULL: FTS5 looks it up, one statement per row).
pub const NAME: &str = "hippo_bm25";

/// The IDFs of a query's phrases as the function's last argument.
pub fn idf_blob(idfs: impl IntoIterator<Item = f64>) -> Vec<u8> {
    idfs.into_iter().flat_map(f64::to_le_bytes).collect()
}

/// Makes `hippo_bm25` available on `conn`.
pub fn register(conn: &Connection) -> Result<(), StoreError> {
    let failed = |what: &str| StoreError::Database(format!("cannot register {NAME}: {what}"));
    // SAFETY: `handle` is the live connection `conn` owns; the statement is finalized before
    // returning, and `api` is only used while the connection lives (FTS5 keeps it for the
    // connection's lifetime).
    unsafe {
        let db = conn.handle();
        let api = fts5_api(db).ok_or_else(|| failed("this SQLite has no FTS5 API"))?;
        let create = (*api)
            .xCreateFunction
            .ok_or_else(|| failed("no xCreateFunction"))?;
        let rc = create(
            api,
            c"hippo_bm25".as_ptr(),
            ptr::null_mut(),
            Some(bm25),
            None,
        );
        if rc != ffi::SQLITE_OK {
            return Err(failed(&format!("SQLite error {rc}")));
        }
    }
    Ok(())
}

/// FTS5's API object of connection `db`, fetched the documented way: `SELECT fts5(?1)` with a
/// pointer bound under the type name `fts5_api_ptr`.
unsafe fn fts5_api(db: *mut ffi::sqlite3) -> Option<*mut ffi::fts5_api> {
    let mut stmt = ptr::null_mut();
    let rc = ffi::sqlite3_prepare_v2(
        db,
        c"SELECT fts5(?1)".as_ptr(),
        -1,
        &mut stmt,
        ptr::null_mut(),
    );
    if rc != ffi::SQLITE_OK {
        return None;
    }
    let mut api: *mut ffi::fts5_api = ptr::null_mut();
    ffi::sqlite3_bind_pointer(
        stmt,
        1,
        (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
        c"fts5_api_ptr".as_ptr(),
        None,
    );
    ffi::sqlite3_step(stmt);
    ffi::sqlite3_finalize(stmt);
    // Version 2 is the first whose xCreateFunction has today's signature.
    (!api.is_null() && (*api).iVersion >= 2).then_some(api)
}

/// The auxiliary function itself (see [`NAME`] for its arguments).
unsafe extern "C" fn bm25(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    n_val: c_int,
    vals: *mut *mut ffi::sqlite3_value,
) {
    match score(&*api, fts, n_val, vals) {
        Ok(s) => ffi::sqlite3_result_double(ctx, s),
        Err(message) => {
            // Fixed text (never a value from the row or the query), copied by SQLite.
            ffi::sqlite3_result_error(ctx, message.as_ptr(), -1);
        }
    }
}

unsafe fn score(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    n_val: c_int,
    vals: *mut *mut ffi::sqlite3_value,
) -> Result<f64, &'static std::ffi::CStr> {
    const USAGE: &std::ffi::CStr =
        c"hippo_bm25(table, key weight, average length, IDF blob, length): wrong arguments";
    const FAILED: &std::ffi::CStr = c"hippo_bm25: FTS5 could not give the row's instances";
    if n_val != 4 || vals.is_null() {
        return Err(USAGE);
    }
    let vals = std::slice::from_raw_parts(vals, 4);
    let key_weight = ffi::sqlite3_value_double(vals[0]);
    let average_length = ffi::sqlite3_value_double(vals[1]);
    let blob = ffi::sqlite3_value_blob(vals[2]).cast::<u8>();
    let bytes = usize::try_from(ffi::sqlite3_value_bytes(vals[2])).unwrap_or(0);
    let idfs: Vec<f64> = if blob.is_null() || bytes == 0 {
        Vec::new()
    } else {
        std::slice::from_raw_parts(blob, bytes)
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect()
    };
    let (Some(phrase_count), Some(inst_count), Some(inst), Some(column_size)) =
        (api.xPhraseCount, api.xInstCount, api.xInst, api.xColumnSize)
    else {
        return Err(FAILED);
    };
    if usize::try_from(phrase_count(fts)).ok() != Some(idfs.len()) || bytes % 8 != 0 {
        return Err(USAGE);
    }
    let mut freqs = vec![0.0f64; idfs.len()];
    let mut n = 0;
    if inst_count(fts, &mut n) != ffi::SQLITE_OK {
        return Err(FAILED);
    }
    for i in 0..n {
        let (mut phrase, mut column, mut offset) = (0, 0, 0);
        if inst(fts, i, &mut phrase, &mut column, &mut offset) != ffi::SQLITE_OK {
            return Err(FAILED);
        }
        // Column 0 is the key text, column 1 the rest (record_id is unindexed).
        let weight = if column == 0 { key_weight } else { 1.0 };
        if let Some(f) = usize::try_from(phrase).ok().and_then(|p| freqs.get_mut(p)) {
            *f += weight;
        }
    }
    let mut tokens = 0;
    if ffi::sqlite3_value_type(vals[3]) == ffi::SQLITE_INTEGER {
        tokens = ffi::sqlite3_value_int(vals[3]);
    } else if column_size(fts, -1, &mut tokens) != ffi::SQLITE_OK {
        return Err(FAILED);
    }
    Ok(hippo_search::rank::bm25(
        freqs.into_iter().zip(idfs),
        f64::from(tokens),
        average_length,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(key, text);
             INSERT INTO t (rowid, key, text) VALUES (1, 'smith', 'chest pain smith'), (2, '', 'pain');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn scores_weight_the_key_column_and_match_the_formula() {
        let conn = table();
        let idf = 0.5_f64;
        let score = |rowid: i64, length: Option<i64>| -> f64 {
            conn.query_row(
                "SELECT hippo_bm25(t, 4.0, 2.0, ?1, ?3) FROM t WHERE t MATCH 'smith' AND rowid = ?2",
                rusqlite::params![idf_blob([idf]), rowid, length],
                |r| r.get(0),
            )
            .unwrap()
        };
        // Row 1: "smith" once in the key (weight 4) and once in the text, 4 tokens.
        // Without a length FTS5 counts it (4 tokens); a length given is used as it is.
        let expected = hippo_search::rank::bm25([(5.0, idf)], 4.0, 2.0);
        assert!((score(1, None) - expected).abs() < 1e-12, "{expected}");
        assert!((score(1, Some(4)) - expected).abs() < 1e-12, "{expected}");
        let longer = hippo_search::rank::bm25([(5.0, idf)], 9.0, 2.0);
        assert!((score(1, Some(9)) - longer).abs() < 1e-12, "{longer}");
    }

    #[test]
    fn wrong_arguments_are_an_sql_error_not_a_crash() {
        let conn = table();
        let two_idfs = Some(idf_blob([1.0, 2.0]));
        for (args, blob) in [("4.0, 2.0", None), ("4.0, 2.0, ?1, NULL", two_idfs)] {
            let sql = format!("SELECT hippo_bm25(t, {args}) FROM t WHERE t MATCH 'pain'");
            let e = conn
                .query_row(&sql, rusqlite::params_from_iter(blob), |r| {
                    r.get::<_, f64>(0)
                })
                .unwrap_err();
            assert!(e.to_string().contains("wrong arguments"), "{e}");
        }
    }
}
