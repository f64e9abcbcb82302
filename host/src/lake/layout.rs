//! Where a capture's tables go in the lake, and how they get there without a reader ever seeing half a
//! file: `ROOT/TABLE/sensor=S/date=D/capture=SHA256/part-0.parquet` (Hive-style partitions that Spark,
//! DuckDB and Trino read as columns). Each file is written under `ROOT/.staging/` and renamed into
//! place, which replaces the previous file of the same capture at once; the `captures` table is
//! published last, so a capture listed there has all its tables in place. Running a capture again
//! therefore replaces its rows and never adds to them: an engine's retries are safe.

use super::LakeError;
use std::fs;
use std::path::{Path, PathBuf};

/// The one file of a table's partition.
pub const PART: &str = "part-0.parquet";

/// The partition of one capture.
pub struct Partition {
    pub sensor: String,
    /// `YYYY-MM-DD` (UTC) of the capture's first packet; `1970-01-01` for a capture without packets.
    pub date: String,
    pub sha256: String,
}

impl Partition {
    pub fn dir(&self, root: &Path, table: &str) -> PathBuf {
        root.join(table)
            .join(format!("sensor={}", self.sensor))
            .join(format!("date={}", self.date))
            .join(format!("capture={}", self.sha256))
    }
}

/// A sensor name is a path component and a partition value: letters, digits, `.`, `_` and `-`, not
/// starting with a dot, at most 64 characters.
pub fn check_sensor(sensor: &str) -> Result<(), LakeError> {
    let ok = !sensor.is_empty()
        && sensor.len() <= 64
        && !sensor.starts_with('.')
        && sensor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(LakeError::Sensor(sensor.to_string()))
    }
}

/// A fresh staging folder under `root/.staging`, unique to this process and moment.
pub fn staging(root: &Path) -> Result<PathBuf, LakeError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Runs of one batch share the process: the counter keeps their folders apart.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = root
        .join(".staging")
        .join(format!("{}-{n}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| LakeError::io("create", &dir, e))?;
    Ok(dir)
}

/// Moves a staged file into its partition (replacing the previous one), then removes anything else
/// the partition held (files of an older layout, leftovers of a crash).
pub fn publish(staged: &Path, partition_dir: &Path) -> Result<PathBuf, LakeError> {
    fs::create_dir_all(partition_dir).map_err(|e| LakeError::io("create", partition_dir, e))?;
    let target = partition_dir.join(PART);
    fs::rename(staged, &target).map_err(|error| LakeError::Move {
        from: staged.to_path_buf(),
        to: target.clone(),
        error,
    })?;
    let entries =
        fs::read_dir(partition_dir).map_err(|e| LakeError::io("list", partition_dir, e))?;
    for entry in entries.flatten() {
        if entry.file_name() != PART {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(target)
}

/// `YYYY-MM-DD` of a time in nanoseconds since the epoch (UTC).
pub fn date_of(ns: u64) -> String {
    let days = (ns / 86_400_000_000_000) as i64;
    let (y, m, d) = crate::clock::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date_of(0), "1970-01-01");
        // 2000-02-29T23:59:59Z and one second later (checked with `date -u -d @951868799`).
        assert_eq!(date_of(951_868_799_000_000_000), "2000-02-29");
        assert_eq!(date_of(951_868_800_000_000_000), "2000-03-01");
    }

    #[test]
    fn sensor_names_that_could_leave_the_folder_are_refused() {
        assert!(check_sensor("tap-1.dc2").is_ok());
        for bad in ["", "..", "a/b", ".hidden", "a=b", "é"] {
            assert!(check_sensor(bad).is_err(), "{bad}");
        }
    }
}
