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
//! | `POST /cases/{id}/cancel` | stop a queued or running analysis (form), 303 to the case |
//! | `POST /cases/{id}/name` | name the case (form field `title`; empty removes it), 303 to the case |
//! | `GET /cases/{id}/report/{*path}` | a report file (attachment; `?view` to open it, sandboxed) |
//! | `GET /cases/{id}/pcap?flow=N`, `?host=IP[&time=START/END]` | the packets of a flow or a host, cut from the stored capture |
//! | `POST /cases/{id}/pcap` | the packets of a set of flows (form field `flows`: ids separated by commas) |
//! | `GET /cases/{id}/capture`, `…/capture.sha256` | the stored capture under its uploaded name; its SHA-256 (`sha256sum` format) |
//! | `GET /tor`, `GET /api/tor` | the Tor consensuses held and the times they cover |
//! | `POST /tor` | add consensuses (multipart fields `consensus`: documents, `.tar`, `.tar.xz`, `.xz`); HTML: 303 to `/tor?added=KEY`, which shows what each file gave |
//! | `GET /api/cases`, `GET /api/cases/{id}` | case list; one case with its report files |
//! | `GET /api/cases/{id}/explore` | what the case page explores, compact (see [`super::explore`]) |
//! | `GET /api/cases/{id}/explore/details` | the attributes of the flows' findings, read after the first picture |
//! | `GET /api/cases/{id}/events` | Server-Sent Events: `status` with the case as JSON until it ends |
//! | `DELETE /api/cases/{id}` | delete |
//! | `POST /api/cases/{id}/rerun` | analyze again; 202 `{id, url}` |
//! | `POST /api/cases/{id}/cancel` | stop a queued or running analysis; 202 `{id, url}` (no report is written; a re-run keeps the earlier one) |
//! | `GET /assets/{name}` | embedded scripts and styles |

use super::App;
use super::cases::{CaseId, CaseMeta};
use super::evidence;
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
use serde_json::{Value, json};
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
        .route("/cases/{id}/cancel", post(cancel_form))
        .route("/cases/{id}/name", post(name_form))
        .route("/cases/{id}/report/{*path}", get(download))
        .route("/cases/{id}/extracted/{name}", get(extracted))
        .route(
            "/cases/{id}/pcap",
            get(pcap_get)
                .post(pcap_post)
                .layer(DefaultBodyLimit::max(VIEW_FORM_LIMIT)),
        )
        .route("/cases/{id}/capture", get(capture_download))
        .route("/cases/{id}/capture.sha256", get(capture_sha256))
        .route(
            "/tor",
            get(tor_page)
                .post(tor_upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/tor", get(tor_json))
        .route("/api/cases", get(list))
        .route("/api/cases/{id}", get(case_json).delete(delete_api))
        .route("/api/cases/{id}/events", get(events))
        .route("/api/cases/{id}/explore", get(explore_model))
        .route("/api/cases/{id}/explore/details", get(explore_details))
        .route("/api/cases/{id}/secrets/{index}", get(reveal_secret))
        .route("/api/cases/{id}/rerun", post(rerun_api))
        .route("/api/cases/{id}/cancel", post(cancel_api))
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
        ChangeError::NotRunning => (
            StatusCode::CONFLICT,
            "This case is neither queued nor being analyzed: there is nothing to cancel.".into(),
        ),
        ChangeError::Io(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The case could not be changed: {e}"),
        ),
    }
}

/// What the case's Cancel and Analyze-again actions do to its job.
#[derive(Clone, Copy)]
enum Action {
    Cancel,
    Rerun,
}

/// Cancels or re-runs a case; the case's id when done.
async fn act(app: Arc<App>, id: String, action: Action) -> Result<CaseId, (StatusCode, String)> {
    let id =
        CaseId::parse(&id).ok_or((StatusCode::NOT_FOUND, "There is no such case.".to_string()))?;
    let jobs = app.jobs.clone();
    let which = id.clone();
    blocking(move || match action {
        Action::Cancel => jobs.cancel(&which),
        Action::Rerun => jobs.rerun(&which),
    })
    .await
    .map_err(change_error)?;
    Ok(id)
}

/// The form's answer: back to the case page, or a page saying why not.
async fn act_form(app: Arc<App>, id: String, action: Action) -> Response {
    match act(app, id, action).await {
        Ok(id) => Redirect::to(&format!("/cases/{}", id.as_str())).into_response(),
        Err((status, text)) => {
            let title = match action {
                Action::Cancel => "Not cancelled",
                Action::Rerun => "Not analyzed again",
            };
            pages::message(status, title, &text)
        }
    }
}

/// The API's answer: 202 `{id, url}`, or the error.
async fn act_api(app: Arc<App>, id: String, action: Action) -> Response {
    match act(app, id, action).await {
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

async fn cancel_form(State(app): AppState, Path(id): Path<String>) -> Response {
    act_form(app, id, Action::Cancel).await
}

async fn cancel_api(State(app): AppState, Path(id): Path<String>) -> Response {
    act_api(app, id, Action::Cancel).await
}

async fn rerun_form(State(app): AppState, Path(id): Path<String>) -> Response {
    act_form(app, id, Action::Rerun).await
}

async fn rerun_api(State(app): AppState, Path(id): Path<String>) -> Response {
    act_api(app, id, Action::Rerun).await
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
    // A file the files analyzer kept is the capture's content, chosen by whoever made the traffic:
    // never shown inline, always plain bytes to save (see `extracted`).
    let kept_file = path_is_extracted(&file, &app.store.report_dir(&id));
    let inline = query.as_deref() == Some("view") && !kept_file;
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
    let media_type = if kept_file {
        "application/octet-stream"
    } else {
        files::media_type(&file)
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // report.html at the report's top is the html plugin's page: its own script may run.
    let report_root = app.store.report_dir(&id).canonicalize().ok();
    let csp = if inline && name == "report.html" && file.parent() == report_root.as_deref() {
        HeaderValue::from_str(&pages::report_html_csp()).ok()
    } else {
        None
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        csp.unwrap_or(HeaderValue::from_static(pages::FILE_CSP)),
    );
    response
}

/// Whether a resolved report file lies in the report's `files/` folder (the extracted files).
fn path_is_extracted(file: &std::path::Path, report: &std::path::Path) -> bool {
    report
        .join("files")
        .canonicalize()
        .is_ok_and(|kept| file.starts_with(kept))
}

/// A file the files analyzer kept in the case's `report/files/`, by its name there (one plain path
/// segment; anything else, or a name that resolves outside that folder, is refused). Served as an
/// attachment of plain bytes (`application/octet-stream`, `nosniff` from the guard), never inline:
/// its content is whatever the traffic carried.
async fn extracted(State(app): AppState, Path((id, name)): Path<(String, String)>) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return refused(StatusCode::NOT_FOUND);
    };
    if name.contains('/') || name.contains('\\') {
        return refused(StatusCode::BAD_REQUEST);
    }
    let kept = app.store.report_dir(&id).join("files");
    let resolved = blocking(move || files::resolve(&kept, &name)).await;
    let file = match resolved {
        Ok(file) => file,
        Err(Refused::BadName) => return refused(StatusCode::BAD_REQUEST),
        Err(Refused::NotFound) => return refused(StatusCode::NOT_FOUND),
    };
    let Ok(handle) = tokio::fs::File::open(&file).await else {
        return refused(StatusCode::NOT_FOUND);
    };
    let len = handle.metadata().await.map(|m| m.len()).ok();
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    attachment(
        Body::from_stream(chunks(handle)),
        name,
        "application/octet-stream",
        len,
    )
}

/// One secret of a case's credentials table, when the investigator asks to see it (the page and its
/// model only ever hold a mask).
async fn reveal_secret(
    State(app): AppState,
    Path((id, index)): Path<(String, String)>,
) -> Response {
    let (Some(id), Ok(index)) = (CaseId::parse(&id), index.parse::<usize>()) else {
        return not_found_case(false);
    };
    let dir = app.store.case_dir(&id);
    match blocking(move || super::explore::secret(&dir, index)).await {
        Some(secret) => Json(json!({ "secret": secret })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "This case has no such secret." })),
        )
            .into_response(),
    }
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

/// A view's flow ids as a form: room for a million ids.
const VIEW_FORM_LIMIT: usize = 16 << 20;

/// `?flow=N` or `?host=IP[&time=START/END]`.
#[derive(serde::Deserialize)]
struct PcapQuery {
    flow: Option<u64>,
    host: Option<String>,
    time: Option<String>,
}

/// The view form: `flows=1,2,3`.
#[derive(serde::Deserialize)]
struct PcapForm {
    flows: String,
    /// The view's time range, `START/END` in ISO 8601 UTC; empty or absent: the whole capture.
    #[serde(default)]
    time: String,
    /// The view's name, for the file name.
    #[serde(default)]
    view: String,
}

fn bad_request(text: &str) -> Response {
    pages::message(StatusCode::BAD_REQUEST, "No packets cut", text)
}

async fn pcap_get(
    State(app): AppState,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<PcapQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = query else {
        return bad_request(
            "Ask for ?flow=ID or ?host=ADDRESS (with &time=START/END if you like).",
        );
    };
    let (selection, label) = match (q.flow, q.host) {
        (Some(flow), None) => (
            evidence::Selection::Flows([flow].into_iter().collect(), None),
            format!("flow-{flow}"),
        ),
        (None, Some(host)) => {
            let Ok(ip) = host.parse::<std::net::IpAddr>() else {
                return bad_request(&format!("“{host}” is not an IP address."));
            };
            let range = match q.time.as_deref().map(time_range) {
                None => None,
                Some(Some(range)) => Some(range),
                Some(None) => {
                    return bad_request(
                        "The time range must be START/END in ISO 8601 UTC, e.g. 2024-01-31T12:00:00Z/2024-01-31T12:05:00Z.",
                    );
                }
            };
            (evidence::Selection::Host(ip, range), format!("host-{ip}"))
        }
        _ => return bad_request("Ask for either ?flow=ID or ?host=ADDRESS."),
    };
    cut(app, id, selection, label).await
}

/// `START/END` → microseconds.
fn time_range(text: &str) -> Option<(u64, u64)> {
    let (a, b) = text.split_once('/')?;
    let (a, b) = (evidence::micros(a)?, evidence::micros(b)?);
    (a <= b).then_some((a, b))
}

async fn pcap_post(
    State(app): AppState,
    Path(id): Path<String>,
    form: Result<Form<PcapForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_request("Send the flows as the form field `flows`, ids separated by commas.");
    };
    let mut ids = std::collections::HashSet::new();
    for item in form
        .flows
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match item.parse::<u64>() {
            Ok(n) => ids.insert(n),
            Err(_) => return bad_request(&format!("“{item}” is not a flow id.")),
        };
    }
    if ids.is_empty() {
        return bad_request("The view holds no flows, so there are no packets to cut.");
    }
    let time = form.time.trim();
    let range = if time.is_empty() {
        None
    } else {
        match time_range(time) {
            Some(range) => Some(range),
            None => {
                return bad_request(
                    "The time range must be START/END in ISO 8601 UTC, e.g. 2024-01-31T12:00:00Z/2024-01-31T12:05:00Z.",
                );
            }
        }
    };
    cut(
        app,
        id,
        evidence::Selection::Flows(ids, range),
        view_label(&form.view, range),
    )
    .await
}

/// `view`, `view-dns`, `view-dns-20110318T190608.900000Z-20110318T190608.950000Z`: the file name
/// says which view and which time range the packets are of (the view's name reduced to letters,
/// digits, dots and dashes).
fn view_label(view: &str, range: Option<(u64, u64)>) -> String {
    let mut label = String::from("view");
    let name: String = view
        .trim_start_matches("tag:")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .take(40)
        .collect();
    if !name.is_empty() && name != "all" {
        label.push('-');
        label.push_str(&name);
    }
    if let Some((a, b)) = range {
        for t in [a, b] {
            label.push('-');
            label.extend(
                evidence::iso_micros(t)
                    .chars()
                    .filter(|c| *c != '-' && *c != ':'),
            );
        }
    }
    label
}

/// Said for a case that reads a lake (`serve --lake`) when its packets are asked for.
fn lake_has_no_packets(lake: &std::path::Path) -> Response {
    pages::message(
        StatusCode::CONFLICT,
        "No packets here",
        &format!(
            "This case reads the lake at {}, which keeps flows and not their packets: cut the \
             packets from the capture files its captures table names.",
            lake.display()
        ),
    )
}

/// Cuts the selection from the stored capture and streams it as `<evidence>-<label>.pcap`.
async fn cut(app: Arc<App>, id: String, selection: evidence::Selection, label: String) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(true);
    };
    let Some(meta) = app.store.load(&id) else {
        return not_found_case(true);
    };
    if let Some(lake) = &meta.lake {
        return lake_has_no_packets(lake);
    }
    let capture = app.store.capture_path(&id);
    let report = app.store.report_dir(&id).join("report.json");
    let prepared = blocking(move || evidence::prepare(&capture, &report, selection)).await;
    let cut = match prepared {
        Ok(cut) => cut,
        Err(e @ evidence::CutError::UnknownFlow(_)) => {
            return pages::message(StatusCode::NOT_FOUND, "No packets cut", &format!("{e}."));
        }
        Err(e) => {
            return pages::message(StatusCode::CONFLICT, "No packets cut", &format!("{e}."));
        }
    };
    let stem = meta
        .name
        .rsplit_once('.')
        .map_or(meta.name.as_str(), |(s, _)| s);
    let name = format!("{stem}-{label}.{}", cut.extension());
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter::new(tx.clone());
        let written = cut.write(&mut out).and_then(|w| out.finish().map(|()| w));
        match written {
            Ok(w) if w.stopped.is_some() => eprintln!(
                "case {}: the cut {label} holds the {} matching frames before the capture's damage: {}",
                id.as_str(),
                w.frames,
                w.stopped.unwrap_or_default()
            ),
            Ok(_) => {}
            // The client went away, or the stored capture could not be read: end the body with an error.
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    attachment(
        Body::from_stream(stream),
        &name,
        "application/vnd.tcpdump.pcap",
        None,
    )
}

/// A response that downloads as `name`.
fn attachment(body: Body, name: &str, media_type: &'static str, len: Option<u64>) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '/' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(pages::FILE_CSP),
    );
    response
}

/// Writes into a channel in 64 KiB pieces; a closed channel (the client went away) is an error, which
/// stops the cut.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

const PIECE: usize = 64 * 1024;

impl ChannelWriter {
    fn new(tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(PIECE),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx.blocking_send(Ok(piece)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The stored capture, under the name it was uploaded with.
async fn capture_download(State(app): AppState, Path(id): Path<String>) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(true);
    };
    let Some(meta) = app.store.load(&id) else {
        return not_found_case(true);
    };
    if let Some(lake) = &meta.lake {
        return lake_has_no_packets(lake);
    }
    let Ok(handle) = tokio::fs::File::open(app.store.capture_path(&id)).await else {
        return not_found_case(true);
    };
    let len = handle.metadata().await.map(|m| m.len()).ok();
    attachment(
        Body::from_stream(chunks(handle)),
        &meta.name,
        "application/octet-stream",
        len,
    )
}

/// The stored capture's SHA-256, computed now from the file, as `sha256sum` prints it.
async fn capture_sha256(State(app): AppState, Path(id): Path<String>) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(true);
    };
    let Some(meta) = app.store.load(&id) else {
        return not_found_case(true);
    };
    if let Some(lake) = &meta.lake {
        return lake_has_no_packets(lake);
    }
    let path = app.store.capture_path(&id);
    let digest = blocking(move || -> std::io::Result<String> {
        use sha2::Digest;
        let mut file = std::fs::File::open(path)?;
        let mut hasher = sha2::Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(pcapxray_capture::hex(&hasher.finalize()))
    })
    .await;
    match digest {
        Ok(hex) => {
            let line = format!("{hex}  {}\n", meta.name.replace(['\n', '\r'], "_"));
            attachment(
                Body::from(line),
                &format!("{}.sha256", meta.name),
                "text/plain; charset=utf-8",
                None,
            )
        }
        Err(_) => not_found_case(true),
    }
}

/// How many uploads' results the Tor relays page keeps for its redirect.
const TOR_RESULTS_KEPT: usize = 16;

async fn tor_page(State(app): AppState, RawQuery(query): RawQuery) -> Response {
    let dir = app.tor.imported.clone();
    let docs = blocking(move || crate::torimport::list(&dir)).await;
    let read = app.tor.read.contains(&app.tor.imported);
    let key = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("added="))
            .map(str::to_string)
    });
    let kept = app.tor_results.lock().unwrap_or_else(|e| e.into_inner());
    let results = key
        .and_then(|key| kept.iter().find(|(k, _)| *k == key))
        .map(|(_, r)| r.as_slice())
        .unwrap_or(&[]);
    pages::tor(&docs, results, read, app.max_upload)
}

async fn tor_json(State(app): AppState) -> Response {
    let dir = app.tor.imported.clone();
    let docs = blocking(move || crate::torimport::list(&dir)).await;
    let coverage = crate::torimport::coverage(&docs);
    Json(json!({
        "consensuses": docs,
        "coverage": coverage,
        "used_by_analyses": app.tor.read.contains(&app.tor.imported),
    }))
    .into_response()
}

/// Each uploaded file is streamed to a hidden file in the tor folder (within the upload limit), then
/// imported from there and removed.
async fn tor_upload(
    State(app): AppState,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let html = wants_html(&headers);
    let mut results = Vec::new();
    match form {
        Ok(form) => receive_consensuses(&app, form, &mut results).await,
        Err(_) => results.push(Err(pages::UploadRefusal(
            "send the files as multipart/form-data fields `consensus`".to_string(),
        ))),
    }
    if results.is_empty() {
        results.push(Err(pages::UploadRefusal(
            "the upload carried no file".to_string(),
        )));
    }
    let status = if results
        .iter()
        .any(|r| r.as_ref().is_ok_and(|i| !i.stored.is_empty()))
    {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    if html {
        // Post, redirect, get: the page that shows the result can be reloaded without sending the
        // files again.
        let key = CaseId::generate().as_str().to_string();
        let mut kept = app.tor_results.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= TOR_RESULTS_KEPT {
            kept.pop_front();
        }
        kept.push_back((key.clone(), results));
        return Redirect::to(&format!("/tor?added={key}")).into_response();
    }
    let dir = app.tor.imported.clone();
    let docs = blocking(move || crate::torimport::list(&dir)).await;
    let results: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(got) => json!(got),
            Err(e) => json!({ "error": e.0 }),
        })
        .collect();
    (
        status,
        Json(json!({ "imported": results, "consensuses": docs.len() })),
    )
        .into_response()
}

async fn receive_consensuses(
    app: &Arc<App>,
    mut form: Multipart,
    results: &mut Vec<Result<crate::torimport::Imported, pages::UploadRefusal>>,
) {
    use tokio::io::AsyncWriteExt;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return,
            Err(e) => {
                results.push(Err(pages::UploadRefusal(format!(
                    "the upload was interrupted: {}",
                    e.body_text()
                ))));
                return;
            }
        };
        let Some(name) = field.file_name().map(upload::display_name) else {
            continue;
        };
        let tmp = app
            .tor
            .imported
            .join(format!(".upload-{}", CaseId::generate().as_str()));
        let guard = TempFile(tmp.clone());
        let Ok(mut file) = tokio::fs::File::create(&tmp).await else {
            results.push(Err(pages::UploadRefusal(format!(
                "{name}: the server could not store it"
            ))));
            return;
        };
        let mut size = 0u64;
        let mut failed = None;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > app.max_upload {
                        failed = Some(format!(
                            "{name} is larger than the upload limit of {} MiB; nothing was kept",
                            app.max_upload >> 20
                        ));
                        break;
                    }
                    if file.write_all(&chunk).await.is_err() {
                        failed = Some(format!("{name}: the server could not store it"));
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failed = Some(format!(
                        "{name}: the upload was interrupted: {}",
                        e.body_text()
                    ));
                    break;
                }
            }
        }
        let _ = file.flush().await;
        drop(file);
        if let Some(e) = failed {
            results.push(Err(pages::UploadRefusal(e)));
            return;
        }
        let dir = app.tor.imported.clone();
        let shown = name.clone();
        let got = blocking(move || {
            let got = crate::torimport::import(&guard.0, &shown, &dir);
            drop(guard);
            got
        })
        .await;
        results.push(got.map_err(|e| pages::UploadRefusal(format!("{name}: {e}"))));
    }
}

/// A file removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The compact explore model of a finished case, made from report.json if needed.
async fn explore_model(State(app): AppState, Path(id): Path<String>) -> Response {
    explore_file(app, id, super::explore::model).await
}

/// The attributes of the flows' findings in a case's explore model.
async fn explore_details(State(app): AppState, Path(id): Path<String>) -> Response {
    explore_file(app, id, super::explore::details).await
}

/// One file of a case's explore model, made first if missing or older than report.json.
async fn explore_file(
    app: Arc<App>,
    id: String,
    which: fn(&std::path::Path) -> std::io::Result<Option<std::path::PathBuf>>,
) -> Response {
    let Some(id) = CaseId::parse(&id) else {
        return not_found_case(false);
    };
    let dir = app.store.case_dir(&id);
    match blocking(move || which(&dir)).await {
        Ok(Some(path)) => match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let len = file.metadata().await.map(|m| m.len()).ok();
                let mut response = Response::new(Body::from_stream(chunks(file)));
                let h = response.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                if let Some(len) = len {
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                }
                response
            }
            Err(_) => not_found_case(false),
        },
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "This case has no report.json to explore." })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": format!("report.json could not be read: {e}") })),
        )
            .into_response(),
    }
}
