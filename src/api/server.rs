//! The HTTP server: axum on a multi-threaded tokio runtime, with a bounded body and a time
//! limit per request. Each request is checked (SigV4), decoded, handled and encoded on a
//! blocking thread, since the services use SQLite and the host synchronously.
//!
//! Two wire protocols reach the same handlers: EC2's Query protocol (form parameters in,
//! XML out), which is what EC2 speaks and every AWS tool sends, and AWS JSON 1.0
//! (`Content-Type: application/x-amz-json-1.0`, `X-Amz-Target: AmazonEC2.<Action>`, the
//! request and result as JSON objects of the model's member names), for clients that find
//! JSON easier than XML, such as a browser console.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use thiserror::Error;
use tower_http::timeout::TimeoutLayer;

use super::actions::{self, ApiCtx};
use super::keys::{self, AccessKey, KeysError};
use super::services::{self, Reply, Service};
use super::sigv4::{self, Incoming};
use super::{console, query, serial, xml};
use crate::ec2::model::Model;
use crate::error::Ec2Error;

/// The largest request body taken. EC2's own limit on user data is 16 KiB (before
/// base64); requests are far smaller than this.
pub const MAX_BODY: usize = 1 << 20;
/// How much of a body over [`MAX_BODY`] is still read (and dropped) before the refusal is
/// sent. Answering while the client is still sending would close a socket with unread data,
/// which resets the connection, and the client would see that instead of EC2's error.
pub const DRAIN_LIMIT: usize = 16 << 20;
/// How long one request may take, reading its body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Where `ec2lab serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8773";

/// What `ec2lab serve` serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// ec2lab's state directory.
    pub state_dir: PathBuf,
    /// The region that always exists (the `--region` of `ec2lab serve`).
    pub region: String,
}

/// Why the server could not run.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The access keys could not be read or made.
    #[error("cannot serve without access keys")]
    Keys(#[from] KeysError),
    /// The runtime could not start.
    #[error("cannot start the server's threads")]
    Runtime(#[source] std::io::Error),
    /// The address is taken or not ours.
    #[error("cannot listen on {addr}: choose another --listen address")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped on an error.
    #[error("the server stopped on an error")]
    Serve(#[source] std::io::Error),
}

struct App {
    config: ServeConfig,
    keys: Vec<AccessKey>,
    signin: console::SignIn,
}

/// Serves until Ctrl-C or SIGTERM, then lets the requests under way finish. Prints
/// `listening on http://ADDR` on stdout once it accepts connections.
pub fn run(config: ServeConfig) -> Result<(), ServeError> {
    let keys = keys::load_or_create(&config.state_dir)?;
    // Started at boot by its systemd unit: instances and alarms resume without waiting
    // for a first request.
    for (region, e) in crate::instances::resume_state_dir(&config.state_dir) {
        eprintln!("ec2lab serve: cannot resume region {region}: {e}");
    }
    // Parse the model before the first request pays for it.
    Model::get();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let addr = config.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        record_endpoint(&config.state_dir, local);
        let signin = console::SignIn::new();
        let link = console_link(local, signin.token().unwrap_or_default());
        let app = Arc::new(App {
            config,
            keys,
            signin,
        });
        let router = Router::new()
            .route(serial::SERIAL_PATH, axum::routing::get(serial_console))
            .fallback(handle)
            .with_state(app)
            // The handler bounds the body itself (see `read_body`).
            .layer(DefaultBodyLimit::disable())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                REQUEST_TIMEOUT,
            ));
        println!("listening on http://{local}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // On stderr: whoever reads the first stdout line may close the pipe after it.
        if console::built() {
            eprintln!("ec2lab serve: the console: {link}  (a one-time sign-in link)");
        } else {
            eprintln!(
                "ec2lab serve: this binary has no console: run tools/setup.sh, then cargo build"
            );
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(ServeError::Serve)
    })
}

/// Records `http://ADDR` in the state directory ([`crate::sns::ENDPOINT_FILE`]), for the
/// links in SNS's messages (`SubscribeURL`, `UnsubscribeURL`); an unspecified
/// address (`0.0.0.0`) is recorded as the loopback one, which reaches it from this host.
fn record_endpoint(state_dir: &std::path::Path, mut local: SocketAddr) {
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let _ = std::fs::create_dir_all(state_dir);
    if let Err(e) = crate::fsutil::write_atomic(
        &state_dir.join(crate::sns::ENDPOINT_FILE),
        format!("http://{local}\n").as_bytes(),
    ) {
        eprintln!("ec2lab serve: cannot record the endpoint for SNS's links: {e}");
    }
}

/// The console's one-time sign-in link: the token rides in the fragment, which the browser
/// keeps to itself (no server log or proxy sees it); the page posts it once.
fn console_link(mut local: SocketAddr, token: String) -> String {
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{local}/#signin={token}")
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
    eprintln!("ec2lab serve: stopping after the requests under way");
}

/// The web console's serial console: a presigned WebSocket upgrade (`api/serial.rs`).
async fn serial_console(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    let opened = tokio::task::spawn_blocking(move || {
        let cfg = &app.config;
        let regions = actions::regions(&cfg.state_dir, &cfg.region);
        let env = serial::Env {
            state_dir: &cfg.state_dir,
            keys: &app.keys,
            regions: &regions,
        };
        serial::open(&env, &uri, &headers, SystemTime::now())
    })
    .await
    .unwrap_or_else(|e| {
        Err(Ec2Error::internal(format!(
            "the serial console's thread failed: {e}"
        )))
    });
    serial::answer(upgrade, opened)
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = crate::ids::uuid();
    let id = request_id.clone();
    let for_console = console::is_console(
        &method,
        uri.path(),
        uri.query().unwrap_or_default(),
        &headers,
    );
    let reply = match read_body(body).await {
        Ok(body) if for_console => {
            let cfg = &app.config;
            return console::answer(
                &method,
                uri.path(),
                &body,
                &app.signin,
                &app.keys,
                &cfg.region,
            );
        }
        Ok(body) => {
            tokio::task::spawn_blocking(move || {
                answer(&app, &method, &uri, &headers, &body, &id, SystemTime::now())
            })
            .await
        }
        Err(e) => {
            let protocol = Protocol::of(&headers);
            Ok(Reply {
                status: status_of(&e.code),
                content_type: protocol.content_type(),
                headers: Vec::new(),
                body: protocol.error(&e, &id),
            })
        }
    };
    let reply = reply.unwrap_or_else(|e| {
        let e = Ec2Error::internal(format!("the request's thread failed: {e}"));
        Reply {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: Protocol::Query.content_type(),
            headers: Vec::new(),
            body: xml::error(&e, &request_id),
        }
    });
    let mut response = (
        reply.status,
        [
            (header::CONTENT_TYPE, reply.content_type),
            (
                header::HeaderName::from_static("x-amzn-requestid"),
                &request_id,
            ),
        ],
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static(name), v);
        }
    }
    response
}

/// The wire protocol of a request, and so of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's Query protocol: form parameters in, XML out.
    Query,
    /// AWS JSON 1.0: a JSON object in, a JSON object out.
    Json,
}

pub use super::services::JSON_CONTENT_TYPE;
/// The `X-Amz-Target` prefix of EC2's actions in AWS JSON 1.0.
pub const JSON_TARGET_PREFIX: &str = "AmazonEC2.";

impl Protocol {
    /// The protocol a request speaks, from its content type.
    pub fn of(headers: &HeaderMap) -> Protocol {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(JSON_CONTENT_TYPE));
        if json {
            Protocol::Json
        } else {
            Protocol::Query
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Protocol::Query => "text/xml;charset=UTF-8",
            Protocol::Json => JSON_CONTENT_TYPE,
        }
    }

    /// An error as this protocol sends it.
    fn error(self, e: &Ec2Error, request_id: &str) -> String {
        match self {
            Protocol::Query => xml::error(e, request_id),
            Protocol::Json => {
                serde_json::json!({ "__type": e.code, "message": e.message }).to_string()
            }
        }
    }
}

/// The request body, at most [`MAX_BODY`] bytes. A larger one is read on to its end (up to
/// [`DRAIN_LIMIT`]) and refused with 413, so the client is done sending when the answer
/// comes.
async fn read_body(mut body: Body) -> Result<Bytes, Ec2Error> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Ec2Error::new(
                "InvalidRequest",
                format!("The request body could not be read: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(Ec2Error::new(
            "RequestEntityTooLarge",
            format!("The request body is {seen} bytes or more; ec2lab takes at most {MAX_BODY}"),
        ));
    }
    Ok(Bytes::from(kept))
}

/// The HTTP status EC2 sends with an error code.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "AuthFailure" => StatusCode::UNAUTHORIZED,
        "UnauthorizedOperation" => StatusCode::FORBIDDEN,
        "DryRunOperation" => StatusCode::PRECONDITION_FAILED,
        "RequestEntityTooLarge" => StatusCode::PAYLOAD_TOO_LARGE,
        "InternalError" => StatusCode::INTERNAL_SERVER_ERROR,
        "Unavailable" | "RequestLimitExceeded" | "ServiceUnavailable" => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// One request, start to end, for the service it is routed to.
fn answer(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
    now: SystemTime,
) -> Reply {
    let incoming = Incoming {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers,
        body,
    };
    if let Some(reply) = services::public_file(&app.config.state_dir, &incoming) {
        return reply;
    }
    let service = services::route(&incoming);
    if service != Service::Ec2 {
        let cfg = &app.config;
        let regions = actions::regions(&cfg.state_dir, &cfg.region);
        let env = services::Env {
            state_dir: &cfg.state_dir,
            keys: &app.keys,
            regions: &regions,
        };
        return services::answer(service, &env, &incoming, request_id, now);
    }
    let protocol = Protocol::of(headers);
    let (status, body) = match dispatch(app, method, uri, headers, body, now) {
        Ok((action, result)) => {
            let text = match protocol {
                Protocol::Query => xml::response(Model::get(), &action, request_id, &result),
                Protocol::Json => result.to_string(),
            };
            (StatusCode::OK, text)
        }
        Err(e) => {
            if e.code == "InternalError" {
                eprintln!("ec2lab serve: {request_id}: {e}");
            }
            (status_of(&e.code), protocol.error(&e, request_id))
        }
    };
    Reply {
        status,
        content_type: protocol.content_type(),
        headers: Vec::new(),
        body,
    }
}

fn dispatch(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(String, serde_json::Value), Ec2Error> {
    let cfg = &app.config;
    let regions = actions::regions(&cfg.state_dir, &cfg.region);
    let query_string = uri.query().unwrap_or_default();
    let incoming = Incoming {
        method: method.as_str(),
        path: uri.path(),
        query: query_string,
        headers,
        body,
    };
    let signer = sigv4::verify(&incoming, &app.keys, &regions, sigv4::SERVICE, now)?;
    let (action, request) = match Protocol::of(headers) {
        Protocol::Query => query_request(method, query_string, body)?,
        Protocol::Json => json_request(headers, body)?,
    };
    if request.get("DryRun") == Some(&serde_json::Value::Bool(true)) {
        return Err(Ec2Error::new(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    let handler = actions::handler(&action).expect("checked by the decoders");
    let ctx = ApiCtx {
        state_dir: cfg.state_dir.clone(),
        region: signer.region,
        regions,
        endpoint: headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    };
    let result = handler(&ctx, request)?;
    Ok((action, result))
}

/// EC2's answer to an action it does not serve.
fn invalid_action(action: &str) -> Ec2Error {
    Ec2Error::new(
        "InvalidAction",
        format!("The action {action} is not valid for this web service."),
    )
}

/// The action and its request from an AWS JSON 1.0 request: the target header names the
/// action, the body is already the member tree.
fn json_request(headers: &HeaderMap, body: &[u8]) -> Result<(String, serde_json::Value), Ec2Error> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(action) = target.strip_prefix(JSON_TARGET_PREFIX) else {
        return Err(Ec2Error::new(
            "MissingAction",
            format!("An AWS JSON request names its action in X-Amz-Target: {JSON_TARGET_PREFIX}<Action>"),
        ));
    };
    if !Model::get().operations.contains_key(action) || actions::handler(action).is_none() {
        return Err(invalid_action(action));
    }
    Ok((action.to_string(), super::awsjson::json_object(body)?))
}

/// The action and its request from a Query request: form parameters from the URL and,
/// for POST, the body, decoded by the model.
fn query_request(
    method: &Method,
    query_string: &str,
    body: &[u8],
) -> Result<(String, serde_json::Value), Ec2Error> {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query_string.as_bytes())
        .into_owned()
        .filter(|(k, _)| !k.starts_with("X-Amz-"))
        .collect();
    if *method == Method::POST {
        params.extend(form_urlencoded::parse(body).into_owned());
    }
    let action = query::take_action(&mut params)?;
    let model = Model::get();
    let Some(op) = model
        .operations
        .get(&action)
        .filter(|_| actions::handler(&action).is_some())
    else {
        return Err(invalid_action(&action));
    };
    let request = query::decode(model, op.input.as_deref(), &params)?;
    Ok((action, request))
}
