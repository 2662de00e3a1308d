//! `ec2lab serve` driven by the AWS SDK for Rust (`aws-sdk-ec2` from crates.io, unmodified),
//! configured by `aws-config` from the profile `ec2lab configure-aws` writes: regions,
//! instances (stopped records written into the store, no VM) with EC2's filters and the
//! SDK's own waiter, instance types, AMIs, and EC2's errors through the SDK's typed errors.

mod common;
#[path = "api_common/records.rs"]
mod records;
#[path = "api_common/server.rs"]
mod server;

use std::path::Path;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;
use common::*;
use server::Server;

/// The SDK configured as a user's program would be: by aws-config, from the profile
/// `profile` of these AWS files (and nothing of the host's files), over plain HTTP.
async fn client(aws_dir: &Path, profile: &str) -> Client {
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Config, aws_dir.join("config"))
        .with_file(EnvConfigFileKind::Credentials, aws_dir.join("credentials"))
        .build();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .profile_files(files)
        .profile_name(profile)
        // No TLS: ec2lab serves plain HTTP on loopback.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    Client::new(&config)
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

#[test]
fn aws_sdk_for_rust_drives_ec2lab() {
    // Only the profile's files count: no credentials, region or endpoint of the host's
    // environment (this binary's one test, before it starts any thread).
    for var in [
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EC2",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let lab = Lab::new();
    let ami = lab.tiny_ami("sdk-tiny", TinyOs::StayUp);
    let ids = records::insert_stopped(lab.state_dir(), "lab-1", &ami, 6, |i| {
        let role = if i % 2 == 0 { "web" } else { "db" };
        vec![
            ("Name".to_string(), format!("{role}-{i}")),
            ("role".to_string(), role.to_string()),
        ]
    });
    let server = Server::start(&lab, &[]);

    // `ec2lab configure-aws` writes the profile into private AWS files.
    let aws_dir = tempfile::tempdir().unwrap();
    let out = run_with_timeout(
        {
            let mut c = lab.cmd(&["configure-aws", "--endpoint-url", &server.endpoint]);
            c.env("AWS_CONFIG_FILE", aws_dir.path().join("config")).env(
                "AWS_SHARED_CREDENTIALS_FILE",
                aws_dir.path().join("credentials"),
            );
            c
        },
        60,
    );
    assert!(out.status.success(), "configure-aws: {}", stderr(&out));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ec2 = client(aws_dir.path(), "ec2lab").await;

        let r = ec2.describe_regions().send().await.unwrap();
        let regions = r.regions();
        assert_eq!(regions.len(), 1, "{r:?}");
        assert_eq!(regions[0].region_name(), Some("lab-1"));

        // Filters: EC2's names, tag wildcards, several at once (AND) and values (OR).
        let r = ec2
            .describe_instances()
            .filters(filter("tag:role", &["web"]))
            .filters(filter("instance-state-name", &["stopped", "running"]))
            .send()
            .await
            .unwrap();
        let mut found: Vec<String> = r
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| i.instance_id().unwrap().to_string())
            .collect();
        found.sort();
        let mut web: Vec<String> = ids.iter().step_by(2).cloned().collect();
        web.sort();
        assert_eq!(found, web);
        let r = ec2
            .describe_instances()
            .filters(filter("tag:Name", &["db-*"]))
            .filters(filter("instance-type", &["t2.micro"]))
            .send()
            .await
            .unwrap();
        let inst: Vec<_> = r
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .collect();
        // db-1 is t3.small, db-3 t2.micro, db-5 m5.large.
        assert_eq!(inst.len(), 1, "{r:?}");
        assert_eq!(inst[0].instance_id(), Some(ids[3].as_str()));
        assert_eq!(inst[0].image_id(), Some(ami.as_str()));
        assert_eq!(
            inst[0].state().and_then(|s| s.name()).map(|n| n.as_str()),
            Some("stopped")
        );
        let r = ec2
            .describe_instances()
            .instance_ids(&ids[0])
            .send()
            .await
            .unwrap();
        let i = &r.reservations()[0].instances()[0];
        assert_eq!(i.root_device_name(), Some("/dev/xvda"));
        assert_eq!(i.block_device_mappings().len(), 1, "{i:?}");
        assert!(i
            .tags()
            .iter()
            .any(|t| t.key() == Some("Name") && t.value() == Some("web-0")));

        // The SDK's own waiter, on EC2's answers.
        ec2.wait_until_instance_stopped()
            .instance_ids(&ids[1])
            .wait(Duration::from_secs(30))
            .await
            .unwrap();

        let r = ec2
            .describe_instance_types()
            .instance_types("t3.small".into())
            .send()
            .await
            .unwrap();
        let t = &r.instance_types()[0];
        assert_eq!(t.instance_type().map(|t| t.as_str()), Some("t3.small"));
        assert_eq!(t.v_cpu_info().and_then(|v| v.default_v_cpus()), Some(2));
        assert_eq!(t.memory_info().and_then(|m| m.size_in_mib()), Some(2048));

        let r = ec2
            .describe_images()
            .filters(filter("name", &["sdk-*"]))
            .send()
            .await
            .unwrap();
        let images = r.images();
        assert_eq!(images.len(), 1, "{r:?}");
        assert_eq!(images[0].image_id(), Some(ami.as_str()));
        assert_eq!(images[0].name(), Some("sdk-tiny"));
        assert_eq!(images[0].state().map(|s| s.as_str()), Some("available"));

        // EC2's errors, as the SDK's typed errors carry them.
        let e = ec2
            .describe_volumes()
            .volume_ids("vol-notanid")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(e.code(), Some("InvalidVolumeID.Malformed"), "{e:?}");
        let e = ec2
            .describe_instances()
            .instance_ids("i-0123456789abcdef0")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(e.code(), Some("InvalidInstanceID.NotFound"), "{e:?}");
        let e = ec2
            .describe_images()
            .filters(filter("no-such-filter", &["x"]))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(e.code(), Some("InvalidParameterValue"), "{e:?}");
        // An action ec2lab does not serve.
        let e = ec2
            .describe_vpc_endpoints()
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(e.code(), Some("InvalidAction"), "{e:?}");
        // DryRun, as EC2 answers it.
        let e = ec2
            .describe_instances()
            .dry_run(true)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(e.code(), Some("DryRunOperation"), "{e:?}");
    });

    // A wrong secret: the SDK signs, ec2lab refuses with AuthFailure.
    let creds = std::fs::read_to_string(aws_dir.path().join("credentials")).unwrap();
    let forged: String = creds
        .lines()
        .map(|l| match l.split_once(" = ") {
            Some(("aws_secret_access_key", s)) => {
                format!("aws_secret_access_key = {}x", &s[..s.len() - 1])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(forged.trim(), creds.trim());
    std::fs::write(aws_dir.path().join("credentials"), forged).unwrap();
    rt.block_on(async {
        let ec2 = client(aws_dir.path(), "ec2lab").await;
        let e = ec2
            .describe_regions()
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(e.code(), Some("AuthFailure"), "{e:?}");
    });
    drop(server);
}
