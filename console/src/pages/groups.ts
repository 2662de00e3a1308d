// Security groups: list, create, delete, and their inbound and outbound rules (add, remove).
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  IpPermission,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  SecurityGroup,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, dialog, field, fill, flash, h, table } from "../ui";

function ports(p: IpPermission) {
  if (p.IpProtocol === "-1") return "All";
  return p.FromPort === p.ToPort ? String(p.FromPort) : `${p.FromPort}-${p.ToPort}`;
}

/** One rule per source, as the console lists them. */
function rules(perms: IpPermission[] = []) {
  return perms.flatMap((p) => [
    ...(p.IpRanges || []).map((r) => ({ p, source: r.CidrIp!, one: { ...p, IpRanges: [r], Ipv6Ranges: [], UserIdGroupPairs: [] } })),
    ...(p.Ipv6Ranges || []).map((r) => ({ p, source: r.CidrIpv6!, one: { ...p, IpRanges: [], Ipv6Ranges: [r], UserIdGroupPairs: [] } })),
    ...(p.UserIdGroupPairs || []).map((r) => ({ p, source: r.GroupId!, one: { ...p, IpRanges: [], Ipv6Ranges: [], UserIdGroupPairs: [r] } })),
  ]);
}

export async function groupsPage(main: HTMLElement, arg: string) {
  const { ec2 } = api();
  let selected: string | null = arg || null;
  const list = h("div", {});
  const detail = h("section", { id: "group-detail" });
  let groups: SecurityGroup[] = [];
  const load = async () => {
    const r = await attempt(main, () => ec2.send(new DescribeSecurityGroupsCommand({})));
    if (!r) return;
    groups = r.SecurityGroups || [];
    fill(list, table(groups, [
      { title: "Group ID", cell: (g) => g.GroupId }, { title: "Name", cell: (g) => g.GroupName },
      { title: "VPC", cell: (g) => g.VpcId }, { title: "Description", cell: (g) => g.Description },
      { title: "Inbound rules", cell: (g) => String(rules(g.IpPermissions).length) },
    ], { key: (g) => g.GroupId!, selected, label: "Security groups", onSelect: (g) => { selected = g.GroupId!; load(); } }));
    showDetail();
  };
  const showDetail = () => {
    const g = groups.find((x) => x.GroupId === selected);
    if (!g) return fill(detail);
    const ruleTable = (egress: boolean) => {
      const rs = rules(egress ? g.IpPermissionsEgress : g.IpPermissions);
      return [h("div", { class: "page-head" }, h("h3", {}, egress ? "Outbound rules" : "Inbound rules"),
        button(egress ? "Add outbound rule" : "Add inbound rule", () => addRule(g, egress))),
      table(rs, [
        { title: "Protocol", cell: (r) => r.p.IpProtocol === "-1" ? "All" : r.p.IpProtocol },
        { title: "Port range", cell: (r) => ports(r.p) },
        { title: egress ? "Destination" : "Source", cell: (r) => r.source },
        { title: "", cell: (r) => button("Delete", async () => {
          const cmd = egress ? new RevokeSecurityGroupEgressCommand({ GroupId: g.GroupId, IpPermissions: [r.one] })
            : new RevokeSecurityGroupIngressCommand({ GroupId: g.GroupId, IpPermissions: [r.one] });
          if (await attempt(detail, () => ec2.send(cmd as any))) load();
        }) },
      ], { key: (r) => `${r.p.IpProtocol}${ports(r.p)}${r.source}`, label: egress ? "Outbound rules" : "Inbound rules", empty: "No rules." })];
    };
    fill(detail, h("h2", {}, `${g.GroupId} (${g.GroupName})`), ruleTable(false), ruleTable(true));
  };
  const addRule = async (g: SecurityGroup, egress: boolean) => {
    const proto = h("select", {}, [["tcp", "TCP"], ["udp", "UDP"], ["icmp", "ICMP"], ["-1", "All traffic"]].map(([v, l]) => h("option", { value: v }, l)));
    const from = h("input", { type: "number", value: 22, min: -1, max: 65535 });
    const to = h("input", { type: "number", value: 22, min: -1, max: 65535 });
    const cidr = h("input", { value: "0.0.0.0/0", required: true });
    const ok = await dialog(`${egress ? "Outbound" : "Inbound"} rule for ${g.GroupId}`,
      [field("Protocol", proto), field("From port", from), field("To port", to), field(egress ? "Destination CIDR" : "Source CIDR", cidr)],
      "Save rule", async () => {
        const perm: IpPermission = { IpProtocol: proto.value, IpRanges: [{ CidrIp: cidr.value.trim() }] };
        if (proto.value !== "-1") { perm.FromPort = Number(from.value); perm.ToPort = Number(to.value); }
        const cmd = egress ? new AuthorizeSecurityGroupEgressCommand({ GroupId: g.GroupId, IpPermissions: [perm] })
          : new AuthorizeSecurityGroupIngressCommand({ GroupId: g.GroupId, IpPermissions: [perm] });
        await ec2.send(cmd as any);
        return true;
      });
    if (ok) load();
  };
  const create = async () => {
    const vpcs = await ec2.send(new DescribeVpcsCommand({}));
    const name = h("input", { required: true });
    const desc = h("input", { required: true, value: "created in the ec2lab console" });
    const vpc = h("select", {}, (vpcs.Vpcs || []).map((v) => h("option", { value: v.VpcId, selected: !!v.IsDefault }, `${v.VpcId} (${v.CidrBlock})`)));
    const id = await dialog("Create security group", [field("Name", name), field("Description", desc), field("VPC", vpc)], "Create security group",
      async () => (await ec2.send(new CreateSecurityGroupCommand({ GroupName: name.value.trim(), Description: desc.value, VpcId: vpc.value }))).GroupId);
    if (id) { selected = id; load(); }
  };
  const del = async () => {
    if (!selected) return flash(main, "info", "Select a security group first.");
    if (!confirm(`Delete security group ${selected}?`)) return;
    if (await attempt(main, () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: selected! })))) {
      flash(main, "ok", `Deleted ${selected}`); selected = null; load();
    }
  };
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "Security groups"), h("div", { class: "actions" },
    button("Delete", del, "secondary", { id: "delete-group" }), button("Create security group", create, "primary"))), list, detail);
  await load();
}
