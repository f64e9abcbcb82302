//! SQLite for output plugins (`grants.sqlite`). SQLite is C, which a wasm plugin cannot link, so the
//! host runs it: a plugin names a database file in the report folder and sends statements; it cannot
//! reach any other file (no `ATTACH`, names checked like report files).

use super::Session;
use crate::bindings::CapabilityError;
use crate::bindings::output::pcapxray::plugin::sqlite;
use crate::bindings::output::pcapxray::plugin::sqlite::Value;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Default)]
pub struct Databases {
    open: HashMap<String, Connection>,
}

impl Databases {
    /// The connection for `name` inside `dir`, opened (and the file registered) on first use.
    fn connection(
        &mut self,
        dir: &Path,
        name: &str,
        created: &mut Vec<PathBuf>,
    ) -> Result<&mut Connection, CapabilityError> {
        if !self.open.contains_key(name) {
            let path = crate::output::artifact_path(dir, name)
                .map_err(|e| CapabilityError::Denied(e.to_string()))?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| CapabilityError::Other(format!("{name}: {e}")))?;
            }
            // A database left by an earlier run of the same report folder is replaced, not appended to.
            let _ = std::fs::remove_file(&path);
            let conn = Connection::open(&path)
                .map_err(|e| CapabilityError::Other(format!("{name}: {e}")))?;
            // Plugins get SQL, not the file system: no ATTACH of other files, no extensions.
            conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)
                .map_err(|e| CapabilityError::Other(e.to_string()))?;
            conn.pragma_update(None, "journal_mode", "OFF")
                .map_err(|e| CapabilityError::Other(e.to_string()))?;
            conn.pragma_update(None, "synchronous", "OFF")
                .map_err(|e| CapabilityError::Other(e.to_string()))?;
            created.push(path);
            self.open.insert(name.to_string(), conn);
        }
        Ok(self.open.get_mut(name).expect("inserted above"))
    }

    pub fn execute(
        &mut self,
        dir: &Path,
        name: &str,
        sql: &str,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), CapabilityError> {
        let conn = self.connection(dir, name, created)?;
        conn.execute_batch(sql)
            .map_err(|e| CapabilityError::Other(format!("{name}: {e}")))
    }

    pub fn insert(
        &mut self,
        dir: &Path,
        name: &str,
        sql: &str,
        rows: &[Vec<Value>],
        created: &mut Vec<PathBuf>,
    ) -> Result<u64, CapabilityError> {
        let conn = self.connection(dir, name, created)?;
        let fail = |e: rusqlite::Error| CapabilityError::Other(format!("{name}: {e}"));
        let tx = conn.transaction().map_err(fail)?;
        let mut changed = 0u64;
        {
            let mut stmt = tx.prepare_cached(sql).map_err(fail)?;
            for row in rows {
                let params = rusqlite::params_from_iter(row.iter().map(to_sql));
                changed += stmt.execute(params).map_err(fail)? as u64;
            }
        }
        tx.commit().map_err(fail)?;
        Ok(changed)
    }
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Integer(i) => V::Integer(*i),
        Value::Real(r) => V::Real(*r),
        Value::Text(t) => V::Text(t.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

impl sqlite::Host for Session {
    fn execute(&mut self, database: String, sql: String) -> Result<(), CapabilityError> {
        let dir = self.sqlite_dir()?;
        let mut created = Vec::new();
        let result = self.databases.execute(&dir, &database, &sql, &mut created);
        self.register(created);
        result
    }

    fn insert(
        &mut self,
        database: String,
        sql: String,
        rows: Vec<Vec<sqlite::Value>>,
    ) -> Result<u64, CapabilityError> {
        let dir = self.sqlite_dir()?;
        let mut created = Vec::new();
        let started = Instant::now();
        let result = self
            .databases
            .insert(&dir, &database, &sql, &rows, &mut created);
        self.host_time += started.elapsed();
        self.register(created);
        result
    }
}

impl Session {
    /// The report folder, when this stage may keep databases there.
    fn sqlite_dir(&self) -> Result<std::path::PathBuf, CapabilityError> {
        if !self.grants.sqlite {
            return Err(super::not_granted(
                &self.stage,
                "sqlite",
                "to write a SQLite database",
            ));
        }
        self.report_dir()
    }
}
