// The signed API: the AWS SDK for JavaScript's own EC2, CloudWatch and SNS clients, pointed
// at the origin that served this page (`ec2lab serve`), signing with the access keys the
// user signed in with. The console has no other way into ec2lab.
import { EC2Client } from "@aws-sdk/client-ec2";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { SNSClient } from "@aws-sdk/client-sns";

/** What signing in keeps for the tab's session (sessionStorage: gone with the tab). */
export interface Creds {
  AccessKeyId: string;
  SecretAccessKey: string;
  Region: string;
}

const KEY = "ec2lab.console.creds";

export function loadCreds(): Creds | null {
  try {
    const c = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return c && c.AccessKeyId && c.SecretAccessKey ? c : null;
  } catch {
    return null;
  }
}

export function saveCreds(c: Creds) {
  sessionStorage.setItem(KEY, JSON.stringify(c));
  clients = null;
}

export function clearCreds() {
  sessionStorage.removeItem(KEY);
  clients = null;
}

interface Clients {
  ec2: EC2Client;
  cw: CloudWatchClient;
  sns: SNSClient;
  region: string;
}

let clients: Clients | null = null;

/** The three clients for the signed-in keys (made once per sign-in). */
export function api(): Clients {
  if (clients) return clients;
  const c = loadCreds();
  if (!c) throw new Error("Not signed in");
  const config = {
    region: c.Region,
    endpoint: location.origin,
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey },
    maxAttempts: 2,
  };
  clients = {
    ec2: new EC2Client(config),
    cw: new CloudWatchClient(config),
    sns: new SNSClient(config),
    region: c.Region,
  };
  return clients;
}

/** An SDK error as the console shows it: the service's code and its own message. */
export function errorText(e: any): string {
  const code = e?.Code || e?.name || "Error";
  const msg = e?.message || String(e);
  return code && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}

/** Signs in with a one-time link's token (the fragment `#signin=TOKEN`). */
export async function redeemLink(token: string): Promise<Creds> {
  const r = await fetch("/console/signin", { method: "POST", body: token });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || `sign-in failed (${r.status})`);
  return body as Creds;
}
