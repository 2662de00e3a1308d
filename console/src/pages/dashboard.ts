// The EC2 dashboard: resources by kind and instances by state, and "Launch instance".
import {
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, every, fill, h } from "../ui";

export async function dashboardPage(main: HTMLElement) {
  const body = h("div", { class: "cards" });
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "EC2 Dashboard"),
      h("a", { class: "button primary", href: "#/launch" }, "Launch instance")),
    h("p", {}, `Resources in region ${api().region}`),
    body,
  );
  const load = async () => {
    const { ec2 } = api();
    // One round trip: every kind at once.
    const r = await attempt(main, () => Promise.all([
      ec2.send(new DescribeInstancesCommand({})),
      ec2.send(new DescribeKeyPairsCommand({})),
      ec2.send(new DescribeSecurityGroupsCommand({})),
      ec2.send(new DescribeVolumesCommand({})),
      ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] })),
      ec2.send(new DescribeAddressesCommand({})),
    ]));
    if (!r) return;
    const [inst, keys, groups, vols, snaps, addrs] = r;
    const instances = (inst.Reservations || []).flatMap((x) => x.Instances || []);
    const states: Record<string, number> = {};
    for (const i of instances) states[i.State!.Name!] = (states[i.State!.Name!] || 0) + 1;
    const card = (title: string, n: number, href: string) =>
      h("a", { class: "card stat", href }, h("span", { class: "n" }, n), h("span", {}, title));
    fill(
      body,
      card("Instances (running)", states["running"] || 0, "#/instances"),
      card("Instances (all)", instances.filter((i) => i.State!.Name !== "terminated").length, "#/instances"),
      card("Key pairs", keys.KeyPairs?.length || 0, "#/keypairs"),
      card("Security groups", groups.SecurityGroups?.length || 0, "#/groups"),
      card("Volumes", vols.Volumes?.length || 0, "#/volumes"),
      card("Snapshots", snaps.Snapshots?.length || 0, "#/volumes"),
      card("Elastic IPs", addrs.Addresses?.length || 0, "#/eips"),
      h("section", { class: "card wide" }, h("h2", {}, "Instance states"),
        Object.keys(states).length
          ? h("ul", { class: "states" }, Object.entries(states).map(([s, n]) =>
            h("li", {}, h("span", { class: `state ${s}` }, s), ` ${n}`)))
          : h("p", {}, "No instances yet. ", h("a", { href: "#/launch" }, "Launch one."))),
    );
  };
  await load();
  every(5000, load);
}
