// Instances: the list (filters, state, status checks, public IP as a link), the actions
// (start, stop, reboot, terminate, create image) and the detail tabs.
import {
  CreateImageCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  GetConsoleOutputCommand,
  Instance,
  InstanceStatus,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, dialog, every, field, fill, flash, h, table, tag, when } from "../ui";
import { monitoringTab } from "./monitoring";
import { serialTab } from "./serial";

const TABS = ["Details", "Status checks", "Monitoring", "Security", "Networking", "Storage", "Console output", "Serial console"];

/** The state as EC2 gives it: name and code. */
export function stateBadge(s?: { Name?: string; Code?: number }) {
  return h("span", { class: `state ${s?.Name}`, title: `state code ${s?.Code}` }, s?.Name || "");
}

function checks(st?: InstanceStatus) {
  if (!st) return "–";
  const sys = st.SystemStatus?.Status, ins = st.InstanceStatus?.Status;
  if (sys === "ok" && ins === "ok") return h("span", { class: "ok" }, "2/2 checks passed");
  if (sys === "initializing" || ins === "initializing") return "Initializing";
  if (sys === "not-applicable") return "–";
  return h("span", { class: "bad" }, `${(sys === "ok" ? 1 : 0) + (ins === "ok" ? 1 : 0)}/2 checks passed`);
}

function dl(pairs: [string, any][]) {
  return h("dl", { class: "details" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
}

export async function instancesPage(main: HTMLElement, arg: string) {
  let selected: string | null = arg || null;
  let tab = "Details";
  let instances: Instance[] = [];
  let statuses: InstanceStatus[] = [];
  const search = h("input", { type: "search", id: "instance-search", placeholder: "Find instance by attribute or tag", "aria-label": "Find instances" });
  const stateSel = h("select", { id: "state-filter", "aria-label": "Instance state" },
    ["all states", "pending", "running", "stopping", "stopped", "shutting-down", "terminated"].map((s) =>
      h("option", { value: s.startsWith("all") ? "" : s }, s)));
  const list = h("div", { id: "instance-list" });
  const detail = h("section", { id: "instance-detail", "aria-live": "polite" });
  const msg = h("div", {});

  const act = (label: string, f: (ids: string[]) => Promise<any>, confirmText?: string) =>
    button(label, async () => {
      if (!selected) return flash(msg, "info", "Select an instance first.");
      if (confirmText && !confirm(`${confirmText} ${selected}?`)) return;
      const ok = await attempt(msg, () => f([selected!]));
      if (ok) { flash(msg, "ok", `${label}: ${selected}`); load(); }
    }, "secondary", { "data-action": label.toLowerCase().replace(/ /g, "-") });
  const { ec2 } = api();
  const actions = h("div", { class: "actions", role: "toolbar", "aria-label": "Instance state" },
    act("Stop", (ids) => ec2.send(new StopInstancesCommand({ InstanceIds: ids }))),
    act("Start", (ids) => ec2.send(new StartInstancesCommand({ InstanceIds: ids }))),
    act("Reboot", (ids) => ec2.send(new RebootInstancesCommand({ InstanceIds: ids }))),
    act("Terminate", (ids) => ec2.send(new TerminateInstancesCommand({ InstanceIds: ids })), "Terminate (delete)"),
    button("Create image", () => createImage(), "secondary", { "data-action": "create-image" }),
    h("a", { class: "button primary", href: "#/launch" }, "Launch instances"),
  );

  const createImage = async () => {
    if (!selected) return flash(msg, "info", "Select an instance first.");
    const name = h("input", { required: true });
    const desc = h("input", {});
    const id = await dialog(`Create image from ${selected}`, [field("Image name", name), field("Image description", desc)],
      "Create image", async () => (await ec2.send(new CreateImageCommand({
        InstanceId: selected!, Name: name.value.trim(), Description: desc.value || undefined,
      }))).ImageId);
    if (id) flash(msg, "ok", `Creating image ${id}`);
  };

  const render = () => {
    const q = search.value.trim().toLowerCase();
    const rows = instances.filter((i) => !q || JSON.stringify([i.InstanceId, i.Tags, i.PublicIpAddress, i.PrivateIpAddress,
      i.InstanceType, i.KeyName, i.ImageId]).toLowerCase().includes(q));
    const status = (id: string) => statuses.find((s) => s.InstanceId === id);
    fill(list, table(rows, [
      { title: "Name", cell: (i) => tag(i.Tags, "Name") || "–" },
      { title: "Instance ID", cell: (i) => h("a", { href: `#/instances/${i.InstanceId}` }, i.InstanceId) },
      { title: "Instance state", cell: (i) => stateBadge(i.State) },
      { title: "Instance type", cell: (i) => i.InstanceType },
      { title: "Status check", cell: (i) => checks(status(i.InstanceId!)) },
      { title: "Public IPv4 address", cell: (i) => i.PublicIpAddress
        ? h("a", { href: `http://${i.PublicIpAddress}/`, target: "_blank", rel: "noopener", class: "public-ip" }, i.PublicIpAddress) : "–" },
      { title: "Key name", cell: (i) => i.KeyName || "–" },
      { title: "Launch time", cell: (i) => when(i.LaunchTime) },
    ], {
      key: (i) => i.InstanceId!, selected, label: "Instances", empty: "No instances match.",
      onSelect: (i) => { location.hash = `#/instances/${i.InstanceId}`; },
    }));
    renderDetail(status);
  };

  let monitoringShownFor = "";
  const renderDetail = (status: (id: string) => InstanceStatus | undefined) => {
    const i = instances.find((x) => x.InstanceId === selected);
    if (!i) { monitoringShownFor = ""; fill(detail); return; }
    const tabs = h("div", { role: "tablist", class: "tabs", "aria-label": "Instance details" }, TABS.map((t) =>
      h("button", { type: "button", role: "tab", "aria-selected": String(t === tab), class: t === tab ? "tab active" : "tab",
        onclick: () => { tab = t; monitoringShownFor = ""; render(); } }, t)));
    // The monitoring and console panels load on their own; a poll leaves them be.
    if (["Monitoring", "Console output", "Serial console"].includes(tab) && monitoringShownFor === tab + i.InstanceId
      && detail.querySelector(".tabpanel")) {
      detail.querySelector("[role=tablist]")?.replaceWith(tabs);
      return;
    }
    const panel = h("div", { class: "tabpanel", role: "tabpanel", "aria-label": tab });
    fill(detail, h("h2", {}, `Instance: ${i.InstanceId}`, tag(i.Tags, "Name") ? ` (${tag(i.Tags, "Name")})` : ""), tabs, panel);
    const st = status(i.InstanceId!);
    switch (tab) {
      case "Details":
        fill(panel, dl([
          ["Instance ID", i.InstanceId], ["Instance state", stateBadge(i.State)], ["State code", String(i.State?.Code)],
          ["Instance type", i.InstanceType], ["AMI ID", i.ImageId], ["Key pair", i.KeyName],
          ["Public IPv4 address", i.PublicIpAddress ? h("a", { href: `http://${i.PublicIpAddress}/`, target: "_blank", rel: "noopener" }, i.PublicIpAddress) : null],
          ["Public DNS", i.PublicDnsName], ["Private IPv4 address", i.PrivateIpAddress], ["Launch time", when(i.LaunchTime)],
          ["Availability Zone", i.Placement?.AvailabilityZone], ["State reason", i.StateTransitionReason],
          ["Monitoring", i.Monitoring?.State],
        ]));
        break;
      case "Status checks":
        fill(panel, dl([
          ["System status checks", st?.SystemStatus?.Status],
          ["Instance status checks", st?.InstanceStatus?.Status],
          ...((st?.SystemStatus?.Details || []).map((d) => [`System: ${d.Name}`, d.Status]) as [string, any][]),
          ...((st?.InstanceStatus?.Details || []).map((d) => [`Instance: ${d.Name}`, d.Status]) as [string, any][]),
          ["Scheduled events", (st?.Events || []).map((e) => `${e.Code}: ${e.Description}`).join("; ") || "none"],
        ]));
        break;
      case "Monitoring":
        monitoringShownFor = tab + i.InstanceId;
        monitoringTab(panel, i.InstanceId!, i.Monitoring?.State === "enabled");
        break;
      case "Security":
        fill(panel, dl([["Key pair", i.KeyName]]), h("h3", {}, "Security groups"),
          h("ul", {}, (i.SecurityGroups || []).map((g) => h("li", {}, h("a", { href: `#/groups/${g.GroupId}` }, `${g.GroupId} (${g.GroupName})`)))));
        break;
      case "Networking":
        fill(panel, dl([["VPC", i.VpcId], ["Subnet", i.SubnetId], ["Private IPv4", i.PrivateIpAddress],
          ["Public IPv4", i.PublicIpAddress], ["Private DNS", i.PrivateDnsName]]),
          h("h3", {}, "Network interfaces"), table(i.NetworkInterfaces || [], [
            { title: "Interface", cell: (n) => n.NetworkInterfaceId }, { title: "Private IP", cell: (n) => n.PrivateIpAddress },
            { title: "Public IP", cell: (n) => n.Association?.PublicIp || "–" }, { title: "MAC", cell: (n) => n.MacAddress },
          ], { key: (n) => n.NetworkInterfaceId!, label: "Network interfaces" }));
        break;
      case "Storage":
        fill(panel, dl([["Root device", i.RootDeviceName], ["Root device type", i.RootDeviceType]]),
          table(i.BlockDeviceMappings || [], [
            { title: "Device", cell: (b) => b.DeviceName }, { title: "Volume ID", cell: (b) => h("a", { href: "#/volumes" }, b.Ebs?.VolumeId) },
            { title: "Attach status", cell: (b) => b.Ebs?.Status }, { title: "Delete on termination", cell: (b) => String(b.Ebs?.DeleteOnTermination) },
          ], { key: (b) => b.DeviceName!, label: "Block devices" }));
        break;
      case "Serial console":
        monitoringShownFor = tab + i.InstanceId;
        serialTab(panel, i.InstanceId!);
        break;
      case "Console output": {
        monitoringShownFor = tab + i.InstanceId;
        const pre = h("pre", { class: "console", tabindex: 0, "aria-label": "Console output" }, "Loading…");
        fill(panel, h("div", { class: "actions" }, button("Refresh", () => loadConsole())), pre);
        const loadConsole = async () => {
          const r = await attempt(panel, () => ec2.send(new GetConsoleOutputCommand({ InstanceId: i.InstanceId, Latest: true })));
          if (!r) return;
          const text = r.Output ? new TextDecoder().decode(Uint8Array.from(atob(r.Output), (c) => c.charCodeAt(0))) : "(no output yet)";
          if (pre.textContent === text) return;
          fill(pre, text);
          pre.scrollTop = pre.scrollHeight;
        };
        loadConsole();
        // The boot goes on while it is watched.
        every(5000, () => { if (pre.isConnected) loadConsole(); });
        break;
      }
    }
  };

  const load = async () => {
    const state = stateSel.value;
    const r = await attempt(msg, () => Promise.all([
      ec2.send(new DescribeInstancesCommand(state ? { Filters: [{ Name: "instance-state-name", Values: [state] }] } : {})),
      ec2.send(new DescribeInstanceStatusCommand({ IncludeAllInstances: true })),
    ]));
    if (!r) return;
    instances = (r[0].Reservations || []).flatMap((x) => x.Instances || [])
      .sort((a, b) => String(b.LaunchTime).localeCompare(String(a.LaunchTime)));
    statuses = r[1].InstanceStatuses || [];
    render();
  };
  search.addEventListener("input", render);
  stateSel.addEventListener("change", load);
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "Instances"), actions), msg,
    h("div", { class: "row filters" }, search, stateSel), list, detail);
  await load();
  // States move on screen (pending -> running) without a reload.
  every(3000, load);
}
