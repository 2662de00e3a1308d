// CloudWatch: dashboards (list, view, create, "add to dashboard" from a graph, delete) and
// alarms (create from a graph with its threshold line, state, history, delete).
import {
  DeleteAlarmsCommand,
  DeleteDashboardsCommand,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  GetMetricWidgetImageCommand,
  ListDashboardsCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
} from "@aws-sdk/client-cloudwatch";
import { ListTopicsCommand } from "@aws-sdk/client-sns";
import { api } from "../api";
import { lineChart, Series } from "../chart";
import { attempt, button, dialog, every, field, fill, flash, h, table, when } from "../ui";
import type { Graph } from "./monitoring";

function widgetOf(g: Graph, period: number, y: number) {
  return {
    type: "metric", x: 0, y, width: 12, height: 6,
    properties: {
      title: g.title, region: api().region, period, stat: g.stat, view: "timeSeries",
      metrics: [[g.namespace, g.metric, ...g.dimensions.flatMap((d) => [d.Name, d.Value])]],
    },
  };
}

/** "Add to dashboard": to an existing dashboard or a new one (created here). */
export async function addToDashboardDialog(g: Graph, period: number) {
  const { cw } = api();
  const list = await cw.send(new ListDashboardsCommand({}));
  const names = (list.DashboardEntries || []).map((d) => d.DashboardName!);
  const pick = h("select", { name: "dashboard" }, h("option", { value: "" }, "Create a new dashboard…"),
    names.map((n) => h("option", { value: n }, n)));
  const name = h("input", { name: "new-dashboard", placeholder: "Dashboard name", pattern: "[A-Za-z0-9_\\-]+" });
  pick.addEventListener("change", () => { name.disabled = !!pick.value; });
  const done = await dialog(`Add "${g.title}" to a dashboard`, [field("Dashboard", pick), field("New dashboard name", name,
    "Letters, digits, - and _.")], "Add to dashboard", async () => {
    const target = pick.value || name.value.trim();
    if (!target) throw new Error("Name the new dashboard, or pick one.");
    let body: any = { widgets: [] };
    if (pick.value) body = JSON.parse((await cw.send(new GetDashboardCommand({ DashboardName: target }))).DashboardBody || "{}");
    body.widgets = body.widgets || [];
    const y = body.widgets.reduce((m: number, w: any) => Math.max(m, (w.y || 0) + (w.height || 6)), 0);
    body.widgets.push(widgetOf(g, period, y));
    const r = await cw.send(new PutDashboardCommand({ DashboardName: target, DashboardBody: JSON.stringify(body) }));
    if (r.DashboardValidationMessages?.length) throw new Error(r.DashboardValidationMessages.map((m) => m.Message).join("; "));
    return target;
  });
  if (done) flash(document.getElementById("main")!, "ok", `Added to dashboard ${done}`);
}

/** "Create alarm" from a graph: the threshold is drawn on the graph as it is typed. */
export async function createAlarmDialog(g: Graph, period: number, data: Series, start: Date, end: Date) {
  const { sns, cw } = api();
  const topics = await sns.send(new ListTopicsCommand({})).catch(() => ({ Topics: [] as any[] }));
  const id = g.dimensions.map((d) => d.Value).join("-");
  const name = h("input", { name: "alarm-name", required: true, value: `${id}-${g.metric}-alarm` });
  const op = h("select", { name: "comparison" }, [["GreaterThanThreshold", ">"], ["GreaterThanOrEqualToThreshold", ">="],
    ["LessThanThreshold", "<"], ["LessThanOrEqualToThreshold", "<="]].map(([v, l]) => h("option", { value: v }, `${l} (${v})`)));
  const threshold = h("input", { name: "threshold", type: "number", step: "any", required: true, value: g.unit === "Percent" ? 80 : 1000 });
  const periods = h("input", { name: "periods", type: "number", min: 1, value: 1 });
  const topic = h("select", { name: "topic" }, h("option", { value: "" }, "No notification"),
    (topics.Topics || []).map((t: any) => h("option", { value: t.TopicArn }, t.TopicArn)));
  const preview = h("div", { class: "alarm-preview" });
  const draw = () => fill(preview, lineChart(data, start, end, g.unit, Number(threshold.value)));
  threshold.addEventListener("input", draw);
  draw();
  const made = await dialog(`Create alarm on ${g.title}`, [preview, field("Alarm name", name), field("Whenever the " + g.stat + " is", op),
    field("Threshold", threshold), field("Datapoints to alarm (periods)", periods), field("Notify SNS topic", topic)],
  "Create alarm", async () => {
    await cw.send(new PutMetricAlarmCommand({
      AlarmName: name.value.trim(), Namespace: g.namespace, MetricName: g.metric, Dimensions: g.dimensions,
      Statistic: g.stat as any, Period: period, EvaluationPeriods: Number(periods.value), Threshold: Number(threshold.value),
      ComparisonOperator: op.value as any, AlarmActions: topic.value ? [topic.value] : undefined,
    }));
    return name.value.trim();
  });
  if (made) flash(document.getElementById("main")!, "ok", `Created alarm ${made}`);
}

export async function dashboardsPage(main: HTMLElement, arg: string) {
  const { cw } = api();
  if (arg) return showDashboard(main, arg);
  const list = h("div", {});
  let selected: string | null = null;
  const load = async () => {
    const r = await attempt(main, () => cw.send(new ListDashboardsCommand({})));
    if (!r) return;
    fill(list, table(r.DashboardEntries || [], [
      { title: "Name", cell: (d) => h("a", { href: `#/cw-dashboards/${encodeURIComponent(d.DashboardName!)}` }, d.DashboardName) },
      { title: "Last modified", cell: (d) => when(d.LastModified) },
      { title: "Size", cell: (d) => `${d.Size} bytes` },
    ], { key: (d) => d.DashboardName!, selected, onSelect: (d) => { selected = d.DashboardName!; load(); }, label: "Dashboards",
      empty: "No dashboards. Add a graph from an instance's monitoring tab, or create one." }));
  };
  const create = async () => {
    const name = h("input", { required: true, pattern: "[A-Za-z0-9_\\-]+" });
    const made = await dialog("Create dashboard", field("Dashboard name", name), "Create dashboard", async () => {
      await cw.send(new PutDashboardCommand({ DashboardName: name.value.trim(), DashboardBody: JSON.stringify({ widgets: [] }) }));
      return name.value.trim();
    });
    if (made) load();
  };
  const del = async () => {
    if (!selected || !confirm(`Delete dashboard ${selected}?`)) return;
    if (await attempt(main, () => cw.send(new DeleteDashboardsCommand({ DashboardNames: [selected!] })))) { selected = null; load(); }
  };
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "CloudWatch dashboards"),
    h("div", { class: "actions" }, button("Delete", del), button("Create dashboard", create, "primary"))), list);
  await load();
}

async function showDashboard(main: HTMLElement, name: string) {
  const { cw } = api();
  const grid = h("div", { class: "graphs" });
  fill(main, h("div", { class: "page-head" }, h("h1", {}, `Dashboard: ${name}`), h("a", { class: "button", href: "#/cw-dashboards" }, "All dashboards")), grid);
  const load = async () => {
    const d = await attempt(main, () => cw.send(new GetDashboardCommand({ DashboardName: name })));
    if (!d) return;
    const widgets = (JSON.parse(d.DashboardBody || "{}").widgets || []).filter((w: any) => w.type === "metric");
    if (!widgets.length) return fill(grid, h("p", { class: "empty" }, "This dashboard has no graphs yet."));
    // Each graph is drawn by CloudWatch itself (GetMetricWidgetImage), all at once.
    const imgs = await Promise.all(widgets.map((w: any) => cw.send(new GetMetricWidgetImageCommand({
      MetricWidget: JSON.stringify({ ...w.properties, width: 600, height: 300 }), OutputFormat: "png",
    })).catch((e) => e)));
    fill(grid, widgets.map((w: any, n: number) => {
      const r = imgs[n];
      if (r instanceof Error) return h("figure", { class: "card graph" }, h("figcaption", {}, w.properties.title || ""), h("div", { class: "flash error" }, r.message));
      const url = URL.createObjectURL(new Blob([r.MetricWidgetImage], { type: "image/png" }));
      return h("figure", { class: "card graph" }, h("figcaption", {}, w.properties.title || w.properties.metrics?.[0]?.[1]),
        h("img", { src: url, alt: w.properties.title || "graph", class: "widget-image" }));
    }));
  };
  await load();
  every(60000, load);
}

export async function alarmsPage(main: HTMLElement) {
  const { cw } = api();
  const list = h("div", {});
  const history = h("section", {});
  let selected: string | null = null;
  const load = async () => {
    const r = await attempt(main, () => cw.send(new DescribeAlarmsCommand({})));
    if (!r) return;
    fill(list, table(r.MetricAlarms || [], [
      { title: "Name", cell: (a) => a.AlarmName },
      { title: "State", cell: (a) => h("span", { class: `alarm ${a.StateValue}` }, a.StateValue) },
      { title: "Conditions", cell: (a) => `${a.MetricName} ${a.Statistic} ${a.ComparisonOperator} ${a.Threshold} for ${a.EvaluationPeriods}x${a.Period}s` },
      { title: "Dimensions", cell: (a) => (a.Dimensions || []).map((d) => `${d.Name}=${d.Value}`).join(", ") },
      { title: "Actions", cell: (a) => (a.AlarmActions || []).join(", ") || "–" },
      { title: "Updated", cell: (a) => when(a.StateUpdatedTimestamp) },
    ], { key: (a) => a.AlarmName!, selected, label: "Alarms", empty: "No alarms. Create one from a graph on an instance's monitoring tab.",
      onSelect: (a) => { selected = a.AlarmName!; load(); showHistory(); } }));
  };
  const showHistory = async () => {
    if (!selected) return fill(history);
    const r = await attempt(main, () => cw.send(new DescribeAlarmHistoryCommand({ AlarmName: selected! })));
    if (!r) return;
    fill(history, h("h2", {}, `History: ${selected}`), table(r.AlarmHistoryItems || [], [
      { title: "Time", cell: (i) => when(i.Timestamp) }, { title: "Type", cell: (i) => i.HistoryItemType },
      { title: "Summary", cell: (i) => i.HistorySummary },
    ], { key: (i) => `${i.Timestamp}${i.HistorySummary}`, label: "Alarm history", empty: "No history yet." }));
  };
  const del = async () => {
    if (!selected || !confirm(`Delete alarm ${selected}?`)) return;
    if (await attempt(main, () => cw.send(new DeleteAlarmsCommand({ AlarmNames: [selected!] })))) { selected = null; fill(history); load(); }
  };
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "CloudWatch alarms"), h("div", { class: "actions" }, button("Delete", del))), list, history);
  await load();
  every(10000, load);
}
