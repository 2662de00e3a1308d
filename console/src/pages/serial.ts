// The instance's serial console in the page: a WebSocket to `ec2lab serve` (presigned with
// the signed-in keys, as every API call is signed), joined to the instance's console.
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { loadCreds } from "../api";
import { button, every, fill, h, onLeave } from "../ui";

const PATH = "/console/serial";

/** The presigned ws:// URL for instance `id` (valid for a minute). */
async function serialUrl(id: string) {
  const c = loadCreds()!;
  const signer = new SignatureV4({
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey },
    region: c.Region,
    service: "ec2",
    sha256: Sha256,
  });
  const signed = await signer.presign({
    method: "GET",
    protocol: location.protocol,
    hostname: location.hostname,
    port: location.port ? Number(location.port) : undefined,
    path: PATH,
    query: { InstanceId: id },
    headers: { host: location.host },
  } as any, { expiresIn: 60 });
  const q = Object.entries(signed.query || {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&");
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${PATH}?${q}`;
}

// Terminal control sequences the page does not draw (colours, cursor moves).
const CONTROL = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r/g;

export function serialTab(panel: HTMLElement, id: string) {
  const out = h("pre", { class: "console", id: "serial-output", tabindex: 0, "aria-label": "Serial console output", "aria-live": "off" });
  const input = h("input", { id: "serial-input", autocomplete: "off", spellcheck: false, placeholder: "Type a line, Enter sends it" });
  const status = h("span", { id: "serial-status", role: "status" }, "Connecting…");
  const form = h("form", { class: "row" }, h("label", { for: "serial-input" }, "Send"), input,
    h("button", { type: "submit", class: "primary" }, "Send"));
  let ws: WebSocket | null = null;
  const decoder = new TextDecoder();
  const show = (text: string) => {
    out.textContent = ((out.textContent || "") + text.replace(CONTROL, "")).slice(-200_000);
    out.scrollTop = out.scrollHeight;
  };
  const connect = async () => {
    ws?.close();
    status.textContent = "Connecting…";
    const sock = new WebSocket(await serialUrl(id));
    ws = sock;
    sock.binaryType = "arraybuffer";
    sock.onopen = () => { status.textContent = "Connected (one session at a time: a new one takes the console over)"; input.focus(); };
    sock.onmessage = (ev) => show(typeof ev.data === "string" ? ev.data : decoder.decode(ev.data, { stream: true }));
    sock.onclose = () => {
      if (ws === sock) status.textContent = "Disconnected: the instance must be running, and another session may have taken the console over.";
    };
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ws?.send(`${input.value}\r`);
    input.value = "";
  });
  fill(panel, h("div", { class: "actions" }, status, button("Reconnect", connect), button("Send Ctrl-C", () => ws?.send("\x03")),
    button("Disconnect", () => ws?.close())), out, form);
  connect();
  // Leaving the tab (or the page) ends the session.
  every(1000, () => { if (!panel.isConnected) ws?.close(); });
  onLeave(() => ws?.close());
}
