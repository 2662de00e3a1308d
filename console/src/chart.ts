// A line graph in SVG: one metric's data points over a time range, with an optional
// threshold line (an alarm's).
import { h } from "./ui";

const NS = "http://www.w3.org/2000/svg";

function s(tag: string, attrs: Record<string, any>, ...children: Node[]) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  children.forEach((c) => el.appendChild(c));
  return el;
}

export interface Series {
  times: Date[];
  values: number[];
}

/** The graph of `series` between `start` and `end`. */
export function lineChart(series: Series, start: Date, end: Date, unit: string, threshold?: number) {
  const W = 400, H = 160, L = 44, R = 8, T = 8, B = 22;
  const pts = series.times.map((t, i) => [t.getTime(), series.values[i]] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  let max = Math.max(...pts.map((p) => p[1]), threshold ?? 0, unit === "Percent" ? 1 : 0);
  if (!(max > 0)) max = 1;
  max *= 1.1;
  const t0 = start.getTime(), t1 = Math.max(end.getTime(), t0 + 1);
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "data-points": pts.length });
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const label = s("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end", class: "axis" });
    label.textContent = v >= 100 ? v.toFixed(0) : v.toPrecision(2);
    svg.append(label);
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]] as [number, string][]) {
    const label = s("text", { x: x(t), y: H - 6, "text-anchor": anchor, class: "axis" });
    label.textContent = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    svg.append(label);
  }
  if (threshold !== undefined)
    svg.append(s("line", { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold), class: "threshold" }));
  if (pts.length)
    svg.append(s("polyline", { points: pts.map(([t, v]) => `${x(t)},${y(v)}`).join(" "), class: "line" }));
  for (const [t, v] of pts) {
    const c = s("circle", { cx: x(t), cy: y(v), r: 2.5, class: "point" });
    const title = s("title", {});
    title.textContent = `${new Date(t).toLocaleString()}: ${v.toFixed(2)} ${unit}`;
    c.append(title);
    svg.append(c);
  }
  const wrap = h("div", { class: "chart-wrap" });
  wrap.append(svg);
  if (!pts.length) wrap.append(h("p", { class: "empty" }, "No data points in this range yet."));
  return wrap;
}
