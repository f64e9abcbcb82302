//! The URL map. Pages and forms live at `/` and `/cases/…` and answer in HTML; the same actions under
//! `/api/…` answer in JSON for the page's scripts and for other tools. Every handler that takes a case id
//! parses it first ([`CaseId::parse`]); a malformed id is a 404 like an unknown one.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | start page: upload form, cases |
//! | `POST /cases` | upload (multipart field `capture`); HTML: 303 to the case, JSON: 201 `{id}` |
//! | `GET /cases/{id}` | case page: progress, then the explore view |
//! | `POST /cases/{id}/delete` | delete (form), 303 to `/` |
//! | `POST /cases/{id}/rerun` | analyze again with the current pipeline (form), 303 to the case |
//! | `POST /cases/{id}/name` | name the case (form field `title`; empty removes it), 303 to the case |
//! | `GET /cases/{id}/report/{*path}` | a report file (attachment; `?view` to open it, sandboxed) |
//! | `GET /api/cases`, `GET /api/cases/{id}` | case list; one case with its report files |
//! | `GET /api/cases/{id}/events` | Server-Sent Events: `status` with the case as JSON until it ends |
//! | `DELETE /api/cases/{id}` | delete |
//! | `POST /api/cases/{id}/rerun` | analyze again; 202 `{id, url}` |
//! | `GET /assets/{name}` | embedded scripts and styles |

use super::App;
use super::cases::{CaseId, CaseMeta};
use super::files::{self, Refused};
use super::jobs::{ChangeError, DeleteError};
use super::pages::{self, wants_html};
use super::upload::{self, UploadError};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

type AppState = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/favicon.ico",
            get(|| async { pages::asset("favicon.svg") }),
        )
        .route("/assets/{name}", get(asset))
        .route("/cases", post(create).layer(DefaultBodyLimit::disable()))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/delete", post(delete_form))
        .route("/cases/{id}/rerun", post(rerun_form))
        .route("/cases/{id}/name", post(name_form))
        .route("/cases/{id}/report/{*path}", get(download))
        .route("/api/cases", get(list))
        .route("/api/cases/{id}", get(case_json).delete(delete_api))
        .route("/api/cases/{id}/events", get(events))
        .route("/api/cases/{id}/rerun", post(rerun_api))
        .fallback(|| async {
            pages::message(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address.",
            )
        })
        .layer(axum::middleware::from_fn(pages::guard))
        .with_state(app)
}

async fn index(State(app): AppState) -> Response {
    let limit = app.max_upload;
    pages::index(&all_cases(app).await, limit)
}

/// Every case, newest first, with the live state of those being analyzed taken at one moment.
async fn all_cases(app: Arc<App>) -> Vec<CaseMeta> {
    blocking(move || {
        // Live states first, then the folder: a case that ends meanwhile still counts as running
        // (its state a moment ago), never beside the case that took its slot.
        let mut live = app.jobs.snapshot();
        let cases = app.store.list().into_iter();
        cases.map(|m| live.remove(&m.id).unwrap_or(m)).collect()
    })
    .await
}

async fn asset(Path(name): Path<String>) -> Response {
    pages::asset(&name)
}

async fn create(
    State(app): AppState,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let html = wants_html(&headers);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A body that says up front it is too large is refused before a byte is read; the form's own
    // framing adds a few hundred bytes, so allow some room.
    let result = match form {
        _ if declared.is_some_and(|n| n > app.max_upload + 64 * 1024) => {
            Err(UploadError::TooLarge {
                limit_mb: app.max_upload >> 20,
            })
        }
        Err(_) => Err(UploadError::NoFile),
        Ok(form) => upload::receive(&app.store, form, app.max_upload).await,
    };
    match result {
        Ok(meta) => {
            let id = meta.id.clone();
            app.jobs.enqueue(meta);
            if html {
                Redirect::to(&format!("/cases/{id}")).into_response()
            } else {
                let url = format!("/cases/{id}");
                (StatusCode::CREATED, Json(json!({ "id": id, "url": url }))).into_response()
            }
        }
        Err(e) => {
            let mut response = if html {
                pages::message(e.status(), "Upload refused", &e.to_string())
            } else {
                (e.status(), Json(json!({ "error": e.to_string() }))).into_response()
            };
            // The rest of a refused body is not read; tell the client this connection is done.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

fn not_found_case(html: bool) -> Response {
    let text = "There is no such case; it may have been deleted.";
    if html {
        pages::message(StatusCode::NOT_FOUND, "No such case", text)
    } else {
        (StatusCode::NOT_FOUND, Json(json!({ "error": text }))).into_response()
    }
}

async fn case_page(State(app): AppState, Path(id): Path<String>) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(true);
    };
    let found = blocking(move || {
        let meta = app.jobs.current(&id)?;
        Some((meta, files::list(&app.store.report_dir(&id))))
    })
    .await;
    match found {
        Some((meta, files)) => pages::case(&meta, &files),
        None => not_found_case(true),
    }
}

async fn list(State(app): AppState) -> Response {
    Json(json!({ "cases": all_cases(app).await })).into_response()
}

async fn case_json(State(app): AppState, Path(id): Path<String>) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(false);
    };
    let found = blocking(move || {
        let meta = app.jobs.current(&id)?;
        Some((meta, files::list(&app.store.report_dir(&id))))
    })
    .await;
    match found {
        Some((meta, files)) => Json(json!({ "case": meta, "files": files })).into_response(),
        None => not_found_case(false),
    }
}

async fn delete(app: Arc<App>, id: String) -> Result<(), (StatusCode, String)> {
    let id =
        CaseId::parse(&id).ok_or((StatusCode::NOT_FOUND, "There is no such case.".to_string()))?;
    blocking(move || app.jobs.delete(&id))
        .await
        .map_err(|e| match e {
            DeleteError::NotFound => (StatusCode::NOT_FOUND, "There is no such case.".into()),
            DeleteError::Running => (
                StatusCode::CONFLICT,
                "This case is being analyzed; delete it when the analysis has finished.".into(),
            ),
            DeleteError::Io(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The case could not be deleted: {e}"),
            ),
        })
}

async fn delete_form(State(app): AppState, Path(id): Path<String>) -> Response {
    match delete(app, id).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err((status, text)) => pages::message(status, "Not deleted", &text),
    }
}

async fn delete_api(State(app): AppState, Path(id): Path<String>) -> Response {
    match delete(app, id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err((status, text)) => (status, Json(json!({ "error": text }))).into_response(),
    }
}

fn change_error(e: ChangeError) -> (StatusCode, String) {
    match e {
        ChangeError::NotFound => (StatusCode::NOT_FOUND, "There is no such case.".into()),
        ChangeError::Busy => (
            StatusCode::CONFLICT,
            "This case is queued or being analyzed already.".into(),
        ),
        ChangeError::Io(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The case could not be changed: {e}"),
        ),
    }
}

async fn rerun(app: Arc<App>, id: String) -> Result<CaseId, (StatusCode, String)> {
    let id =
        CaseId::parse(&id).ok_or((StatusCode::NOT_FOUND, "There is no such case.".to_string()))?;
    let jobs = app.jobs.clone();
    let again = id.clone();
    blocking(move || jobs.rerun(&again))
        .await
        .map_err(change_error)?;
    Ok(id)
}

async fn rerun_form(State(app): AppState, Path(id): Path<String>) -> Response {
    match rerun(app, id).await {
        Ok(id) => Redirect::to(&format!("/cases/{}", id.as_str())).into_response(),
        Err((status, text)) => pages::message(status, "Not analyzed again", &text),
    }
}

async fn rerun_api(State(app): AppState, Path(id): Path<String>) -> Response {
    match rerun(app, id).await {
        Ok(id) => {
            let url = format!("/cases/{}", id.as_str());
            (
                StatusCode::ACCEPTED,
                Json(json!({ "id": id.as_str(), "url": url })),
            )
                .into_response()
        }
        Err((status, text)) => (status, Json(json!({ "error": text }))).into_response(),
    }
}

/// The case-name form.
#[derive(serde::Deserialize)]
struct NameForm {
    title: String,
}

async fn name_form(
    State(app): AppState,
    Path(id): Path<String>,
    form: Result<Form<NameForm>, FormRejection>,
) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(true);
    };
    let Ok(Form(form)) = form else {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Not renamed",
            "Send the name as the form field `title`.",
        );
    };
    let title = super::cases::Store::clean_title(&form.title);
    let jobs = app.jobs.clone();
    let named = id.clone();
    match blocking(move || jobs.rename(&named, title)).await {
        Ok(()) => Redirect::to(&format!("/cases/{}", id.as_str())).into_response(),
        Err(e) => {
            let (status, text) = change_error(e);
            pages::message(status, "Not renamed", &text)
        }
    }
}

/// Live status of a case as Server-Sent Events: the current state at once, then every change (at most
/// five a second), ending after `done` or `failed`.
async fn events(State(app): AppState, Path(id): Path<String>) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(false);
    };
    let receiver = app.jobs.subscribe(&id);
    let Some(first) = app.jobs.current(&id) else {
        return not_found_case(false);
    };
    Sse::new(status_stream(first, receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn status_stream(
    first: CaseMeta,
    receiver: Option<tokio::sync::watch::Receiver<CaseMeta>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    type Receiver = tokio::sync::watch::Receiver<CaseMeta>;
    /// What the stream does next.
    enum Next {
        /// Send this state (the first one at once), then wait on the receiver, if any.
        Send(Box<CaseMeta>, Option<Receiver>),
        /// Wait for the next change.
        Wait(Receiver),
    }
    futures_util::stream::unfold(
        Some(Next::Send(Box::new(first), receiver)),
        |next| async move {
            let (meta, receiver) = match next? {
                Next::Send(meta, receiver) => (*meta, receiver),
                Next::Wait(mut rx) => {
                    // At most five updates a second.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match rx.changed().await {
                        Ok(()) => {
                            let meta = rx.borrow_and_update().clone();
                            (meta, Some(rx))
                        }
                        // The job ended and dropped its sender: send what it left.
                        Err(_) => {
                            let meta = rx.borrow().clone();
                            (meta, None)
                        }
                    }
                }
            };
            let event = Event::default()
                .event("status")
                .json_data(&meta)
                .unwrap_or_else(|_| Event::default().event("status").data("{}"));
            let after = match receiver {
                Some(rx) if !meta.status.finished() => Some(Next::Wait(rx)),
                _ => None,
            };
            Some((Ok::<_, Infallible>(event), after))
        },
    )
}

async fn download(
    State(app): AppState,
    Path((id, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return refused(StatusCode::NOT_FOUND);
    };
    let report = app.store.report_dir(&id);
    let resolved = blocking(move || files::resolve(&report, &path)).await;
    let file = match resolved {
        Ok(file) => file,
        Err(Refused::BadName) => return refused(StatusCode::BAD_REQUEST),
        Err(Refused::NotFound) => return refused(StatusCode::NOT_FOUND),
    };
    let Ok(handle) = tokio::fs::File::open(&file).await else {
        return refused(StatusCode::NOT_FOUND);
    };
    let len = handle.metadata().await.map(|m| m.len()).unwrap_or(0);
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report")
        .to_string();
    let inline = query.as_deref() == Some("view");
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        name.replace(
            |c: char| !c.is_ascii_graphic() || c == '"' || c == '\\',
            "_"
        )
    );
    let mut response = Response::new(Body::from_stream(chunks(handle)));
    let h = response.headers_mut();
    let media_type = files::media_type(&file);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(pages::FILE_CSP),
    );
    response
}

fn refused(status: StatusCode) -> Response {
    let text = if status == StatusCode::BAD_REQUEST {
        "The file name must be a plain path inside the case's report folder."
    } else {
        "There is no such report file."
    };
    (status, Json(json!({ "error": text }))).into_response()
}

/// A file as a stream of 64 KiB chunks.
fn chunks(file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Runs file-system work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("file-system task panicked")
}
