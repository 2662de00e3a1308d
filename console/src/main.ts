// The console's shell: sign-in, the navigation, and a hash router (#/page/arg).
import "./style.css";
import { DescribeRegionsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { Creds, clearCreds, errorText, loadCreds, redeemLink, saveCreds } from "./api";
import { field, fill, flash, h, stopTimers } from "./ui";
import { dashboardPage } from "./pages/dashboard";
import { launchPage } from "./pages/launch";
import { instancesPage } from "./pages/instances";
import { keyPairsPage } from "./pages/keypairs";
import { groupsPage } from "./pages/groups";
import { volumesPage } from "./pages/volumes";
import { amisPage } from "./pages/amis";
import { eipsPage } from "./pages/eips";
import { alarmsPage, dashboardsPage } from "./pages/cloudwatch";
import { snsPage } from "./pages/sns";

type Page = (main: HTMLElement, arg: string) => void | Promise<void>;

const ROUTES: [string, string, Page][] = [
  ["dashboard", "EC2 Dashboard", dashboardPage],
  ["instances", "Instances", instancesPage],
  ["launch", "Launch instance", launchPage],
  ["amis", "AMIs", amisPage],
  ["volumes", "Volumes & snapshots", volumesPage],
  ["groups", "Security groups", groupsPage],
  ["keypairs", "Key pairs", keyPairsPage],
  ["eips", "Elastic IPs", eipsPage],
  ["cw-dashboards", "CloudWatch dashboards", dashboardsPage],
  ["cw-alarms", "CloudWatch alarms", alarmsPage],
  ["sns", "SNS topics", snsPage],
];

const app = document.getElementById("app")!;

function signInPage(note?: string) {
  stopTimers();
  const id = h("input", { name: "id", autocomplete: "username", required: true, spellcheck: false });
  const secret = h("input", { name: "secret", type: "password", autocomplete: "current-password", required: true });
  const region = h("input", { name: "region", value: "lab-1", required: true, spellcheck: false });
  const msg = h("div", {});
  const form = h(
    "form",
    { class: "signin card", "aria-label": "Sign in" },
    h("h1", {}, "ec2lab console"),
    h("p", {}, "Sign in with this ec2lab's access keys (", h("code", {}, "ec2lab configure-aws"), " writes them; ",
      h("code", {}, "ec2lab serve"), " also prints a one-time sign-in link)."),
    msg,
    field("Access key ID", id),
    field("Secret access key", secret),
    field("Region", region),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  if (note) flash(msg, "error", note);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    const creds: Creds = { AccessKeyId: id.value.trim(), SecretAccessKey: secret.value.trim(), Region: region.value.trim() };
    try {
      await check(creds);
      saveCreds(creds);
      location.hash = "#/dashboard";
      render();
    } catch (e) {
      flash(msg, "error", errorText(e));
    }
  });
  fill(app, h("main", { class: "signin-wrap" }, form));
  id.focus();
}

/** The keys work: one signed call before they are kept. */
async function check(c: Creds) {
  const ec2 = new EC2Client({
    region: c.Region,
    endpoint: location.origin,
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey },
    maxAttempts: 1,
  });
  await ec2.send(new DescribeRegionsCommand({}));
}

function shell(current: string) {
  const creds = loadCreds()!;
  const nav = h(
    "nav",
    { class: "side", id: "nav", "aria-label": "Console" },
    h("ul", {}, ROUTES.map(([r, title]) =>
      h("li", {}, h("a", { href: `#/${r}`, "aria-current": r === current ? "page" : undefined }, title)))),
  );
  const toggle = h("button", { type: "button", class: "menu", "aria-controls": "nav", "aria-expanded": "false" }, "Menu");
  toggle.addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  const main = h("main", { id: "main", tabindex: -1 });
  fill(
    app,
    h("header", { class: "top" },
      toggle,
      h("a", { class: "brand", href: "#/dashboard" }, "ec2lab"),
      h("span", { class: "region", title: "Region" }, creds.Region),
      h("button", { type: "button", class: "secondary", onclick: () => { clearCreds(); location.hash = ""; signInPage(); } }, "Sign out"),
    ),
    h("div", { class: "layout" }, nav, main),
  );
  return main;
}

async function render() {
  stopTimers();
  const m = location.hash.match(/^#signin=([A-Za-z0-9]+)/);
  if (m) {
    history.replaceState(null, "", location.pathname);
    try {
      saveCreds(await redeemLink(m[1]));
      location.hash = "#/dashboard";
    } catch (e) {
      return signInPage(errorText(e));
    }
  }
  if (!loadCreds()) return signInPage();
  const [, route = "dashboard", ...rest] = location.hash.replace(/^#/, "").split("/");
  const found = ROUTES.find(([r]) => r === route) || ROUTES[0];
  const main = shell(found[0]);
  document.title = `${found[1]} | ec2lab console`;
  try {
    await found[2](main, decodeURIComponent(rest.join("/")));
  } catch (e) {
    flash(main, "error", errorText(e));
  }
}

window.addEventListener("hashchange", render);
render();
