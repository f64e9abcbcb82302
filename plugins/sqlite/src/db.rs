//! The native unit tests' database. In the plugin the SQL goes to the host's `sqlite` capability
//! (SQLite is C, which the sandbox cannot link, so the host runs it on a file in the report folder)
//! through the SDK's `WitHost`; in the tests, the SDK's fake host hands it to an in-memory SQLite, so
//! the schema and every insert are checked against a real database.

use pcapxray_plugin_sdk::CapabilityError;
use pcapxray_plugin_sdk::sqlite::Value;
use pcapxray_plugin_sdk::testing::FakeHost;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// An in-memory SQLite behind a fake host that grants `sqlite`.
pub struct MemDb {
    /// The host to give the writer.
    pub host: FakeHost,
    /// The database.
    pub conn: Rc<RefCell<rusqlite::Connection>>,
}

impl MemDb {
    pub fn new() -> MemDb {
        MemDb::failing_first_execute(false)
    }

    /// Fails the first `execute` as the host does while a pipeline is only validated (there is no
    /// report folder yet).
    pub fn without_folder_yet() -> MemDb {
        MemDb::failing_first_execute(true)
    }

    fn failing_first_execute(fail: bool) -> MemDb {
        let conn = Rc::new(RefCell::new(
            rusqlite::Connection::open_in_memory().unwrap(),
        ));
        let db = Rc::clone(&conn);
        let no_folder_yet = Cell::new(fail);
        let host = FakeHost::new("sqlite").grant_sqlite(move |_database, sql, rows| {
            let mut c = db.borrow_mut();
            match rows {
                None if no_folder_yet.replace(false) => Err(CapabilityError::Other(
                    "there is no report folder while validating a pipeline".into(),
                )),
                None => c.execute_batch(sql).map(|_| 0).map_err(fail_with),
                Some(rows) => insert(&mut c, sql, rows),
            }
        });
        MemDb { host, conn }
    }

    /// The statements of the `insert` calls so far, to check the batching.
    pub fn inserts(&self) -> Vec<String> {
        self.host
            .calls()
            .iter()
            .filter_map(|c| c.strip_prefix("sqlite_insert "))
            .map(|c| c.split_once(' ').map_or(c, |(_, sql)| sql).to_string())
            .collect()
    }

    /// The database, once the writer is done with it.
    pub fn into_conn(self) -> rusqlite::Connection {
        self.host.state().sqlite = None;
        match Rc::try_unwrap(self.conn) {
            Ok(conn) => conn.into_inner(),
            Err(_) => panic!("the fake host still holds the database"),
        }
    }
}

fn fail_with(e: rusqlite::Error) -> CapabilityError {
    CapabilityError::Other(e.to_string())
}

fn insert(
    conn: &mut rusqlite::Connection,
    sql: &str,
    rows: &[Vec<Value>],
) -> Result<u64, CapabilityError> {
    let tx = conn.transaction().map_err(fail_with)?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached(sql).map_err(fail_with)?;
        for row in rows {
            let params = rusqlite::params_from_iter(row.iter().map(|v| match v {
                Value::Null => rusqlite::types::Value::Null,
                Value::Integer(i) => rusqlite::types::Value::Integer(*i),
                Value::Real(r) => rusqlite::types::Value::Real(*r),
                Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
                Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
            }));
            n += stmt.execute(params).map_err(fail_with)? as u64;
        }
    }
    tx.commit().map_err(fail_with)?;
    Ok(n)
}
