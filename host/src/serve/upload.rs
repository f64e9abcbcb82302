//! Receiving a capture. Captures are often larger than memory, so the upload is written to the case
//! folder chunk by chunk as it arrives and counted on the way: the moment it passes the limit, the
//! partial file and its folder are removed and the upload is refused. A finished upload is then opened
//! as a capture; anything else (a text file, an empty file) is refused with the reader's own
//! explanation, and no case is left behind. Cleanup is tied to a guard, so a client that hangs up
//! mid-upload leaves nothing either.

use super::cases::{CaseId, CaseMeta, Store};
use crate::decode::CaptureReader;
use axum::extract::Multipart;
use axum::http::StatusCode;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// Why an upload was refused; the message is shown on the page.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("The file is larger than the upload limit of {limit_mb} MiB; nothing was kept.")]
    TooLarge { limit_mb: u64 },
    #[error("{0}")]
    NotACapture(String),
    #[error(
        "The upload carried no file; send the capture as the form field `capture` (multipart/form-data)."
    )]
    NoFile,
    #[error("The upload was interrupted: {0}")]
    Interrupted(String),
    #[error("The capture could not be stored: {0}")]
    Storage(String),
}

impl UploadError {
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::NotACapture(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UploadError::NoFile | UploadError::Interrupted(_) => StatusCode::BAD_REQUEST,
            UploadError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Removes a case folder unless the upload was accepted.
struct Partial {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Stores the first file of a multipart upload as a new case and checks it is a capture.
pub async fn receive(
    store: &Store,
    mut form: Multipart,
    limit: u64,
) -> Result<CaseMeta, UploadError> {
    let interrupted =
        |e: axum::extract::multipart::MultipartError| UploadError::Interrupted(e.body_text());
    let mut field = loop {
        match form.next_field().await.map_err(interrupted)? {
            None => return Err(UploadError::NoFile),
            Some(f) if f.file_name().is_some() || f.name() == Some("capture") => break f,
            Some(_) => continue,
        }
    };
    let name = display_name(field.file_name().unwrap_or("capture"));
    let id = CaseId::generate();
    let storage = |e: std::io::Error| UploadError::Storage(e.to_string());
    let mut partial = Partial {
        dir: store.create(&id).map_err(storage)?,
        keep: false,
    };
    let path = store.capture_path(&id);
    let mut file = tokio::fs::File::create(&path).await.map_err(storage)?;
    let mut size: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(interrupted)? {
        size += chunk.len() as u64;
        if size > limit {
            drop(file);
            return Err(UploadError::TooLarge {
                limit_mb: limit >> 20,
            });
        }
        file.write_all(&chunk).await.map_err(storage)?;
    }
    file.flush().await.map_err(storage)?;
    file.sync_all().await.map_err(storage)?;
    drop(file);

    let opened = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || CaptureReader::open(&path).map(|_| ()))
            .await
            .map_err(|e| UploadError::Storage(e.to_string()))?
    };
    if let Err(e) = opened {
        let message = e.to_string().replace(&path.display().to_string(), &name);
        return Err(UploadError::NotACapture(format!(
            "{message}. Nothing was kept; upload a pcap or pcapng file."
        )));
    }
    let meta = CaseMeta::new(&id, name, size);
    store.save(&meta).map_err(storage)?;
    partial.keep = true;
    Ok(meta)
}

/// The uploaded file's name without any folder part or control characters, at most 200 characters.
pub fn display_name(raw: &str) -> String {
    // Browsers send `"`, CR and LF of a file name as %22, %0D and %0A (the HTML standard's
    // multipart/form-data encoding): the evidence keeps its real name.
    let raw = raw
        .replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n");
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "capture".into()
    } else {
        clean.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn uploaded_names_lose_folders_and_control_characters() {
        assert_eq!(display_name("C:\\Users\\x\\a.pcap"), "a.pcap");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("a\u{0}b\nc.pcap"), "abc.pcap");
        assert_eq!(display_name(""), "capture");
        assert_eq!(display_name("dir/"), "capture");
        // As Chromium sends `"><svg onload=alert(2)>.pcap`: the name the file really has.
        assert_eq!(
            display_name("%22><svg onload=alert(2)>.pcap"),
            "\"><svg onload=alert(2)>.pcap"
        );
        assert_eq!(display_name("a%0D%0Ab.pcap"), "ab.pcap");
    }
}
