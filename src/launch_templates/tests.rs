use super::*;
use crate::ec2::shapes::instances::BlockDeviceMapping;
use crate::ec2::shapes::TagSpecification;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), "lab-1").unwrap();
    (dir, s)
}

fn data(image: &str, ty: &str) -> LaunchTemplateData {
    LaunchTemplateData {
        image_id: Some(image.into()),
        instance_type: Some(ty.into()),
        ..Default::default()
    }
}

fn create(s: &mut Store, name: &str, d: LaunchTemplateData) -> LaunchTemplate {
    create_launch_template(
        s,
        &CreateLaunchTemplateRequest {
            launch_template_name: name.into(),
            launch_template_data: d,
            ..Default::default()
        },
    )
    .unwrap()
    .launch_template
}

#[test]
fn versions_defaults_and_the_codes_for_bad_names() {
    let (_d, mut s) = store();
    let t = create(&mut s, "web", data("ami-00000000000000001", "t2.micro"));
    assert!(ids::is_valid(&t.launch_template_id, "lt"), "{t:?}");
    assert_eq!((t.default_version_number, t.latest_version_number), (1, 1));
    let again = create_launch_template(
        &mut s,
        &CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        again.code,
        "InvalidLaunchTemplateName.AlreadyExistsException"
    );
    let bad = create_launch_template(
        &mut s,
        &CreateLaunchTemplateRequest {
            launch_template_name: "a b".into(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(bad.code, "InvalidLaunchTemplateName.MalformedException");

    // Version 2 from version 1, with another type: the image is inherited.
    let v2 = create_launch_template_version(
        &mut s,
        &CreateLaunchTemplateVersionRequest {
            launch_template_name: Some("web".into()),
            source_version: Some("1".into()),
            version_description: Some("bigger".into()),
            launch_template_data: LaunchTemplateData {
                instance_type: Some("t3.small".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap()
    .launch_template_version;
    assert_eq!(v2.version_number, 2);
    assert!(!v2.default_version);
    assert_eq!(
        v2.launch_template_data.image_id.as_deref(),
        Some("ami-00000000000000001")
    );
    assert_eq!(
        v2.launch_template_data.instance_type.as_deref(),
        Some("t3.small")
    );

    let all = describe_launch_template_versions(
        &s,
        &DescribeLaunchTemplateVersionsRequest {
            launch_template_id: Some(t.launch_template_id.clone()),
            ..Default::default()
        },
    )
    .unwrap()
    .launch_template_versions;
    assert_eq!(
        all.iter().map(|v| v.version_number).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let spec = |v: &str| LaunchTemplateSpecification {
        launch_template_name: Some("web".into()),
        version: Some(v.into()),
        ..Default::default()
    };
    assert_eq!(resolve(&s, &spec("$Default")).unwrap().version_number, 1);
    assert_eq!(resolve(&s, &spec("$Latest")).unwrap().version_number, 2);
    assert_eq!(
        resolve(&s, &spec("3")).unwrap_err().code,
        "InvalidLaunchTemplateId.VersionNotFound"
    );

    let m = modify_launch_template(
        &mut s,
        &ModifyLaunchTemplateRequest {
            launch_template_id: Some(t.launch_template_id.clone()),
            default_version: Some("2".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.launch_template.default_version_number, 2);
    assert_eq!(
        modify_launch_template(
            &mut s,
            &ModifyLaunchTemplateRequest {
                launch_template_id: Some(t.launch_template_id.clone()),
                default_version: Some("9".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .code,
        "InvalidLaunchTemplateId.VersionNotFound"
    );

    let codes = |id: Option<&str>, name: Option<&str>| {
        describe_launch_template_versions(
            &s,
            &DescribeLaunchTemplateVersionsRequest {
                launch_template_id: id.map(Into::into),
                launch_template_name: name.map(Into::into),
                ..Default::default()
            },
        )
        .unwrap_err()
        .code
    };
    assert_eq!(
        codes(Some("lt-1"), None),
        "InvalidLaunchTemplateId.Malformed"
    );
    assert_eq!(
        codes(Some("lt-0123456789abcdef0"), None),
        "InvalidLaunchTemplateId.NotFound"
    );
    assert_eq!(
        codes(None, Some("nope")),
        "InvalidLaunchTemplateName.NotFoundException"
    );
    assert_eq!(
        describe_launch_templates(
            &s,
            &DescribeLaunchTemplatesRequest {
                launch_template_names: vec!["nope".into()],
                ..Default::default()
            }
        )
        .unwrap_err()
        .code,
        "InvalidLaunchTemplateName.NotFoundException"
    );

    delete_launch_template(
        &mut s,
        &DeleteLaunchTemplateRequest {
            launch_template_name: Some("web".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let left = describe_launch_templates(&s, &Default::default()).unwrap();
    assert!(left.launch_templates.is_empty());
    let versions: i64 = s
        .conn()
        .query_row("SELECT COUNT(*) FROM launch_template_versions", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(versions, 0);
}

#[test]
fn the_request_overrides_the_template_and_tags_merge() {
    let (_d, mut s) = store();
    let mut d = data("ami-00000000000000001", "t3.small");
    d.key_name = Some("k".into());
    d.block_device_mappings = vec![BlockDeviceMapping {
        device_name: "/dev/xvda".into(),
        ..Default::default()
    }];
    d.tag_specifications = vec![TagSpecification {
        resource_type: "instance".into(),
        tags: vec![Tag::new("Name", "from-template"), Tag::new("team", "a")],
    }];
    create(&mut s, "web", d);
    let req = RunInstancesRequest {
        instance_type: Some("t2.micro".into()),
        min_count: 1,
        max_count: 1,
        tag_specifications: vec![TagSpecification {
            resource_type: "instance".into(),
            tags: vec![Tag::new("Name", "from-request")],
        }],
        launch_template: Some(LaunchTemplateSpecification {
            launch_template_name: Some("web".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = merged_request(&s, &req).unwrap();
    assert_eq!(m.image_id, "ami-00000000000000001");
    assert_eq!(m.instance_type.as_deref(), Some("t2.micro"));
    assert_eq!(m.key_name.as_deref(), Some("k"));
    assert_eq!(m.block_device_mappings.len(), 1);
    assert!(m.launch_template.is_none());
    let tags = tags::for_resource(&m.tag_specifications, DATA_TAG_TYPES, "instance").unwrap();
    assert_eq!(tags::get(&tags, "Name"), Some("from-request"));
    assert_eq!(tags::get(&tags, "team"), Some("a"));

    // A template without an image and a request without one: EC2's MissingParameter.
    create(&mut s, "bare", LaunchTemplateData::default());
    let req = RunInstancesRequest {
        launch_template: Some(LaunchTemplateSpecification {
            launch_template_name: Some("bare".into()),
            version: Some("$Latest".into()),
            ..Default::default()
        }),
        ..req
    };
    assert_eq!(
        merged_request(&s, &req).unwrap_err().code,
        "MissingParameter"
    );
}
