// Key pairs: create (the private key downloads once, .pem or .ppk), import, delete.
import {
  CreateKeyPairCommand,
  DeleteKeyPairCommand,
  DescribeKeyPairsCommand,
  ImportKeyPairCommand,
} from "@aws-sdk/client-ec2";
import { api } from "../api";
import { attempt, button, dialog, download, field, fill, flash, h, table, when } from "../ui";

/** The "Create key pair" dialog; the key's name once created (its file downloaded). */
export function createKeyPairDialog(): Promise<string | null> {
  const name = h("input", { name: "key-name", required: true, maxlength: 255 });
  const type = h("select", { name: "key-type" }, h("option", { value: "rsa" }, "RSA"), h("option", { value: "ed25519" }, "ED25519"));
  const format = h("select", { name: "key-format" },
    h("option", { value: "pem" }, ".pem (OpenSSH)"), h("option", { value: "ppk" }, ".ppk (PuTTY)"));
  return dialog("Create key pair", [field("Name", name), field("Key pair type", type), field("Private key file format", format)],
    "Create key pair", async () => {
      const k = await api().ec2.send(new CreateKeyPairCommand({
        KeyName: name.value.trim(), KeyType: type.value as any, KeyFormat: format.value as any,
      }));
      download(`${k.KeyName}.${format.value}`, k.KeyMaterial || "", "application/x-pem-file");
      return k.KeyName!;
    });
}

export async function keyPairsPage(main: HTMLElement) {
  const list = h("div", {});
  let selected: string | null = null;
  const load = async () => {
    const r = await attempt(main, () => api().ec2.send(new DescribeKeyPairsCommand({})));
    if (!r) return;
    fill(list, table(r.KeyPairs || [], [
      { title: "Name", cell: (k) => k.KeyName },
      { title: "Type", cell: (k) => k.KeyType },
      { title: "Created", cell: (k) => when(k.CreateTime) },
      { title: "Fingerprint", cell: (k) => h("code", {}, k.KeyFingerprint) },
      { title: "ID", cell: (k) => k.KeyPairId },
    ], { key: (k) => k.KeyName!, selected, onSelect: (k) => { selected = k.KeyName!; load(); }, label: "Key pairs", empty: "No key pairs." }));
  };
  const importKey = () => {
    const name = h("input", { required: true });
    const material = h("textarea", { rows: 5, required: true, placeholder: "ssh-ed25519 AAAA… or ssh-rsa AAAA…" });
    return dialog("Import key pair", [field("Name", name), field("Public key", material)], "Import key pair", async () => {
      await api().ec2.send(new ImportKeyPairCommand({
        KeyName: name.value.trim(), PublicKeyMaterial: new TextEncoder().encode(material.value.trim()),
      }));
      return true;
    });
  };
  const del = async () => {
    if (!selected) return flash(main, "info", "Select a key pair first.");
    if (!confirm(`Delete key pair ${selected}?`)) return;
    const ok = await attempt(main, () => api().ec2.send(new DeleteKeyPairCommand({ KeyName: selected! })));
    if (ok) { flash(main, "ok", `Deleted key pair ${selected}`); selected = null; load(); }
  };
  fill(main,
    h("div", { class: "page-head" }, h("h1", {}, "Key pairs"), h("div", { class: "actions" },
      button("Delete", del, "secondary", { id: "delete-key" }),
      button("Import key pair", async () => { if (await importKey()) load(); }),
      button("Create key pair", async () => { if (await createKeyPairDialog()) load(); }, "primary"))),
    list);
  await load();
}
