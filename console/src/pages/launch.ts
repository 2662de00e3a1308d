// "Launch instance": the seed notes' sections in their order, with their defaults (the
// quick-start AMI, t2.micro, a key pair, the default VPC with a public IP, a new group that
// allows SSH and HTTP, an 8 GiB gp3 root volume) and the advanced part's user data.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, fill, flash, h } from "../ui";
import { createKeyPairDialog } from "./keypairs";

const QUICK_START = "ec2lab-linux";

function section(title: string, ...body: any[]) {
  return h("section", { class: "card launch-section", "aria-label": title }, h("h2", {}, title), ...body);
}

function option(value: string, label: string, selected = false) {
  return h("option", { value, selected }, label);
}

export async function launchPage(main: HTMLElement) {
  const { ec2 } = api();
  fill(main, h("h1", {}, "Launch an instance"), h("p", {}, "Loading…"));
  const r = await attempt(main, () => Promise.all([
    ec2.send(new DescribeImagesCommand({})),
    ec2.send(new DescribeInstanceTypesCommand({})),
    ec2.send(new DescribeKeyPairsCommand({})),
    ec2.send(new DescribeVpcsCommand({})),
    ec2.send(new DescribeSubnetsCommand({})),
    ec2.send(new DescribeSecurityGroupsCommand({})),
  ]));
  if (!r) return;
  const [imgs, types, keys, vpcs, subnets, groups] = r;
  const images = (imgs.Images || []).filter((i) => i.State === "available");

  const name = h("input", { id: "name", placeholder: "e.g. My Web Server" });
  const ami = h("select", { id: "ami" }, images.map((i) =>
    option(i.ImageId!, `${i.Name} (${i.ImageId})${i.Name === QUICK_START ? " – Quick Start" : ""}`, i.Name === QUICK_START)));
  const typeNames = (types.InstanceTypes || []).map((t) => t.InstanceType!).sort();
  const itype = h("select", { id: "instance-type" }, typeNames.map((t) => {
    const info = types.InstanceTypes!.find((x) => x.InstanceType === t)!;
    return option(t, `${t} (${info.VCpuInfo?.DefaultVCpus} vCPU, ${(info.MemoryInfo?.SizeInMiB || 0) / 1024} GiB)`, t === "t2.micro");
  }));
  const keySel = h("select", { id: "key-pair" }, option("", "Proceed without a key pair"),
    (keys.KeyPairs || []).map((k) => option(k.KeyName!, k.KeyName!)));
  const newKey = button("Create new key pair", async () => {
    const k = await createKeyPairDialog();
    if (k) {
      keySel.append(option(k, k, true));
      keySel.value = k;
    }
  });

  const vpcSel = h("select", { id: "vpc" }, (vpcs.Vpcs || []).map((v) =>
    option(v.VpcId!, `${v.VpcId} (${v.CidrBlock})${v.IsDefault ? " – default" : ""}`, !!v.IsDefault)));
  const subnetSel = h("select", { id: "subnet" });
  const fillSubnets = () => fill(subnetSel, option("", "No preference (default subnet)"),
    (subnets.Subnets || []).filter((s) => s.VpcId === vpcSel.value).map((s) =>
      option(s.SubnetId!, `${s.SubnetId} (${s.CidrBlock}, ${s.AvailabilityZone})`)));
  fillSubnets();
  vpcSel.addEventListener("change", () => { fillSubnets(); fillGroups(); });
  const publicIp = h("select", { id: "public-ip" }, option("enable", "Enable", true), option("disable", "Disable"));
  const createGroup = h("input", { type: "radio", name: "fw", id: "fw-create", checked: true });
  const existing = h("input", { type: "radio", name: "fw", id: "fw-existing" });
  const allowSsh = h("input", { type: "checkbox", id: "allow-ssh", checked: true });
  const allowHttp = h("input", { type: "checkbox", id: "allow-http", checked: true });
  const groupSel = h("select", { id: "existing-group", multiple: true, disabled: true });
  const fillGroups = () => fill(groupSel, (groups.SecurityGroups || []).filter((g) => g.VpcId === vpcSel.value)
    .map((g) => option(g.GroupId!, `${g.GroupName} (${g.GroupId})`)));
  fillGroups();
  const fwChange = () => {
    const c = createGroup.checked;
    allowSsh.disabled = !c;
    allowHttp.disabled = !c;
    groupSel.disabled = c;
  };
  createGroup.addEventListener("change", fwChange);
  existing.addEventListener("change", fwChange);

  const size = h("input", { id: "volume-size", type: "number", min: 1, max: 16384, value: 8 });
  const vtype = h("select", { id: "volume-type" }, ["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"].map((t) =>
    option(t, t, t === "gp3")));
  const userData = h("textarea", { id: "user-data", rows: 10, spellcheck: false,
    placeholder: "#!/bin/sh\nyum install -y httpd\nsystemctl start httpd" });
  const detailed = h("input", { type: "checkbox", id: "detailed-monitoring" });
  const count = h("input", { id: "count", type: "number", min: 1, max: 20, value: 1 });
  const out = h("div", { id: "launch-result" });
  const launch = h("button", { type: "submit", class: "primary", id: "launch" }, "Launch instance");

  const form = h("form", { class: "launch" },
    h("div", { class: "launch-main" },
      section("Name and tags", h("label", { for: "name" }, "Name"), name),
      section("Application and OS Images (Amazon Machine Image)",
        h("label", { for: "ami" }, "AMI"), ami,
        h("small", {}, "The Quick Start AMI is ec2lab Linux (yum and systemctl work as on Amazon Linux).")),
      section("Instance type", h("label", { for: "instance-type" }, "Instance type"), itype),
      section("Key pair (login)", h("label", { for: "key-pair" }, "Key pair name"),
        h("div", { class: "row" }, keySel, newKey)),
      section("Network settings",
        h("label", { for: "vpc" }, "VPC"), vpcSel,
        h("label", { for: "subnet" }, "Subnet"), subnetSel,
        h("label", { for: "public-ip" }, "Auto-assign public IP"), publicIp,
        h("fieldset", {}, h("legend", {}, "Firewall (security groups)"),
          h("div", { class: "row" }, createGroup, h("label", { for: "fw-create" }, "Create security group"),
            existing, h("label", { for: "fw-existing" }, "Select existing security group")),
          h("div", { class: "check" }, allowSsh, h("label", { for: "allow-ssh" }, "Allow SSH traffic from Anywhere (0.0.0.0/0)")),
          h("div", { class: "check" }, allowHttp, h("label", { for: "allow-http" }, "Allow HTTP traffic from the internet")),
          h("label", { for: "existing-group" }, "Existing security groups"), groupSel)),
      section("Configure storage",
        h("div", { class: "row" }, h("span", {}, "1x"), size, h("label", { for: "volume-size" }, "GiB"), vtype,
          h("label", { for: "volume-type" }, "Root volume"))),
      h("details", { class: "card launch-section" }, h("summary", {}, "Advanced details"),
        h("div", { class: "check" }, detailed, h("label", { for: "detailed-monitoring" },
          "Detailed CloudWatch monitoring (a point every minute, or finer; basic monitoring gives one per 5 minutes)")),
        h("label", { for: "user-data" }, "User data (a script run at first boot)"), userData),
    ),
    h("aside", { class: "card summary", "aria-label": "Summary" }, h("h2", {}, "Summary"),
      h("label", { for: "count" }, "Number of instances"), count, launch, out),
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    launch.disabled = true;
    try {
      await attempt(out, async () => {
        let groupIds: string[];
        if (createGroup.checked) {
          const n = (groups.SecurityGroups || []).filter((g) => g.GroupName?.startsWith("launch-wizard")).length + 1;
          const g = await ec2.send(new CreateSecurityGroupCommand({
            GroupName: `launch-wizard-${n}-${Date.now().toString(36)}`,
            Description: `launch-wizard created ${new Date().toISOString()}`,
            VpcId: vpcSel.value,
          }));
          const perms: any[] = [];
          if (allowSsh.checked) perms.push({ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] });
          if (allowHttp.checked) perms.push({ IpProtocol: "tcp", FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: "0.0.0.0/0" }] });
          if (perms.length) await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: g.GroupId, IpPermissions: perms }));
          groupIds = [g.GroupId!];
        } else {
          groupIds = [...groupSel.selectedOptions].map((o) => o.value);
        }
        const image = images.find((i) => i.ImageId === ami.value);
        const res = await ec2.send(new RunInstancesCommand({
          ImageId: ami.value,
          InstanceType: itype.value as any,
          MinCount: Number(count.value),
          MaxCount: Number(count.value),
          KeyName: keySel.value || undefined,
          SubnetId: subnetSel.value || undefined,
          SecurityGroupIds: groupIds,
          NetworkInterfaces: [{ DeviceIndex: 0, AssociatePublicIpAddress: publicIp.value === "enable" }],
          BlockDeviceMappings: [{
            DeviceName: image?.RootDeviceName || "/dev/xvda",
            Ebs: { VolumeSize: Number(size.value), VolumeType: vtype.value as any, DeleteOnTermination: true },
          }],
          Monitoring: detailed.checked ? { Enabled: true } : undefined,
          UserData: userData.value ? btoa(unescape(encodeURIComponent(userData.value))) : undefined,
          TagSpecifications: name.value ? [{ ResourceType: "instance", Tags: [{ Key: "Name", Value: name.value }] }] : undefined,
        }));
        const ids = (res.Instances || []).map((i) => i.InstanceId!);
        flash(out, "ok", `Successfully initiated launch of instance ${ids.join(", ")}`);
        out.append(h("p", {}, ids.map((id) => h("a", { href: `#/instances/${id}`, class: "button" }, `View ${id}`)),
          " ", h("a", { href: "#/instances", class: "button primary" }, "View all instances")));
      });
    } finally {
      launch.disabled = false;
    }
  });
  fill(main, h("h1", {}, "Launch an instance"), form);
  name.focus();
}
