// AMIs: the registered images; launch from one, deregister one.
import { DeregisterImageCommand, DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, every, fill, flash, h, table, when } from "../ui";

export async function amisPage(main: HTMLElement) {
  const { ec2 } = api();
  const list = h("div", {});
  let selected: string | null = null;
  const load = async () => {
    const r = await attempt(main, () => ec2.send(new DescribeImagesCommand({})));
    if (!r) return;
    fill(list, table(r.Images || [], [
      { title: "Name", cell: (i) => i.Name }, { title: "AMI ID", cell: (i) => i.ImageId },
      { title: "State", cell: (i) => h("span", { class: `state ${i.State}` }, i.State) },
      { title: "Architecture", cell: (i) => i.Architecture }, { title: "Root device", cell: (i) => i.RootDeviceName },
      { title: "Description", cell: (i) => i.Description }, { title: "Created", cell: (i) => when(i.CreationDate) },
    ], { key: (i) => i.ImageId!, selected, label: "AMIs", onSelect: (i) => { selected = i.ImageId!; load(); } }));
  };
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "AMIs"), h("div", { class: "actions" },
    button("Deregister", async () => {
      if (!selected) return flash(main, "info", "Select an AMI first.");
      if (!confirm(`Deregister ${selected}?`)) return;
      if (await attempt(main, () => ec2.send(new DeregisterImageCommand({ ImageId: selected! })))) { flash(main, "ok", `Deregistered ${selected}`); selected = null; load(); }
    }),
    h("a", { class: "button primary", href: "#/launch" }, "Launch instance from AMI"))), list);
  await load();
  every(10000, load);
}
