//! Alarms that act, on tiny guests (real KVM, milliseconds to boot), evaluated by the real
//! monitor daemon (`ec2lab __monitor`, started by the instances' supervisors): a guest
//! spins its vCPU, a high-resolution `CPUUtilization` alarm goes to ALARM, its stop action
//! stops the instance, an http subscriber on this host and the Maildir both get
//! CloudWatch's alarm message through SNS, the history shows the state change and the
//! actions, and with the instance stopped the alarm goes to INSUFFICIENT_DATA. And a hung
//! VMM (SIGSTOP) fails `StatusCheckFailed_System`, whose `recover` action gives the same
//! instance a fresh VMM.
//!
//! The CloudWatch and SNS services are called through the library here (their CLI and
//! API verbs are tested elsewhere); the daemon that evaluates and acts is the real one.

mod common;
#[path = "api_common/server.rs"]
mod server;
#[path = "api_common/subscriber.rs"]
mod subscriber;
use common::*;
use subscriber::{mails, subscriber};

use std::path::Path;
use std::time::{Duration, Instant};

use ec2lab::cloudwatch::alarms::{self, record};
use ec2lab::cloudwatch::shapes::alarms::{DeleteAlarmsInput, PutMetricAlarmInput};
use ec2lab::cloudwatch::Dimension;
use ec2lab::instances::record::Instance;
use ec2lab::sns::shapes::{ConfirmSubscriptionInput, CreateTopicInput, SubscribeInput};
use ec2lab::store::Store;
use serde_json::Value;

fn monitor_running(region_root: &Path) -> bool {
    ec2lab::instances::process::Lock::try_acquire(&region_root.join("monitor.lock"))
        .unwrap()
        .is_none()
}

/// Launches one instance of `ami` with detailed monitoring and waits until it runs and
/// the monitor daemon (which its supervisor starts) has taken monitoring on.
fn launch(lab: &Lab, ami: &str, instance_type: &str) -> String {
    let mut c = lab.cmd(&[
        "run-instances",
        "--image-id",
        ami,
        "--instance-type",
        instance_type,
        "--monitoring",
        "Enabled=true",
    ]);
    // The daemon inherits this through the supervisor: mail goes to the Maildir.
    c.env("EC2LAB_SENDMAIL", "none");
    let out = run_with_timeout(c, 120);
    assert!(out.status.success(), "run-instances: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    lab.wait("instance-running", &id);
    wait_until("monitoring enabled", 40, || {
        (lab.describe(&id)["Monitoring"]["State"] == "enabled").then_some(())
    });
    // From here the daemon runs: the services' own `ensure` calls (made in this test
    // process) find it and start nothing.
    assert!(monitor_running(&lab.state_dir().join("lab-1")));
    id
}

/// CloudWatch's alarm message in a mail's text: its JSON line.
fn alarm_json_in_mail(mail: &str) -> Option<Value> {
    mail.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| serde_json::from_str(l.trim()).ok())
}

fn alarm_state(store: &Store, name: &str) -> String {
    record::load(store.conn(), name)
        .unwrap()
        .expect("the alarm")
        .state_value
}

fn history(store: &Store, name: &str) -> Vec<(String, String)> {
    record::history(store.conn(), Some(name), 0, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|r| (r.item.history_item_type, r.item.history_summary))
        .collect()
}

fn alarm(name: &str, metric: &str, id: &str, actions: Vec<String>) -> PutMetricAlarmInput {
    PutMetricAlarmInput {
        alarm_name: name.into(),
        namespace: Some("AWS/EC2".into()),
        metric_name: Some(metric.into()),
        dimensions: vec![Dimension::new("InstanceId", id)],
        period: Some(10),
        alarm_actions: actions,
        ..PutMetricAlarmInput::default()
    }
}

#[test]
fn cpu_alarm_stops_the_instance_and_notifies_http_and_the_mailbox() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let lab = Lab::new();
    // `ec2lab serve` answers the SubscribeURL (ConfirmSubscription, unsigned GET).
    let server = server::Server::start(&lab, &[("EC2LAB_SENDMAIL", "none")]);
    // This process tries the first delivery of what it subscribes (the confirmations):
    // never the host's sendmail.
    std::env::set_var("EC2LAB_SENDMAIL", "none");
    // Boots, then spins in kernel mode on its one vCPU (`jmp $`).
    let ami = lab.tiny_ami_of("tiny-spin", &tiny_boot().bytes(&[0xeb, 0xfe]));
    let id = launch(&lab, &ami, "t2.micro");
    let mut store = Store::open(lab.state_dir(), "lab-1").unwrap();

    // An SNS topic with an http subscriber (confirmed through its SubscribeURL) and an
    // email subscriber (confirmed with the token of its confirmation mail).
    let topic = ec2lab::sns::topics::create_topic(
        &mut store,
        &CreateTopicInput {
            name: "ops".into(),
            ..CreateTopicInput::default()
        },
    )
    .unwrap()
    .topic_arn;
    let (url, http) = subscriber("/alarms");
    let subscribe = |store: &mut Store, protocol: &str, endpoint: &str| {
        ec2lab::sns::subscriptions::subscribe(
            store,
            &SubscribeInput {
                topic_arn: topic.clone(),
                protocol: protocol.into(),
                endpoint: Some(endpoint.into()),
                ..SubscribeInput::default()
            },
        )
        .unwrap()
    };
    subscribe(&mut store, "http", &url);
    let confirm = http
        .recv_timeout(Duration::from_secs(30))
        .expect("the confirmation request");
    assert_eq!(confirm.kind(), "SubscriptionConfirmation");
    let confirm = confirm.envelope();
    let subscribe_url = confirm["SubscribeURL"].as_str().unwrap();
    assert!(
        subscribe_url.starts_with(&server.endpoint),
        "{subscribe_url}"
    );
    let body = ureq::get(subscribe_url)
        .call()
        .expect("GET SubscribeURL")
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(body.contains("<SubscriptionArn>"), "{body}");

    let maildir = lab.state_dir().join("lab-1/mail/admin@lab.example");
    subscribe(&mut store, "email", "admin@lab.example");
    let first = mails(&maildir);
    assert_eq!(first.len(), 1, "{first:?}");
    let token = first[0]
        .split("--token ")
        .nth(1)
        .and_then(|t| t.split(|c: char| c.is_whitespace() || c == ')').next())
        .expect("the token in the confirmation mail")
        .to_string();
    ec2lab::sns::subscriptions::confirm_subscription(
        &mut store,
        &ConfirmSubscriptionInput {
            topic_arn: topic.clone(),
            token,
            ..ConfirmSubscriptionInput::default()
        },
    )
    .unwrap();

    // CPUUtilization > 50 (Average) for 2 of 2 ten-second periods: stop, and notify.
    let stop = "arn:aws:automate:lab-1:ec2:stop".to_string();
    let req = PutMetricAlarmInput {
        statistic: Some("Average".into()),
        evaluation_periods: Some(2),
        datapoints_to_alarm: Some(2),
        threshold: Some(50.0),
        comparison_operator: Some("GreaterThanThreshold".into()),
        ..alarm(
            "cpu-high",
            "CPUUtilization",
            &id,
            vec![stop.clone(), topic.clone()],
        )
    };
    let created = Instant::now();
    alarms::put_metric_alarm(&mut store, &req).unwrap();
    assert_eq!(alarm_state(&store, "cpu-high"), "INSUFFICIENT_DATA");

    // Its evaluation window (2 periods of 10 s) plus one tick of the daemon, and a few
    // seconds for a host shared with other work.
    let to_alarm = wait_until("ALARM", 60, || {
        (alarm_state(&store, "cpu-high") == "ALARM").then(|| created.elapsed())
    });
    let to_stopped = wait_until("the instance stopped", 60, || {
        let s = Instance::get(store.conn(), &id).unwrap().state;
        (s.name() == "stopped").then(|| created.elapsed())
    });
    eprintln!(
        "host {}: alarm created -> ALARM in {:.1} s, -> instance stopped in {:.1} s",
        release.trim(),
        to_alarm.as_secs_f64(),
        to_stopped.as_secs_f64()
    );
    assert!(to_alarm <= Duration::from_secs(35), "{to_alarm:?}");

    // The http subscriber: a Notification whose Message is CloudWatch's alarm JSON.
    let note = http
        .recv_timeout(Duration::from_secs(30))
        .expect("the alarm notification");
    assert_eq!(note.kind(), "Notification");
    assert_eq!(note.envelope()["TopicArn"], topic.as_str());
    assert_eq!(
        note.envelope()["Subject"],
        "ALARM: \"cpu-high\" in lab-1",
        "{}",
        note.body
    );
    let msg: Value = serde_json::from_str(note.envelope()["Message"].as_str().unwrap()).unwrap();
    assert_eq!(msg["AlarmName"], "cpu-high");
    assert_eq!(msg["NewStateValue"], "ALARM");
    assert_eq!(msg["OldStateValue"], "INSUFFICIENT_DATA");
    assert_eq!(msg["Trigger"]["MetricName"], "CPUUtilization");
    assert_eq!(msg["Trigger"]["Namespace"], "AWS/EC2");
    assert_eq!(msg["Trigger"]["Threshold"], 50.0);

    // The mailbox: the same message.
    let all = wait_until("the alarm mail", 30, || {
        let all = mails(&maildir);
        (all.len() >= 2).then_some(all)
    });
    let mail = &all[1];
    assert!(
        mail.contains("\nSubject: ALARM: \"cpu-high\" in lab-1\n"),
        "{mail}"
    );
    let msg = alarm_json_in_mail(mail).unwrap_or_else(|| panic!("no alarm JSON in {mail}"));
    assert_eq!(msg["AlarmName"], "cpu-high");
    assert_eq!(msg["NewStateValue"], "ALARM");
    assert_eq!(msg["Trigger"]["MetricName"], "CPUUtilization");

    // The history: the state change, and each action's success.
    let h = history(&store, "cpu-high");
    assert!(
        h.iter().any(
            |(t, s)| t == "StateUpdate" && s == "Alarm updated from INSUFFICIENT_DATA to ALARM"
        ),
        "{h:?}"
    );
    for arn in [&stop, &topic] {
        let want = format!("Successfully executed action {arn}");
        assert!(
            h.iter().any(|(t, s)| t == "Action" && *s == want),
            "{want}: {h:?}"
        );
    }

    // Stopped: no more data. With TreatMissingData `missing`, once the evaluation range
    // has no point the alarm has insufficient data, as CloudWatch's would.
    wait_until("INSUFFICIENT_DATA", 90, || {
        (alarm_state(&store, "cpu-high") == "INSUFFICIENT_DATA").then_some(())
    });
    let h = history(&store, "cpu-high");
    assert!(
        h.iter().any(
            |(t, s)| t == "StateUpdate" && s == "Alarm updated from ALARM to INSUFFICIENT_DATA"
        ),
        "{h:?}"
    );
    // No instance has a VMM now, but an alarm exists: the daemon stays to evaluate it,
    // and leaves when the last alarm goes.
    std::thread::sleep(Duration::from_secs(12));
    assert!(monitor_running(&lab.state_dir().join("lab-1")));
    alarms::delete_alarms(
        &mut store,
        &DeleteAlarmsInput {
            alarm_names: vec!["cpu-high".into()],
        },
    )
    .unwrap();
    wait_until("the monitor to exit", 40, || {
        (!monitor_running(&lab.state_dir().join("lab-1"))).then_some(())
    });
}

#[test]
fn recover_gives_a_hung_instance_a_fresh_vmm() {
    let lab = Lab::new();
    let ami = lab.tiny_ami("tiny-up", TinyOs::StayUp);
    let id = launch(&lab, &ami, "t2.nano");
    let mut store = Store::open(lab.state_dir(), "lab-1").unwrap();
    let before = Instance::get(store.conn(), &id).unwrap();
    let described = lab.describe(&id);
    let old_pid = before.vmm_pid.expect("a VMM");
    let req = PutMetricAlarmInput {
        statistic: Some("Maximum".into()),
        evaluation_periods: Some(1),
        threshold: Some(1.0),
        comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
        ..alarm(
            "system-check",
            "StatusCheckFailed_System",
            &id,
            vec!["arn:aws:automate:lab-1:ec2:recover".into()],
        )
    };
    alarms::put_metric_alarm(&mut store, &req).unwrap();
    wait_until("OK (the VMM answers)", 60, || {
        (alarm_state(&store, "system-check") == "OK").then_some(())
    });

    // Hang the VMM: alive, answering nothing.
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &old_pid.to_string()])
        .status()
        .unwrap()
        .success());
    let hung = Instant::now();
    let new_pid = wait_until("a fresh VMM", 90, || {
        let now = Instance::get(store.conn(), &id).unwrap();
        now.vmm_pid
            .filter(|p| *p != old_pid && now.state.name() == "running")
    });
    eprintln!(
        "VMM hung -> fresh VMM in {:.1} s",
        hung.elapsed().as_secs_f64()
    );
    let after = Instance::get(store.conn(), &id).unwrap();
    assert_eq!(after.instance_id, before.instance_id);
    assert_eq!(
        after.boots,
        before.boots + 1,
        "one more boot of the same instance"
    );
    assert!(
        ec2lab::instances::process::start_ticks(old_pid).is_none(),
        "the hung VMM is gone"
    );
    assert!(ec2lab::instances::process::start_ticks(new_pid).is_some());
    // The same instance: its interface and addresses did not change.
    let d = lab.describe(&id);
    assert_eq!(d["State"]["Name"], "running");
    for field in [
        "PrivateIpAddress",
        "NetworkInterfaces",
        "BlockDeviceMappings",
    ] {
        assert!(!described[field].is_null(), "{field}");
        assert_eq!(d[field], described[field], "{field}");
    }
    let h = history(&store, "system-check");
    assert!(
        h.iter()
            .any(|(t, s)| t == "StateUpdate" && s == "Alarm updated from OK to ALARM"),
        "{h:?}"
    );
    assert!(
        h.iter().any(|(t, s)| t == "Action"
            && s == "Successfully executed action arn:aws:automate:lab-1:ec2:recover"),
        "{h:?}"
    );
    // The fresh VMM answers: the system check passes again and the alarm returns to OK.
    wait_until("OK again", 60, || {
        (alarm_state(&store, "system-check") == "OK").then_some(())
    });
    lab.ok(&["terminate-instances", "--instance-ids", &id]);
}
