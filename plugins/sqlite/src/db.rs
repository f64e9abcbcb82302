//! Where the SQL goes. In the plugin, to the host's `sqlite` capability (SQLite is C, which the
//! sandbox cannot link, so the host runs it on a file in the report folder); in the native unit tests,
//! to an in-memory SQLite, so the schema and every insert are checked against a real database.

use pcapxray_plugin_sdk::{CapabilityError, sqlite, sqlite::Value};

/// A database that runs statements.
pub trait Db {
    /// Runs statements without parameters.
    fn execute(&mut self, sql: &str) -> Result<(), CapabilityError>;
    /// Runs one statement once per row, in one transaction.
    fn insert(&mut self, sql: &str, rows: &[Vec<Value>]) -> Result<u64, CapabilityError>;
}

/// The database file `name` in the report folder, through the host.
pub struct HostDb {
    pub name: String,
}

impl Db for HostDb {
    fn execute(&mut self, sql: &str) -> Result<(), CapabilityError> {
        sqlite::execute(&self.name, sql)
    }

    fn insert(&mut self, sql: &str, rows: &[Vec<Value>]) -> Result<u64, CapabilityError> {
        sqlite::insert(&self.name, sql, rows)
    }
}

#[cfg(test)]
pub mod memory {
    //! An in-memory SQLite standing in for the host.
    use super::*;

    pub struct MemDb {
        pub conn: rusqlite::Connection,
        /// Calls of `insert`, by statement, to check the batching.
        pub inserts: Vec<String>,
        /// Refuse everything as the host does when the grant is missing.
        pub refuse: bool,
        /// Fail the first `execute` as the host does while a pipeline is only validated.
        pub no_folder_yet: bool,
    }

    impl MemDb {
        pub fn new() -> MemDb {
            MemDb {
                conn: rusqlite::Connection::open_in_memory().unwrap(),
                inserts: Vec::new(),
                refuse: false,
                no_folder_yet: false,
            }
        }
    }

    fn fail(e: rusqlite::Error) -> CapabilityError {
        CapabilityError::Other(e.to_string())
    }

    fn refused() -> CapabilityError {
        CapabilityError::NotGranted(
            "stage `sqlite` asked to write a SQLite database, but the pipeline does not grant it `sqlite`".into(),
        )
    }

    impl Db for MemDb {
        fn execute(&mut self, sql: &str) -> Result<(), CapabilityError> {
            if self.refuse {
                return Err(refused());
            }
            if self.no_folder_yet {
                self.no_folder_yet = false;
                return Err(CapabilityError::Other(
                    "there is no report folder while validating a pipeline".into(),
                ));
            }
            self.conn.execute_batch(sql).map_err(fail)
        }

        fn insert(&mut self, sql: &str, rows: &[Vec<Value>]) -> Result<u64, CapabilityError> {
            if self.refuse {
                return Err(refused());
            }
            self.inserts.push(sql.to_string());
            let tx = self.conn.transaction().map_err(fail)?;
            let mut n = 0;
            {
                let mut stmt = tx.prepare_cached(sql).map_err(fail)?;
                for row in rows {
                    let params = rusqlite::params_from_iter(row.iter().map(|v| match v {
                        Value::Null => rusqlite::types::Value::Null,
                        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
                        Value::Real(r) => rusqlite::types::Value::Real(*r),
                        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
                        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
                    }));
                    n += stmt.execute(params).map_err(fail)? as u64;
                }
            }
            tx.commit().map_err(fail)?;
            Ok(n)
        }
    }
}
