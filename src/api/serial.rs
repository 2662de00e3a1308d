//! The web console's serial console: a WebSocket at [`SERIAL_PATH`] joined to the
//! instance's `console.sock`, as `ec2lab connect-serial-console` joins it to a terminal.
//! The upgrade request is presigned (SigV4 in the query string, service `ec2`) with the
//! same keys as every API call: a browser cannot add an `Authorization` header to a
//! WebSocket.

use std::time::{Duration, SystemTime};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::keys::AccessKey;
use super::sigv4::{self, Incoming};
use crate::error::Ec2Error;
use crate::instances::console;
use crate::store::Store;

/// Where the serial console's WebSocket is.
pub const SERIAL_PATH: &str = "/console/serial";

/// What the upgrade needs from the server.
pub struct Env<'a> {
    /// ec2lab's state directory.
    pub state_dir: &'a std::path::Path,
    /// The accepted keys.
    pub keys: &'a [AccessKey],
    /// The regions this ec2lab has.
    pub regions: &'a [String],
}

/// Checks the presigned upgrade and connects to the instance's console socket (waiting,
/// as the CLI does, for a VMM still starting); the socket, or EC2's error.
pub fn open(
    env: &Env<'_>,
    uri: &Uri,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<std::os::unix::net::UnixStream, Ec2Error> {
    let query = uri.query().unwrap_or_default();
    let incoming = Incoming {
        method: "GET",
        path: uri.path(),
        query,
        headers,
        body: b"",
    };
    let signer = sigv4::verify(&incoming, env.keys, env.regions, sigv4::SERVICE, now)?;
    let id = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "InstanceId")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            Ec2Error::new(
                "MissingParameter",
                "The request must contain the parameter InstanceId",
            )
        })?;
    let store = Store::open(env.state_dir, &signer.region)?;
    console::connect(&store, &id, console::CONNECT_WAIT)
}

/// The answer to an upgrade request: the WebSocket, or EC2's error as JSON.
pub fn answer(
    upgrade: WebSocketUpgrade,
    opened: Result<std::os::unix::net::UnixStream, Ec2Error>,
) -> Response {
    let sock = match opened.and_then(|s| {
        s.set_nonblocking(true)?;
        Ok(tokio::net::UnixStream::from_std(s)?)
    }) {
        Ok(s) => s,
        Err(e) => {
            let status = super::server::status_of(&e.code);
            let body = serde_json::json!({ "__type": e.code, "message": e.message });
            return (
                if status == StatusCode::OK {
                    StatusCode::BAD_REQUEST
                } else {
                    status
                },
                [("content-type", "application/json")],
                body.to_string(),
            )
                .into_response();
        }
    };
    upgrade.on_upgrade(move |ws| pump(ws, sock))
}

/// Bytes both ways until either side closes. Output goes as binary frames (the console
/// speaks bytes, not always UTF-8); input comes as text or binary frames.
async fn pump(mut ws: WebSocket, sock: tokio::net::UnixStream) {
    let (mut from_vm, mut to_vm) = sock.into_split();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = from_vm.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws.send(Message::Binary(buf[..n].to_vec().into())).await.is_err() {
                        break;
                    }
                }
            },
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if to_vm.write_all(t.as_bytes()).await.is_err() { break; }
                }
                Some(Ok(Message::Binary(b))) => {
                    if to_vm.write_all(&b).await.is_err() { break; }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            // A quiet console and an idle page: keep proxies from closing the socket.
            _ = tokio::time::sleep(Duration::from_secs(30)) => {
                if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = ws.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_without_a_signature_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            state_dir: dir.path(),
            keys: &[],
            regions: &["lab-1".to_string()],
        };
        let uri: Uri = "/console/serial?InstanceId=i-0123456789abcdef0"
            .parse()
            .unwrap();
        let e = open(&env, &uri, &HeaderMap::new(), SystemTime::now()).unwrap_err();
        assert_eq!(e.code, "AuthFailure", "{e:?}");
    }
}
