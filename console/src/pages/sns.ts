// SNS: topics (create, delete) and their subscriptions (subscribe, unsubscribe), publish.
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  ListSubscriptionsByTopicCommand,
  ListTopicsCommand,
  PublishCommand,
  SubscribeCommand,
  UnsubscribeCommand,
} from "@aws-sdk/client-sns";
import { api } from "../api";
import { attempt, button, dialog, field, fill, flash, h, table } from "../ui";

export async function snsPage(main: HTMLElement) {
  const { sns } = api();
  const list = h("div", {}), subs = h("section", {});
  let selected: string | null = null;
  const load = async () => {
    const r = await attempt(main, () => sns.send(new ListTopicsCommand({})));
    if (!r) return;
    fill(list, table(r.Topics || [], [
      { title: "Name", cell: (t) => t.TopicArn!.split(":").pop() }, { title: "ARN", cell: (t) => h("code", {}, t.TopicArn) },
    ], { key: (t) => t.TopicArn!, selected, label: "Topics", onSelect: (t) => { selected = t.TopicArn!; load(); showSubs(); } }));
  };
  const showSubs = async () => {
    if (!selected) return fill(subs);
    const r = await attempt(main, () => sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: selected! })));
    if (!r) return;
    fill(subs, h("div", { class: "page-head" }, h("h2", {}, "Subscriptions"), h("div", { class: "actions" },
      button("Create subscription", subscribe), button("Publish message", publish))),
    table(r.Subscriptions || [], [
      { title: "Protocol", cell: (s) => s.Protocol }, { title: "Endpoint", cell: (s) => s.Endpoint },
      { title: "Subscription", cell: (s) => s.SubscriptionArn },
      { title: "", cell: (s) => s.SubscriptionArn?.startsWith("arn:") ? button("Delete", async () => {
        if (await attempt(subs, () => sns.send(new UnsubscribeCommand({ SubscriptionArn: s.SubscriptionArn! })))) showSubs();
      }) : "" },
    ], { key: (s) => s.SubscriptionArn! + s.Endpoint, label: "Subscriptions", empty: "No subscriptions." }));
  };
  const subscribe = async () => {
    const proto = h("select", {}, ["http", "https", "email", "sqs", "lambda"].map((p) => h("option", { value: p }, p)));
    const ep = h("input", { required: true, placeholder: "http://…" });
    if (await dialog("Create subscription", [field("Protocol", proto), field("Endpoint", ep)], "Create subscription", async () =>
      sns.send(new SubscribeCommand({ TopicArn: selected!, Protocol: proto.value, Endpoint: ep.value.trim() })))) showSubs();
  };
  const publish = async () => {
    const subject = h("input", {});
    const body = h("textarea", { rows: 4, required: true });
    const r = await dialog("Publish message", [field("Subject", subject), field("Message", body)], "Publish", async () =>
      sns.send(new PublishCommand({ TopicArn: selected!, Subject: subject.value || undefined, Message: body.value })));
    if (r) flash(main, "ok", `Published ${r.MessageId}`);
  };
  const create = async () => {
    const name = h("input", { required: true });
    if (await dialog("Create topic", field("Name", name), "Create topic", async () =>
      sns.send(new CreateTopicCommand({ Name: name.value.trim() })))) load();
  };
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "SNS topics"), h("div", { class: "actions" },
    button("Delete", async () => {
      if (!selected || !confirm(`Delete topic ${selected}?`)) return;
      if (await attempt(main, () => sns.send(new DeleteTopicCommand({ TopicArn: selected! })))) { selected = null; fill(subs); load(); }
    }), button("Create topic", create, "primary"))), list, subs);
  await load();
}
