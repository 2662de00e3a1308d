//! AMIs: registered, immutable bundles of a kernel, an optional initrd and a root disk
//! image. Their files live in `<region>/images/ami-…/` and are never written again;
//! instances get links or sparse copies of them.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::ec2::filters;
use crate::ec2::pages::{self, Limits, PageRequest};
use crate::ec2::shapes::images as shapes;
use crate::ec2::tags::{self, Tag};
use crate::error::Ec2Error;
use crate::fsutil;
use crate::ids;
use crate::ids::OWNER_ID;
use crate::store::{iso8601_now, Store};

/// The root device of every AMI and instance.
pub const ROOT_DEVICE_NAME: &str = "/dev/xvda";
/// The quick-start AMI's name, built by guest-images/build.sh.
pub const QUICK_START_NAME: &str = "ec2lab-linux";
/// The quick-start AMI's root volume size in GiB: Amazon Linux's on EC2. The image file is
/// far smaller; the volume is sparse and the guest's agent grows its file system to fill
/// it at first boot, as cloud-init's growpart and resizefs do.
pub const QUICK_START_VOLUME_GIB: i64 = 8;

/// An AMI as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Its id (`ami-…`).
    pub image_id: String,
    /// Its unique name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// `available` or `deregistered`.
    pub state: String,
    /// The root device's name.
    pub root_device_name: String,
    /// The kernel's file name in the AMI directory.
    pub kernel_file: String,
    /// The initrd's file name, if it has one.
    pub initrd_file: Option<String>,
    /// The root image's file name.
    pub root_file: String,
    /// The root volume's size in GiB (the AMI's `VolumeSize`): at least the root image's
    /// size, rounded up.
    pub root_size_gib: i64,
    /// Whether every account may launch it.
    pub public: bool,
    /// It is the image guest-images/build.sh built.
    pub quick_start: bool,
    /// When it was registered.
    pub creation_date: String,
    /// Where it came from (files, an instance, another region).
    pub source: String,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// What `register-image` is given.
pub struct Registration<'a> {
    /// The AMI's name.
    pub name: &'a str,
    /// Its description.
    pub description: &'a str,
    /// `x86_64` or `arm64`.
    pub architecture: &'a str,
    /// The kernel file.
    pub kernel: &'a Path,
    /// The initrd file.
    pub initrd: Option<&'a Path>,
    /// The root disk image.
    pub root: &'a Path,
    /// Whether every account may launch it.
    pub public: bool,
    /// It is the quick-start AMI.
    pub quick_start: bool,
    /// Where it came from, as `Ec2LabInfo.Source` shows it.
    pub source: String,
    /// The root volume's size in GiB (`VolumeSize`); None or less than the root image:
    /// the image's size, rounded up.
    pub volume_size_gib: Option<i64>,
    /// `root` is a scratch copy ec2lab just made (create-image): move it in rather than
    /// copying it a second time.
    pub take_root: bool,
    /// The AMI's tags (CreateImage's `TagSpecifications`), recorded with it.
    pub tags: Vec<Tag>,
}

impl Image {
    fn from_row(r: &Row) -> rusqlite::Result<Image> {
        Ok(Image {
            image_id: r.get("image_id")?,
            name: r.get("name")?,
            description: r.get("description")?,
            architecture: r.get("architecture")?,
            state: r.get("state")?,
            root_device_name: r.get("root_device_name")?,
            kernel_file: r.get("kernel_file")?,
            initrd_file: r.get("initrd_file")?,
            root_file: r.get("root_file")?,
            root_size_gib: r.get("root_size_gib")?,
            public: r.get("public")?,
            quick_start: r.get("quick_start")?,
            creation_date: r.get("creation_date")?,
            source: r.get("source")?,
            tags: tags::from_column(&r.get::<_, String>("tags")?),
        })
    }

    /// The image, in any state, if it exists.
    pub fn load(c: &Connection, id: &str) -> Result<Option<Image>, Ec2Error> {
        Ok(c.query_row(
            "SELECT * FROM images WHERE image_id = ?1",
            [id],
            Image::from_row,
        )
        .optional()?)
    }

    /// An image that can be launched.
    pub fn get_available(c: &Connection, id: &str) -> Result<Image, Ec2Error> {
        Ec2Error::check_id(id, "ami", "AMI")?;
        match Self::load(c, id)? {
            Some(i) if i.state == "available" => Ok(i),
            _ => Err(Ec2Error::image_not_found(id)),
        }
    }

    /// Every image not deregistered, oldest first.
    pub fn all(c: &Connection) -> Result<Vec<Image>, Ec2Error> {
        let mut stmt = c.prepare(
            "SELECT * FROM images WHERE state != 'deregistered' ORDER BY creation_date, image_id",
        )?;
        let rows = stmt.query_map([], Image::from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The directory of image `id`'s files.
    pub fn dir(store: &Store, id: &str) -> PathBuf {
        store.images_dir().join(id)
    }

    /// The kernel file.
    pub fn kernel_path(&self, store: &Store) -> PathBuf {
        Self::dir(store, &self.image_id).join(&self.kernel_file)
    }

    /// The initrd file, if it has one.
    pub fn initrd_path(&self, store: &Store) -> Option<PathBuf> {
        self.initrd_file
            .as_ref()
            .map(|f| Self::dir(store, &self.image_id).join(f))
    }

    /// The root disk image.
    pub fn root_path(&self, store: &Store) -> PathBuf {
        Self::dir(store, &self.image_id).join(&self.root_file)
    }

    /// The AMI as `DescribeImages` shows it.
    pub fn to_shape(&self) -> shapes::Image {
        shapes::Image {
            architecture: self.architecture.clone(),
            creation_date: self.creation_date.clone(),
            image_id: self.image_id.clone(),
            image_location: format!("{OWNER_ID}/{}", self.name),
            image_type: "machine".into(),
            public: self.public,
            owner_id: OWNER_ID.into(),
            state: self.state.clone(),
            block_device_mappings: vec![shapes::ImageBlockDeviceMapping {
                device_name: self.root_device_name.clone(),
                ebs: shapes::ImageEbsBlockDevice {
                    delete_on_termination: true,
                    volume_size: self.root_size_gib,
                    volume_type: "gp3".into(),
                    encrypted: false,
                },
            }],
            description: self.description.clone(),
            ena_support: false,
            hypervisor: "kvm".into(),
            name: self.name.clone(),
            root_device_name: self.root_device_name.clone(),
            root_device_type: "ebs".into(),
            virtualization_type: "hvm".into(),
            boot_mode: "legacy-bios".into(),
            tags: self.tags.clone(),
            ec2_lab_info: shapes::Ec2LabImageInfo {
                quick_start: self.quick_start,
                source: self.source.clone(),
            },
        }
    }
}

/// `DescribeImages`: the quick-start AMI is registered first if guest-images/build.sh has
/// built it; naming an AMI that does not exist is an error.
pub fn describe_images(
    store: &mut Store,
    req: &shapes::DescribeImagesRequest,
) -> Result<shapes::DescribeImagesResult, Ec2Error> {
    for id in &req.image_ids {
        Ec2Error::check_id(id, "ami", "AMI")?;
    }
    ensure_quick_start(store)?;
    let all = Image::all(store.conn())?;
    for id in &req.image_ids {
        if !all.iter().any(|i| &i.image_id == id) {
            return Err(Ec2Error::image_not_found(id));
        }
    }
    let listed = all
        .iter()
        .filter(|i| req.image_ids.is_empty() || req.image_ids.contains(&i.image_id))
        .map(Image::to_shape)
        .collect();
    let (images, next_token) = pages::page(
        "DescribeImages",
        filters::retain(listed, &req.filters)?,
        // Oldest first, as `Image::all`.
        |i| pages::key(&[&i.creation_date, &i.image_id]),
        PageRequest::new(req.max_results, &req.next_token),
        // EC2 documents no bounds for this newer parameter: any page of 1 to 1000.
        Limits::between(1, 1000),
    )?;
    Ok(shapes::DescribeImagesResult { images, next_token })
}

/// `RegisterImage` from files on the host.
pub fn register_image(
    store: &mut Store,
    req: &shapes::RegisterImageRequest,
) -> Result<shapes::RegisterImageResult, Ec2Error> {
    let img = register(
        store,
        &Registration {
            name: &req.name,
            description: &req.description,
            architecture: &req.architecture,
            kernel: &req.kernel_file,
            initrd: req.initrd_file.as_deref(),
            root: &req.root_image_file,
            public: false,
            quick_start: false,
            source: "registered from files".into(),
            volume_size_gib: None,
            take_root: false,
            tags: vec![],
        },
    )?;
    Ok(shapes::RegisterImageResult {
        image_id: img.image_id,
    })
}

/// `CopyImage` from `source`, the store of `req.source_region`.
pub fn copy_image(
    store: &mut Store,
    source: &Store,
    req: &shapes::CopyImageRequest,
) -> Result<shapes::CopyImageResult, Ec2Error> {
    let img = copy_from(
        store,
        source,
        &req.source_image_id,
        &req.name,
        req.description.as_deref(),
    )?;
    Ok(shapes::CopyImageResult {
        image_id: img.image_id,
    })
}

/// `DeregisterImage`.
pub fn deregister_image(
    store: &mut Store,
    req: &shapes::DeregisterImageRequest,
) -> Result<(), Ec2Error> {
    deregister(store, &req.image_id)
}

fn check_name(name: &str) -> Result<(), Ec2Error> {
    // AWS: 3-128 characters of letters, digits, ( ) [ ] space . / - ' @ _
    let ok = (3..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Ec2Error::invalid_parameter(format!(
            "AMI name '{name}' is not valid: use 3-128 letters, numbers, spaces and ()[]./-'@_"
        )))
    }
}

fn name_taken(c: &Connection, name: &str) -> Result<bool, Ec2Error> {
    Ok(c.query_row(
        "SELECT 1 FROM images WHERE name = ?1 AND state != 'deregistered'",
        [name],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// Copies the files into a new AMI directory and records the image, available.
pub fn register(store: &mut Store, reg: &Registration) -> Result<Image, Ec2Error> {
    check_name(reg.name)?;
    if !matches!(reg.architecture, "x86_64" | "arm64") {
        return Err(Ec2Error::invalid_parameter(format!(
            "Architecture '{}' is not supported: use x86_64 or arm64",
            reg.architecture
        )));
    }
    for (what, p) in [
        ("kernel", Some(reg.kernel)),
        ("root image", Some(reg.root)),
        ("initrd", reg.initrd),
    ] {
        if let Some(p) = p {
            if !p.is_file() {
                return Err(Ec2Error::invalid_parameter(format!(
                    "The {what} file {} does not exist or is not a regular file",
                    p.display()
                )));
            }
        }
    }
    if name_taken(store.conn(), reg.name)? {
        return Err(Ec2Error::new(
            "InvalidAMIName.Duplicate",
            format!("AMI name {} is already in use by another AMI", reg.name),
        ));
    }
    let image_id = ids::new_id("ami");
    let dir = Image::dir(store, &image_id);
    std::fs::create_dir_all(&dir)?;
    let result = (|| -> Result<Image, Ec2Error> {
        fsutil::link_or_copy(reg.kernel, &dir.join("kernel"))?;
        if let Some(i) = reg.initrd {
            fsutil::link_or_copy(i, &dir.join("initrd"))?;
        }
        let size = std::fs::metadata(reg.root)?.len();
        let root = dir.join("root.img");
        // The root image is copied, not linked: the AMI must not change if the source does.
        // A scratch copy is ours already; a rename fails only across file systems.
        if !(reg.take_root && std::fs::rename(reg.root, &root).is_ok()) {
            fsutil::sparse_copy(reg.root, &root)?;
        }
        let image = Image {
            image_id: image_id.clone(),
            name: reg.name.into(),
            description: reg.description.into(),
            architecture: reg.architecture.into(),
            state: "available".into(),
            root_device_name: ROOT_DEVICE_NAME.into(),
            kernel_file: "kernel".into(),
            initrd_file: reg.initrd.map(|_| "initrd".into()),
            root_file: "root.img".into(),
            root_size_gib: (size.div_ceil(1 << 30).max(1) as i64)
                .max(reg.volume_size_gib.unwrap_or(0)),
            public: reg.public,
            quick_start: reg.quick_start,
            creation_date: iso8601_now(),
            source: reg.source.clone(),
            tags: reg.tags.clone(),
        };
        store.write(|tx| -> Result<(), Ec2Error> {
            // Checked again inside the transaction: another ec2lab may have raced us.
            if name_taken(tx, reg.name)? {
                return Err(Ec2Error::new(
                    "InvalidAMIName.Duplicate",
                    format!("AMI name {} is already in use by another AMI", reg.name),
                ));
            }
            tx.execute(
                "INSERT INTO images (image_id, name, description, architecture, state,
                   root_device_name, kernel_file, initrd_file, root_file, root_size_gib, public,
                   quick_start, creation_date, source, tags)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                params![
                    image.image_id,
                    image.name,
                    image.description,
                    image.architecture,
                    image.state,
                    image.root_device_name,
                    image.kernel_file,
                    image.initrd_file,
                    image.root_file,
                    image.root_size_gib,
                    image.public,
                    image.quick_start,
                    image.creation_date,
                    image.source,
                    tags::to_column(&image.tags),
                ],
            )?;
            Ok(())
        })?;
        Ok(image)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Marks the image deregistered and removes its files. Instances launched from it keep
/// their own copies and go on running.
pub fn deregister(store: &mut Store, id: &str) -> Result<(), Ec2Error> {
    let image = Image::get_available(store.conn(), id)?;
    store.write(|tx| -> Result<(), Ec2Error> {
        tx.execute(
            "UPDATE images SET state = 'deregistered' WHERE image_id = ?1",
            [&image.image_id],
        )?;
        Ok(())
    })?;
    let _ = std::fs::remove_dir_all(Image::dir(store, id));
    Ok(())
}

/// Copies an AMI from another region's store into this one, under a new id.
pub fn copy_from(
    store: &mut Store,
    source: &Store,
    source_id: &str,
    name: &str,
    description: Option<&str>,
) -> Result<Image, Ec2Error> {
    let src = Image::get_available(source.conn(), source_id)?;
    let initrd = src.initrd_path(source);
    register(
        store,
        &Registration {
            name,
            description: description.unwrap_or(&src.description),
            architecture: &src.architecture,
            kernel: &src.kernel_path(source),
            initrd: initrd.as_deref(),
            root: &src.root_path(source),
            public: false,
            quick_start: false,
            source: format!("copied from {}/{}", source.region(), src.image_id),
            volume_size_gib: Some(src.root_size_gib),
            take_root: false,
            tags: vec![],
        },
    )
}

/// Where guest-images/build.sh leaves its output: `$EC2LAB_GUEST_IMAGES`, else the
/// source tree this ec2lab was built from.
pub fn guest_images_dir() -> PathBuf {
    std::env::var_os("EC2LAB_GUEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-images/out"))
}

/// Identifies one build of the guest image: its directory and the files' sizes and
/// modification times (build.sh writes new files on every build).
fn build_stamp(dir: &Path, files: &[&Path]) -> String {
    let parts: Vec<String> = files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok();
            let mtime = m
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            format!("{}:{mtime}", m.map_or(0, |m| m.len()))
        })
        .collect();
    format!("{} (build {})", dir.display(), parts.join(","))
}

/// Registers the image guest-images/build.sh made as the quick-start AMI, once per region
/// (and again after it was deregistered), if the image exists. After a new build the
/// previous quick-start AMI stays available under a dated name (instances of it keep
/// working) and the new build becomes `ec2lab-linux`.
pub fn ensure_quick_start(store: &mut Store) -> Result<Option<Image>, Ec2Error> {
    let dir = guest_images_dir();
    let (kernel, root) = (dir.join("vmlinux"), dir.join("rootfs.ext4"));
    if !kernel.is_file() || !root.is_file() {
        return Ok(None);
    }
    let stamp = build_stamp(&dir, &[&kernel, &root]);
    let existing: Option<(String, String, String)> = store
        .conn()
        .query_row(
            "SELECT image_id, source, creation_date FROM images WHERE quick_start = 1 AND state = 'available'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((id, source, created)) = existing {
        if source == stamp || !source.starts_with(&dir.display().to_string()) {
            return Ok(None); // current, or registered from elsewhere: leave it
        }
        let old_name = format!("{QUICK_START_NAME}-{}", created.replace([':', '.'], "-"));
        store.write(|tx| -> Result<(), Ec2Error> {
            tx.execute(
                "UPDATE images SET quick_start = 0, name = ?2 WHERE image_id = ?1",
                rusqlite::params![id, old_name],
            )?;
            Ok(())
        })?;
    }
    if name_taken(store.conn(), QUICK_START_NAME)? {
        return Ok(None);
    }
    register(
        store,
        &Registration {
            name: QUICK_START_NAME,
            description: "ec2lab Linux: Debian 6.1 kernel and a busybox root file system, built by guest-images/build.sh",
            architecture: std::env::consts::ARCH,
            kernel: &kernel,
            initrd: None,
            root: &root,
            public: true,
            quick_start: true,
            source: stamp,
            volume_size_gib: Some(QUICK_START_VOLUME_GIB),
            take_root: false,
            tags: vec![],
        },
    )
    .map(Some)
}
