// The instance's monitoring tab: CloudWatch graphs (GetMetricData, one call for all of
// them) with period and range pickers; each graph can go to a dashboard or become an alarm.
import { GetMetricDataCommand, MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { api } from "../api";
import { lineChart } from "../chart";
import { attempt, button, every, fill, h } from "../ui";
import { addToDashboardDialog, createAlarmDialog } from "./cloudwatch";

/** A graph: one metric of one instance. */
export interface Graph {
  title: string;
  namespace: string;
  metric: string;
  dimensions: { Name: string; Value: string }[];
  stat: string;
  unit: string;
}

export function instanceGraphs(id: string): Graph[] {
  const d = [{ Name: "InstanceId", Value: id }];
  const g = (title: string, metric: string, stat: string, unit: string): Graph =>
    ({ title, namespace: "AWS/EC2", metric, dimensions: d, stat, unit });
  return [
    g("CPU utilization (%)", "CPUUtilization", "Average", "Percent"),
    g("Network in (bytes)", "NetworkIn", "Sum", "Bytes"),
    g("Network out (bytes)", "NetworkOut", "Sum", "Bytes"),
    g("Disk reads (bytes)", "DiskReadBytes", "Sum", "Bytes"),
    g("Disk writes (bytes)", "DiskWriteBytes", "Sum", "Bytes"),
    g("Status check failed (any)", "StatusCheckFailed", "Maximum", "Count"),
  ];
}

/** Fetches every graph's points in one GetMetricData call. */
export async function graphData(graphs: Graph[], period: number, start: Date, end: Date) {
  const queries: MetricDataQuery[] = graphs.map((g, n) => ({
    Id: `m${n}`,
    MetricStat: {
      Metric: { Namespace: g.namespace, MetricName: g.metric, Dimensions: g.dimensions },
      Period: period,
      Stat: g.stat,
    },
    ReturnData: true,
  }));
  const r = await api().cw.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: start, EndTime: end }));
  return graphs.map((_, n) => {
    const res = (r.MetricDataResults || []).find((x) => x.Id === `m${n}`);
    return { times: res?.Timestamps || [], values: res?.Values || [] };
  });
}

/** The tab: 1-minute periods under detailed monitoring, else basic monitoring's 5 minutes. */
export function monitoringTab(panel: HTMLElement, id: string, detailed: boolean) {
  const first = detailed ? "60" : "300";
  const period = h("select", { id: "period", "aria-label": "Period" },
    [["60", "1 minute"], ["300", "5 minutes"], ["3600", "1 hour"]].map(([v, l]) => h("option", { value: v, selected: v === first }, l)));
  const range = h("select", { id: "range", "aria-label": "Time range" },
    [["1", "1 hour"], ["3", "3 hours"], ["12", "12 hours"], ["24", "1 day"], ["168", "1 week"]].map(([v, l]) =>
      h("option", { value: v, selected: v === "1" }, l)));
  const grid = h("div", { class: "graphs" });
  const graphs = instanceGraphs(id);
  const load = async () => {
    if (!panel.isConnected) return;
    const end = new Date(), start = new Date(end.getTime() - Number(range.value) * 3600_000);
    const data = await attempt(panel, () => graphData(graphs, Number(period.value), start, end));
    if (!data) return;
    fill(grid, graphs.map((g, n) => h("figure", { class: "card graph", "data-metric": g.metric },
      h("figcaption", {}, g.title),
      lineChart(data[n], start, end, g.unit),
      h("div", { class: "actions" },
        button("Add to dashboard", () => addToDashboardDialog(g, Number(period.value)), "secondary", { "data-action": "add-to-dashboard" }),
        button("Create alarm", () => createAlarmDialog(g, Number(period.value), data[n], start, end), "secondary", { "data-action": "create-alarm" })))));
  };
  period.addEventListener("change", load);
  range.addEventListener("change", load);
  fill(panel, h("div", { class: "row filters" }, h("label", { for: "period" }, "Period"), period,
    h("label", { for: "range" }, "Range"), range, button("Refresh", load)), grid);
  load();
  every(30000, load);
}
