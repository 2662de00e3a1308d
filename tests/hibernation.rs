//! EC2 hibernation on tiny guests (real KVM, seconds): `run-instances
//! --hibernation-options Configured=true`, `stop-instances --hibernate` saves the machine
//! beside the root volume and stops with EC2's reason, `start-instances` resumes it (the
//! guest does not boot again), a damaged saved machine falls back to a boot from the root
//! volume, and what cannot hibernate gets `UnsupportedHibernationConfiguration`.

mod common;
use common::*;

use std::path::PathBuf;

fn root_volume(lab: &Lab, id: &str) -> String {
    lab.describe(id)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn saved_machine(lab: &Lab, vol: &str) -> PathBuf {
    lab.state_dir()
        .join("lab-1/volumes")
        .join(format!("{vol}.hibernation"))
}

/// The guest's own boot lines (`boot N`), not ec2lab's `EC2LAB-BOOT` ones.
fn guest_boots(console: &str) -> usize {
    console.lines().filter(|l| l.starts_with("boot ")).count()
}

#[test]
fn hibernate_then_start_resumes_the_machine() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-hib", TinyOs::StayUp);
    let id = lab
        .run(
            &ami,
            &[
                "--instance-type",
                "t2.nano",
                "--hibernation-options",
                "Configured=true",
            ],
        )
        .remove(0);
    assert_eq!(lab.describe(&id)["HibernationOptions"]["Configured"], true);
    lab.wait("instance-running", &id);
    let vol = root_volume(&lab, &id);
    assert_eq!(guest_boots(&lab.console(&id)), 1);

    // Hibernate: stopped with EC2's reason, the machine saved beside the root volume.
    let v = lab.ok(&["stop-instances", "--instance-ids", &id, "--hibernate"]);
    assert_eq!(
        v["StoppingInstances"][0]["CurrentState"]["Name"],
        "stopping"
    );
    lab.wait("instance-stopped", &id);
    let d = lab.describe(&id);
    assert_eq!(
        d["StateReason"]["Code"], "Client.UserInitiatedHibernate",
        "{d}"
    );
    let saved = saved_machine(&lab, &vol);
    assert!(saved.is_dir(), "no saved machine at {}", saved.display());

    // Start: the machine resumes; the guest does not boot again, and the saved machine
    // is used once.
    lab.ok(&["start-instances", "--instance-ids", &id]);
    lab.wait("instance-running", &id);
    let console = lab.console(&id);
    assert!(
        console.contains("ec2lab: resuming from hibernation"),
        "{console}"
    );
    assert_eq!(
        guest_boots(&console),
        1,
        "the guest booted again:\n{console}"
    );
    wait_until("the saved machine dropped", 10, || {
        (!saved.exists()).then_some(())
    });
    let status = lab.ok(&["describe-instance-status", "--instance-ids", &id]);
    assert_eq!(
        status["InstanceStatuses"][0]["SystemStatus"]["Status"],
        "ok"
    );

    // A saved machine that is damaged is refused; the instance boots from its root
    // volume instead.
    lab.ok(&["stop-instances", "--instance-ids", &id, "--hibernate"]);
    lab.wait("instance-stopped", &id);
    let memory = std::fs::read_dir(&saved)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap() == "memory")
        .expect("a memory file");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&memory)
        .unwrap()
        .set_len(4096)
        .unwrap();
    lab.ok(&["start-instances", "--instance-ids", &id]);
    lab.wait("instance-running", &id);
    wait_until("a boot from the root volume", 30, || {
        (guest_boots(&lab.console(&id)) == 2).then_some(())
    });
    assert!(lab
        .console(&id)
        .contains("ec2lab: resuming from hibernation failed"));
    assert!(!saved.exists());

    // A plain stop is a plain stop.
    lab.ok(&["stop-instances", "--instance-ids", &id]);
    lab.wait("instance-stopped", &id);
    assert_eq!(
        lab.describe(&id)["StateReason"]["Code"],
        "Client.UserInitiatedShutdown"
    );
    assert!(!saved.exists());
}

#[test]
fn what_cannot_hibernate_says_why() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-nohib", TinyOs::StayUp);
    // A type with an instance store (a stop erases it).
    let e = lab.fails(
        &[
            "run-instances",
            "--image-id",
            &ami,
            "--instance-type",
            "c5d.large",
            "--hibernation-options",
            "Configured=true",
        ],
        "UnsupportedHibernationConfiguration",
    );
    assert!(e.contains("instance store"), "{e}");
    assert_eq!(
        lab.ok(&["describe-instances"])["Reservations"],
        serde_json::json!([])
    );
    // An instance launched without it: refused, and nothing changes.
    let id = lab.run(&ami, &["--instance-type", "t2.nano"]).remove(0);
    assert_eq!(lab.describe(&id)["HibernationOptions"]["Configured"], false);
    lab.wait("instance-running", &id);
    let e = lab.fails(
        &["stop-instances", "--instance-ids", &id, "--hibernate"],
        "UnsupportedHibernationConfiguration",
    );
    assert!(e.trim_end().ends_with(&id), "{e}");
    assert_eq!(lab.state(&id), "running");
    // --hibernate and --force do not go together.
    let o = lab.ec2(&[
        "stop-instances",
        "--instance-ids",
        &id,
        "--hibernate",
        "--force",
    ]);
    assert_ne!(o.code, 0);
    assert_eq!(lab.state(&id), "running");
}
