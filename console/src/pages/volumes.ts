// Volumes and snapshots: create, attach, detach, delete; snapshot a volume.
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, dialog, every, field, fill, flash, h, table, when } from "../ui";

export async function volumesPage(main: HTMLElement) {
  const { ec2 } = api();
  const vols = h("div", {}), snaps = h("div", {});
  let vol: string | null = null, snap: string | null = null;
  const load = async () => {
    const r = await attempt(main, () => Promise.all([ec2.send(new DescribeVolumesCommand({})),
      ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }))]));
    if (!r) return;
    fill(vols, table(r[0].Volumes || [], [
      { title: "Volume ID", cell: (v) => v.VolumeId }, { title: "Size", cell: (v) => `${v.Size} GiB` },
      { title: "Type", cell: (v) => v.VolumeType }, { title: "State", cell: (v) => h("span", { class: `state ${v.State}` }, v.State) },
      { title: "Attached to", cell: (v) => (v.Attachments || []).map((a) => `${a.InstanceId} (${a.Device}, ${a.State})`).join(", ") || "–" },
      { title: "Zone", cell: (v) => v.AvailabilityZone }, { title: "Created", cell: (v) => when(v.CreateTime) },
    ], { key: (v) => v.VolumeId!, selected: vol, label: "Volumes", onSelect: (v) => { vol = v.VolumeId!; load(); } }));
    fill(snaps, table(r[1].Snapshots || [], [
      { title: "Snapshot ID", cell: (s) => s.SnapshotId }, { title: "Volume", cell: (s) => s.VolumeId },
      { title: "Size", cell: (s) => `${s.VolumeSize} GiB` }, { title: "State", cell: (s) => `${s.State} ${s.Progress || ""}` },
      { title: "Description", cell: (s) => s.Description }, { title: "Started", cell: (s) => when(s.StartTime) },
    ], { key: (s) => s.SnapshotId!, selected: snap, label: "Snapshots", onSelect: (s) => { snap = s.SnapshotId!; load(); } }));
  };
  const need = (x: string | null, what: string) => { if (!x) flash(main, "info", `Select a ${what} first.`); return !!x; };
  const run = async (f: () => Promise<any>, ok: string) => { if (await attempt(main, f)) { flash(main, "ok", ok); load(); } };
  const create = async () => {
    const zones = await ec2.send(new DescribeAvailabilityZonesCommand({})).catch(() => ({ AvailabilityZones: [] as any[] }));
    const size = h("input", { type: "number", value: 8, min: 1 });
    const type = h("select", {}, ["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"].map((t) => h("option", { value: t }, t)));
    const az = h("input", { value: zones.AvailabilityZones?.[0]?.ZoneName || `${api().region}a`, required: true });
    const fromSnap = h("input", { value: snap || "", placeholder: "snap-… (optional)" });
    const id = await dialog("Create volume", [field("Size (GiB)", size), field("Volume type", type), field("Availability Zone", az), field("Snapshot ID", fromSnap)],
      "Create volume", async () => (await ec2.send(new CreateVolumeCommand({ Size: Number(size.value), VolumeType: type.value as any,
        AvailabilityZone: az.value.trim(), SnapshotId: fromSnap.value.trim() || undefined }))).VolumeId);
    if (id) load();
  };
  const attach = async () => {
    if (!need(vol, "volume")) return;
    const inst = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-state-name", Values: ["running", "stopped"] }] }));
    const sel = h("select", {}, (inst.Reservations || []).flatMap((r) => r.Instances || []).map((i) => h("option", { value: i.InstanceId }, i.InstanceId)));
    const dev = h("input", { value: "/dev/sdf", required: true });
    if (await dialog(`Attach ${vol}`, [field("Instance", sel), field("Device name", dev)], "Attach volume", async () =>
      ec2.send(new AttachVolumeCommand({ VolumeId: vol!, InstanceId: sel.value, Device: dev.value.trim() })))) load();
  };
  fill(main,
    h("div", { class: "page-head" }, h("h1", {}, "Volumes"), h("div", { class: "actions" },
      button("Create volume", create, "primary"), button("Attach", attach),
      button("Detach", () => need(vol, "volume") && run(() => ec2.send(new DetachVolumeCommand({ VolumeId: vol! })), `Detaching ${vol}`)),
      button("Create snapshot", () => need(vol, "volume") && run(() => ec2.send(new CreateSnapshotCommand({ VolumeId: vol!, Description: "console snapshot" })), `Snapshot of ${vol} started`)),
      button("Delete", () => need(vol, "volume") && confirm(`Delete ${vol}?`) && run(() => ec2.send(new DeleteVolumeCommand({ VolumeId: vol! })), `Deleted ${vol}`)))),
    vols,
    h("div", { class: "page-head" }, h("h1", {}, "Snapshots"), h("div", { class: "actions" },
      button("Delete snapshot", () => need(snap, "snapshot") && confirm(`Delete ${snap}?`) && run(() => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap! })), `Deleted ${snap}`)))),
    snaps);
  await load();
  every(5000, load);
}
