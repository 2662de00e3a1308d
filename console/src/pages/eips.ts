// Elastic IPs: allocate, associate with an instance, disassociate, release.
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, dialog, field, fill, flash, h, table } from "../ui";

export async function eipsPage(main: HTMLElement) {
  const { ec2 } = api();
  const list = h("div", {});
  let selected: any = null;
  const load = async () => {
    const r = await attempt(main, () => ec2.send(new DescribeAddressesCommand({})));
    if (!r) return;
    fill(list, table(r.Addresses || [], [
      { title: "Allocated IPv4 address", cell: (a) => a.PublicIp }, { title: "Allocation ID", cell: (a) => a.AllocationId },
      { title: "Associated instance", cell: (a) => a.InstanceId || "–" }, { title: "Private IP", cell: (a) => a.PrivateIpAddress || "–" },
      { title: "Association ID", cell: (a) => a.AssociationId || "–" },
    ], { key: (a) => a.AllocationId!, selected: selected?.AllocationId, label: "Elastic IPs", onSelect: (a) => { selected = a; load(); } }));
  };
  const need = () => { if (!selected) flash(main, "info", "Select an address first."); return !!selected; };
  const run = async (f: () => Promise<any>, ok: string) => { if (await attempt(main, f)) { flash(main, "ok", ok); load(); } };
  const associate = async () => {
    if (!need()) return;
    const inst = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-state-name", Values: ["running", "stopped", "pending"] }] }));
    const sel = h("select", {}, (inst.Reservations || []).flatMap((r) => r.Instances || []).map((i) => h("option", { value: i.InstanceId }, i.InstanceId)));
    if (await dialog(`Associate ${selected.PublicIp}`, field("Instance", sel), "Associate", async () =>
      ec2.send(new AssociateAddressCommand({ AllocationId: selected.AllocationId, InstanceId: sel.value })))) load();
  };
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "Elastic IP addresses"), h("div", { class: "actions" },
    button("Allocate Elastic IP address", () => run(() => ec2.send(new AllocateAddressCommand({ Domain: "vpc" })), "Allocated"), "primary"),
    button("Associate", associate),
    button("Disassociate", () => need() && run(() => ec2.send(new DisassociateAddressCommand({ AssociationId: selected.AssociationId })), "Disassociated")),
    button("Release", () => need() && confirm(`Release ${selected.PublicIp}?`) && run(() => ec2.send(new ReleaseAddressCommand({ AllocationId: selected.AllocationId })), "Released")))),
  list);
  await load();
}
