//! The web console's files and its one-time sign-in link. The console (`console/`, built by
//! Vite into `console/dist/`) is embedded in the binary at compile time (rust-embed), so
//! `ec2lab serve` needs nothing else at run time. Its pages call the same signed API the
//! SDKs call; this module only hands out the static shell, which shows nothing but the
//! sign-in form until the page holds the access keys.

use std::borrow::Cow;
use std::sync::Mutex;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;
use subtle::ConstantTimeEq;

use super::keys::AccessKey;

/// The built console, `console/dist/` at compile time; empty when it was not built.
#[derive(Embed)]
#[folder = "console/dist/"]
#[allow_missing = true]
struct Assets;

/// The path the page posts a one-time sign-in token to.
pub const SIGNIN_PATH: &str = "/console/signin";

/// What `/` answers when the binary was built without the console's assets.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>ec2lab console</title>\
<h1>The ec2lab console was not built into this binary</h1>\
<p>Build it, then the binary: <code>tools/setup.sh</code> (runs <code>npm ci</code> and \
<code>npm run build</code> in <code>console/</code>), then <code>cargo build</code>.</p>\
<p>The API on this endpoint works without it.</p>\n";

/// Whether the binary carries the built console.
pub fn built() -> bool {
    Assets::get("index.html").is_some()
}

/// The one-time sign-in token: made at start, printed in the link, taken by the first page
/// that presents it.
pub struct SignIn(Mutex<Option<String>>);

impl SignIn {
    /// A new random token.
    pub fn new() -> SignIn {
        SignIn(Mutex::new(Some(crate::ids::uuid().replace('-', ""))))
    }

    /// The token, while nobody has used it.
    pub fn token(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes the token if `offered` is it (once only).
    fn take(&self, offered: &[u8]) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let matches = slot
            .as_deref()
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(offered.trim_ascii())));
        if matches {
            *slot = None;
        }
        matches
    }
}

impl Default for SignIn {
    fn default() -> Self {
        SignIn::new()
    }
}

/// Whether a request is the console's (the static shell, its assets, the sign-in), not
/// the API's: an unsigned GET of `/` without an `Action`, a GET under `/assets/`, a POST
/// to [`SIGNIN_PATH`]. API requests never look like these: they are signed (the
/// `Authorization` header or `X-Amz-` query parameters), and EC2's GETs carry `Action`.
pub fn is_console(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> bool {
    if headers.contains_key(header::AUTHORIZATION) {
        return false;
    }
    match *method {
        Method::GET | Method::HEAD => {
            (path == "/" && !has_action(query)) || path.starts_with("/assets/")
        }
        Method::POST => path == SIGNIN_PATH,
        _ => false,
    }
}

fn has_action(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "Action" || k.starts_with("X-Amz-"))
}

/// The console's answer to a request [`is_console`] accepted.
pub fn answer(
    method: &Method,
    path: &str,
    body: &[u8],
    signin: &SignIn,
    keys: &[AccessKey],
    region: &str,
) -> Response {
    if *method == Method::POST {
        return sign_in(body, signin, keys, region);
    }
    let name = if path == "/" {
        "index.html"
    } else {
        path.trim_start_matches('/')
    };
    match Assets::get(name) {
        Some(file) => {
            // Vite names assets by their content's hash: they never change under a name.
            let cache = if name == "index.html" {
                "no-cache"
            } else {
                "public, max-age=31536000, immutable"
            };
            let data: Cow<'static, [u8]> = file.data;
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(mime(name))),
                    (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                    (
                        header::HeaderName::from_static("x-content-type-options"),
                        HeaderValue::from_static("nosniff"),
                    ),
                ],
                data.into_owned(),
            )
                .into_response()
        }
        None if name == "index.html" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "No such console file.\n",
        )
            .into_response(),
    }
}

/// The first key pair and the region for the page that presents the one-time token.
fn sign_in(body: &[u8], signin: &SignIn, keys: &[AccessKey], region: &str) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match keys.first().filter(|_| signin.take(body)) {
        Some(key) => (
            StatusCode::OK,
            json,
            serde_json::json!({
                "AccessKeyId": key.access_key_id,
                "SecretAccessKey": key.secret_access_key,
                "Region": region,
            })
            .to_string(),
        )
            .into_response(),
        None => (
            StatusCode::FORBIDDEN,
            json,
            serde_json::json!({
                "message": "This sign-in link was used already or is not this server's: \
                            sign in with the access keys (ec2lab configure-aws writes them), \
                            or restart ec2lab serve for a new link."
            })
            .to_string(),
        )
            .into_response(),
    }
}

/// The content type of a built file, by its extension.
fn mime(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(method: Method, path: &str, query: &str) -> bool {
        is_console(&method, path, query, &HeaderMap::new())
    }

    #[test]
    fn only_the_shell_and_the_signin_are_the_consoles() {
        assert!(console(Method::GET, "/", ""));
        assert!(console(Method::GET, "/assets/index-abc.js", ""));
        assert!(console(Method::POST, SIGNIN_PATH, ""));
        // EC2's Query protocol over GET, presigned, signed in the header or not, is the API's.
        assert!(!console(Method::GET, "/", "Action=DescribeRegions"));
        assert!(!console(
            Method::GET,
            "/",
            "X-Amz-Signature=ab&X-Amz-Credential=x"
        ));
        let mut signed = HeaderMap::new();
        signed.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("AWS4-HMAC-SHA256 x"),
        );
        assert!(!is_console(
            &Method::GET,
            "/",
            "Version=2016-11-15",
            &signed
        ));
        assert!(!console(Method::POST, "/", ""));
        assert!(!console(Method::GET, "/sns-signing.pem", ""));
    }

    fn key() -> AccessKey {
        AccessKey {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
        }
    }

    #[test]
    fn the_link_hands_out_the_keys_once() {
        let s = SignIn::new();
        let t = s.token().unwrap();
        let keys = [key()];
        let post = |body: &str| {
            answer(
                &Method::POST,
                SIGNIN_PATH,
                body.as_bytes(),
                &s,
                &keys,
                "lab-1",
            )
        };
        assert_eq!(post("nope").status(), StatusCode::FORBIDDEN);
        assert_eq!(post(&t).status(), StatusCode::OK);
        assert_eq!(post(&t).status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_missing_file_is_404_and_the_shell_always_answers() {
        let s = SignIn::new();
        let get = |path: &str| answer(&Method::GET, path, b"", &s, &[], "lab-1").status();
        assert_eq!(get("/assets/no-such-file.js"), StatusCode::NOT_FOUND);
        // Built or not, `/` answers: the console, or how to build it.
        assert_eq!(get("/"), StatusCode::OK);
    }

    #[test]
    fn the_signin_token_works_once() {
        let s = SignIn::new();
        let t = s.token().unwrap();
        assert!(!s.take(b"wrong"));
        assert!(s.take(t.as_bytes()));
        assert!(!s.take(t.as_bytes()));
        assert_eq!(s.token(), None);
    }

    #[test]
    fn built_files_have_their_types() {
        assert_eq!(mime("assets/index-1.js"), "text/javascript; charset=utf-8");
        assert_eq!(mime("index.html"), "text/html; charset=utf-8");
        assert_eq!(mime("x.bin"), "application/octet-stream");
    }
}
