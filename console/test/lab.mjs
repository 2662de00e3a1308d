// The seed notes' lab, click by click, in a real browser (Debian's Chromium driven by
// playwright-core) against `ec2lab serve`, on one real VM. tests/console_browser.rs starts
// the server on a fresh state directory and runs this script; it prints one JSON line of
// what it saw, and writes a screenshot of each step.
//
// Environment: CONSOLE_URL (http://127.0.0.1:PORT), CONSOLE_LINK (the one-time sign-in
// link), ACCESS_KEY_ID, SECRET_ACCESS_KEY, REGION, USER_DATA (the lab's script), SHOTS (the
// screenshot directory), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const URL_ = env("CONSOLE_URL");
const SHOTS = env("SHOTS");
mkdirSync(SHOTS, { recursive: true });
const t0 = Date.now();
const secs = () => Math.round((Date.now() - t0) / 100) / 10;
const log = (m) => console.error(`[${secs().toFixed(1).padStart(6)}s] ${m}`);
const out = { timings: {} };
const mark = (k) => { out.timings[k] = secs(); };

// A fresh profile (--user-data-dir, which playwright passes from here) for each run.
const profile = mkdtempSync(join(tmpdir(), "ec2lab-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 800 },
  acceptDownloads: true,
});
let step = 0;
async function shot(page, name, fullPage = false) {
  step += 1;
  const file = join(SHOTS, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  log(`screenshot ${file}`);
}

async function until(what, timeoutMs, f, everyMs = 2000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

try {
  // The one-time link signs a fresh tab in, once; the API refuses unsigned calls. (Each
  // tab has its own sessionStorage: a new tab is not signed in.)
  {
    const page = await ctx.newPage();
    await page.goto(env("CONSOLE_LINK"));
    await page.getByRole("heading", { name: "EC2 Dashboard" }).waitFor();
    out.link_signed_in = true;
    out.unsigned_api_status = (await ctx.request.post(`${URL_}/`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      data: "Action=DescribeInstances&Version=2016-11-15",
    })).status();
    await page.close();
    const p2 = await ctx.newPage();
    await p2.goto(env("CONSOLE_LINK"));
    await p2.getByRole("alert").waitFor();
    out.link_second_use = await p2.getByRole("alert").innerText();
    out.shell_without_keys_shows_nav = await p2.locator("nav").count();
    await p2.close();
  }

  const page = await ctx.newPage();
  page.on("dialog", (d) => d.accept());
  out.page_errors = [];
  page.on("pageerror", (e) => out.page_errors.push(String(e)));
  page.setDefaultTimeout(30000);

  // Sign in with the keys, by keyboard only.
  await page.goto(URL_);
  await page.getByLabel("Access key ID").waitFor();
  await shot(page, "signin");
  await page.keyboard.type(env("ACCESS_KEY_ID"));
  await page.keyboard.press("Tab");
  await page.keyboard.type(env("SECRET_ACCESS_KEY"));
  await page.keyboard.press("Tab");
  await page.keyboard.press("Control+A");
  await page.keyboard.type(env("REGION"));
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "EC2 Dashboard" }).waitFor();
  await page.locator(".card.stat").first().waitFor();
  await shot(page, "dashboard");
  mark("signed_in");

  // Step 0 of the notes: a key pair, .ppk for PuTTY.
  await page.goto(`${URL_}/#/keypairs`);
  await page.getByRole("button", { name: "Create key pair" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByLabel("Name").fill("console-lab-key");
  await dlg.getByLabel("Private key file format").selectOption("ppk");
  await shot(page, "create-key-pair");
  const [download] = await Promise.all([page.waitForEvent("download"), dlg.getByRole("button", { name: "Create key pair" }).click()]);
  const keyFile = join(profile, "console-lab-key.ppk");
  await download.saveAs(keyFile);
  out.key_file_name = download.suggestedFilename();
  out.key_file_head = readFileSync(keyFile, "utf8").split("\n")[0];
  await page.getByRole("cell", { name: "console-lab-key" }).waitFor();
  // A second one of the same name: the dialog shows EC2's error.
  await page.getByRole("button", { name: "Create key pair" }).click();
  await dlg.getByLabel("Name").fill("console-lab-key");
  await dlg.getByRole("button", { name: "Create key pair" }).click();
  out.duplicate_key_error = await dlg.getByRole("alert").innerText();
  await dlg.getByRole("button", { name: "Cancel" }).click();

  // Step 1: launch, with the notes' defaults, SSH and HTTP allowed and the lab's user data.
  await page.goto(`${URL_}/#/launch`);
  await page.getByRole("button", { name: "Launch instance" }).waitFor();
  out.launch_defaults = {
    ami: await page.locator("#ami option:checked").innerText(),
    type: await page.locator("#instance-type").inputValue(),
    public_ip: await page.locator("#public-ip").inputValue(),
    ssh: await page.locator("#allow-ssh").isChecked(),
    http: await page.locator("#allow-http").isChecked(),
    size: await page.locator("#volume-size").inputValue(),
    volume_type: await page.locator("#volume-type").inputValue(),
    vpc_default: (await page.locator("#vpc option:checked").innerText()).includes("default"),
    sections: await page.locator("form.launch h2, form.launch summary").allInnerTexts(),
  };
  await page.getByLabel("Name", { exact: true }).fill("console-lab");
  await page.locator("#key-pair").selectOption("console-lab-key");
  await page.getByText("Advanced details").click();
  await page.locator("#user-data").fill(env("USER_DATA"));
  // Points every minute on the monitoring tab, not basic monitoring's one per 5 minutes.
  await page.locator("#detailed-monitoring").check();
  await shot(page, "launch", true);
  await page.locator("#launch").click();
  const result = page.locator("#launch-result");
  await result.getByRole("link", { name: /^View i-/ }).waitFor();
  const id = (await result.getByRole("link", { name: /^View i-/ }).innerText()).replace("View ", "");
  out.instance_id = id;
  mark("launched");
  log(`launched ${id}`);

  // The list: the state moves from pending to running on screen, without a reload.
  await page.getByRole("link", { name: "View all instances" }).click();
  const row = page.locator(`tr[data-key="${id}"]`);
  await row.waitFor();
  out.first_state = await row.locator(".state").innerText();

  // The other pages while the VM boots: rules edited, a volume, an Elastic IP, a topic.
  await page.goto(`${URL_}/#/groups`);
  await page.getByRole("button", { name: "Create security group" }).click();
  const sg = page.getByRole("dialog");
  await sg.getByLabel("Name").fill("console-rules");
  await sg.getByRole("button", { name: "Create security group" }).click();
  await page.getByRole("heading", { name: /\(console-rules\)/ }).waitFor();
  await page.getByRole("button", { name: "Add inbound rule" }).click();
  const rule = page.getByRole("dialog");
  await rule.getByLabel("From port").fill("443");
  await rule.getByLabel("To port").fill("443");
  await rule.getByLabel("Source CIDR").fill("192.0.2.0/24");
  await rule.getByRole("button", { name: "Save rule" }).click();
  const inbound = page.locator('table[aria-label="Inbound rules"] tbody tr');
  await inbound.first().waitFor();
  out.rule_added = await inbound.allInnerTexts();
  await shot(page, "security-group-rules");
  await inbound.first().getByRole("button", { name: "Delete" }).click();
  await page.locator('table[aria-label="Inbound rules"]').waitFor({ state: "detached" });
  out.rule_removed = true;
  await page.locator("#delete-group").click();
  await page.getByText(/^Deleted sg-/).waitFor();

  await page.goto(`${URL_}/#/volumes`);
  await page.getByRole("button", { name: "Create volume" }).click();
  const vd = page.getByRole("dialog");
  await vd.getByLabel("Size (GiB)").fill("1");
  await vd.getByRole("button", { name: "Create volume" }).click();
  const vrow = page.locator('table[aria-label="Volumes"] tbody tr', { hasText: "1 GiB" });
  await vrow.waitFor();
  await until("the volume available", 60_000, async () => (await vrow.innerText()).includes("available"), 1000);
  await shot(page, "volumes");
  await vrow.click();
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await vrow.waitFor({ state: "detached" });
  out.volume_created_and_deleted = true;

  await page.goto(`${URL_}/#/eips`);
  await page.getByRole("button", { name: "Allocate Elastic IP address" }).click();
  const eip = page.locator('table[aria-label="Elastic IPs"] tbody tr');
  await eip.waitFor();
  out.eip = (await eip.locator("td").first().innerText()).trim();
  await eip.click();
  await page.getByRole("button", { name: "Release" }).click();
  await eip.waitFor({ state: "detached" });

  await page.goto(`${URL_}/#/sns`);
  await page.getByRole("button", { name: "Create topic" }).click();
  const td = page.getByRole("dialog");
  await td.getByLabel("Name").fill("console-topic");
  await td.getByRole("button", { name: "Create topic" }).click();
  const topic = page.locator("tr", { hasText: "console-topic" });
  await topic.waitFor();
  await topic.click();
  await page.getByRole("heading", { name: "Subscriptions" }).waitFor();
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await topic.waitFor({ state: "detached" });
  out.topic_created_and_deleted = true;

  await page.goto(`${URL_}/#/amis`);
  await page.locator('table[aria-label="AMIs"] tbody tr').first().waitFor();
  out.amis = await page.locator('table[aria-label="AMIs"] tbody tr').allInnerTexts();

  await page.goto(`${URL_}/#/instances`);
  await until("running", 600_000, async () => (await row.locator(".state").innerText()) === "running");
  out.state_code = await row.locator(".state").getAttribute("title");
  mark("running");
  const ip = await row.locator("a.public-ip").innerText();
  out.public_ip = ip;
  out.public_ip_href = await row.locator("a.public-ip").getAttribute("href");
  log(`running with public IP ${ip}`);
  await shot(page, "instances");

  // Step 3: the public IP's page (user data installed and started httpd).
  const body = await until("the page on the public IP", 600_000, async () => {
    try {
      const r = await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(5000) });
      const t = await r.text();
      return r.ok && t.includes("Hello from") ? t : null;
    } catch { return null; }
  }, 3000);
  out.page = body.trim();
  mark("page");
  const site = await ctx.newPage();
  await site.goto(`http://${ip}/`);
  await shot(site, "public-page");
  await site.close();

  // The detail tabs: status checks, console output.
  await row.click();
  await page.getByRole("tab", { name: "Console output" }).click();
  await until("console output", 60_000, async () => (await page.locator("pre.console").innerText()).includes("Linux version"));
  out.console_has_boot = true;
  await shot(page, "console-output");

  // The serial console in the page: Enter gives a root shell on ec2lab Linux.
  await page.getByRole("tab", { name: "Serial console" }).click();
  await page.getByText(/^Connected/).waitFor();
  const serialInput = page.locator("#serial-input");
  await serialInput.press("Enter");
  await serialInput.fill("echo serial-$((6*7))");
  await serialInput.press("Enter");
  await until("the serial console's answer", 60_000,
    async () => (await page.locator("#serial-output").innerText()).includes("serial-42"), 1000);
  out.serial_console = true;
  await shot(page, "serial-console");

  // Step 4: the monitoring tab, with CPU data points.
  await page.getByRole("tab", { name: "Monitoring" }).click();
  const cpu = page.locator('figure[data-metric="CPUUtilization"]');
  await cpu.waitFor();
  out.cpu_points = await until("CPU data points", 300_000, async () => {
    const n = Number(await cpu.locator("svg.chart").getAttribute("data-points"));
    if (n > 0) return n;
    await page.getByRole("button", { name: "Refresh" }).click();
    return 0;
  }, 10_000);
  mark("cpu_points");
  await shot(page, "monitoring");

  // "Add to dashboard": a new dashboard.
  await cpu.getByRole("button", { name: "Add to dashboard" }).click();
  const add = page.getByRole("dialog");
  await add.getByLabel("New dashboard name").fill("console-lab");
  await add.getByRole("button", { name: "Add to dashboard" }).click();
  await page.getByText("Added to dashboard console-lab").waitFor();
  await page.goto(`${URL_}/#/cw-dashboards/console-lab`);
  await page.locator("img.widget-image").waitFor();
  out.dashboard_image = await page.locator("img.widget-image").evaluate((i) => i.complete && i.naturalWidth);
  await shot(page, "cloudwatch-dashboard");

  // An alarm from the graph, its threshold drawn on it.
  await page.goto(`${URL_}/#/instances/${id}`);
  await page.getByRole("tab", { name: "Monitoring" }).click();
  await cpu.getByRole("button", { name: "Create alarm" }).click();
  const alarm = page.getByRole("dialog");
  await alarm.getByLabel("Threshold").fill("90");
  out.alarm_threshold_line = await alarm.locator("line.threshold").count();
  await shot(page, "create-alarm");
  await alarm.getByRole("button", { name: "Create alarm" }).click();
  await page.getByText(/Created alarm/).waitFor();
  await page.goto(`${URL_}/#/cw-alarms`);
  const alarmRow = page.locator(`tr[data-key="${id}-CPUUtilization-alarm"]`);
  await alarmRow.waitFor();
  out.alarm_state = await alarmRow.locator(".alarm").innerText();
  await shot(page, "alarms");

  // Step 6: delete everything: terminate (keyboard: the row opens with Enter), the group,
  // the key pair.
  await page.goto(`${URL_}/#/instances`);
  await row.focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: `Instance: ${id} (console-lab)` }).waitFor();
  await page.locator('[data-action="terminate"]').click();
  await until("terminated", 600_000, async () => (await row.locator(".state").innerText()) === "terminated");
  mark("terminated");
  await shot(page, "terminated");

  await page.goto(`${URL_}/#/groups`);
  const group = page.locator("tr", { hasText: "launch-wizard" });
  await group.click();
  await page.getByRole("heading", { name: "Inbound rules" }).waitFor();
  out.group_rules = await page.locator('table[aria-label="Inbound rules"] tbody tr').allInnerTexts();
  await page.locator("#delete-group").click();
  await page.getByText(/^Deleted sg-/).waitFor();
  await page.locator("tr", { hasText: "launch-wizard" }).waitFor({ state: "detached" });
  out.group_left = await page.locator("tr", { hasText: "launch-wizard" }).count();

  await page.goto(`${URL_}/#/keypairs`);
  await page.getByRole("cell", { name: "console-lab-key" }).click();
  await page.locator("#delete-key").click();
  await page.getByText("Deleted key pair console-lab-key").waitFor();
  await page.getByRole("cell", { name: "console-lab-key" }).waitFor({ state: "detached" });
  out.key_left = await page.getByRole("cell", { name: "console-lab-key" }).count();
  await shot(page, "cleaned-up");

  // A phone-sized window: the menu folds away, tables become cards.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${URL_}/#/instances`);
  await row.waitFor();
  out.phone_nav_hidden = !(await page.locator("nav.side").isVisible());
  await page.getByRole("button", { name: "Menu" }).click();
  out.phone_menu_opens = await page.locator("nav.side").isVisible();
  await page.getByRole("button", { name: "Menu" }).click();
  await shot(page, "phone-instances");
  mark("done");
  console.log(JSON.stringify(out));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
