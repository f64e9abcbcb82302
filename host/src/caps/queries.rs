//! The record of every query the host sent on a plugin's behalf. It goes into the report, so an
//! investigator can say exactly what left the machine during an analysis.

use crate::bindings::wit;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub struct QueryLog {
    records: Mutex<Vec<wit::QueryRecord>>,
}

impl QueryLog {
    /// Notes one query and its outcome.
    pub fn record(&self, stage: &str, capability: &str, query: &str, server: &str, answer: &str) {
        let sent = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let record = wit::QueryRecord {
            stage: stage.to_string(),
            capability: capability.to_string(),
            query: query.to_string(),
            server: server.to_string(),
            answer: answer.to_string(),
            sent,
        };
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    /// Every query so far.
    pub fn take(&self) -> Vec<wit::QueryRecord> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
