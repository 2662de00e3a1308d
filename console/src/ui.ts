// Small DOM helpers: elements, tables, dialogs, messages, polling that stops with the page.
import { errorText } from "./api";

type Attrs = Record<string, any>;
type Child = Node | string | number | null | undefined | false | Child[];

/** An element with attributes (`on*` are listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") (el as any)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]) {
  el.replaceChildren();
  append(el, children);
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement, hint?: string) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", {}, hint) : null);
}

/** A message box; `error` ones carry the service's message. */
export function flash(where: Element, kind: "error" | "ok" | "info", text: string) {
  const box = h("div", { class: `flash ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  where.prepend(box);
  if (kind !== "error") setTimeout(() => box.remove(), 8000);
  return box;
}

/** Runs an action, showing its error (EC2's message) in `where` instead of throwing. */
export async function attempt<T>(where: Element, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    flash(where, "error", errorText(e));
    return undefined;
  }
}

export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
}

/** A table of rows with a checkbox-free selection: clicking a row (or Enter on it) selects it. */
export function table<T>(
  rows: T[],
  cols: Column<T>[],
  opts: { key: (r: T) => string; selected?: string | null; onSelect?: (r: T) => void; empty?: string; label?: string },
) {
  if (!rows.length) return h("p", { class: "empty" }, opts.empty || "Nothing here yet.");
  const body = rows.map((r) => {
    const k = opts.key(r);
    const tr = h(
      "tr",
      {
        class: opts.selected === k ? "selected" : "",
        "data-key": k,
        tabindex: opts.onSelect ? 0 : undefined,
        "aria-selected": opts.onSelect ? String(opts.selected === k) : undefined,
      },
      cols.map((c) => h("td", { "data-title": c.title }, c.cell(r))),
    );
    if (opts.onSelect) {
      tr.addEventListener("click", (ev) => {
        if ((ev.target as HTMLElement).closest("a,button,input,select")) return;
        opts.onSelect!(r);
      });
      tr.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          opts.onSelect!(r);
        }
      });
    }
    return tr;
  });
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": opts.label || "" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c.title)))),
      h("tbody", {}, body),
    ),
  );
}

/** A modal dialog; resolves with the submit's result, or null when cancelled. */
export function dialog<T>(
  title: string,
  body: Child,
  submitLabel: string,
  onSubmit: (form: HTMLFormElement, msg: HTMLElement) => Promise<T | undefined>,
): Promise<T | null> {
  return new Promise((resolve) => {
    const d = h("dialog", { class: "modal", "aria-label": title });
    const msg = h("div", {});
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const form = h(
      "form",
      {},
      h("h2", {}, title),
      msg,
      body,
      h("div", { class: "actions" }, cancel, h("button", { type: "submit", class: "primary" }, submitLabel)),
    );
    d.appendChild(form);
    document.body.appendChild(d);
    const done = (v: T | null) => {
      d.close();
      d.remove();
      resolve(v);
    };
    cancel.addEventListener("click", () => done(null));
    d.addEventListener("cancel", () => done(null));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      msg.replaceChildren();
      const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
      button.disabled = true;
      try {
        const v = await onSubmit(form, msg);
        if (v !== undefined) done(v);
      } catch (e) {
        flash(msg, "error", errorText(e));
      } finally {
        button.disabled = false;
      }
    });
    d.showModal();
    (form.querySelector("input,select,textarea") as HTMLElement | null)?.focus();
  });
}

/** Saves `text` as a file download. */
export function download(name: string, text: string, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Polling that belongs to the page on screen: every timer stops when the route changes.
let timers: number[] = [];
let leaving: (() => void)[] = [];

/** Runs `f` when the page on screen is left (a route change). */
export function onLeave(f: () => void) {
  leaving.push(f);
}

/** Calls `f` every `ms` while this page is shown. */
export function every(ms: number, f: () => void) {
  timers.push(window.setInterval(f, ms));
}

/** Stops the previous page's polling. */
export function stopTimers() {
  timers.forEach((t) => clearInterval(t));
  timers = [];
  leaving.forEach((f) => f());
  leaving = [];
}

/** The value of a tag, or "". */
export function tag(tags: { Key?: string; Value?: string }[] | undefined, key: string) {
  return tags?.find((t) => t.Key === key)?.Value || "";
}

/** A date as the console shows it. */
export function when(d: Date | string | undefined) {
  if (!d) return "";
  const t = typeof d === "string" ? new Date(d) : d;
  return t.toLocaleString();
}

/** A button. */
export function button(label: string, onclick: () => void, cls = "secondary", attrs: Attrs = {}) {
  return h("button", { type: "button", class: cls, onclick, ...attrs }, label);
}
