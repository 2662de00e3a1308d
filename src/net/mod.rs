//! Host networking for instances: VPCs (bridges), subnets, network interfaces (taps,
//! addresses), security groups, and the nftables firewall that enforces them. The store
//! is the truth; [`sync`] makes the host match it, so a restart of ec2lab (or of the
//! host) restores every bridge and the whole firewall from SQLite. Every host resource
//! names its state root ([`owner`](mod@owner)), so those of deleted roots are removed; a
//! VPC's bridge is up only while an instance of it runs, and overlapping VPCs never run
//! at once ([`conflict`]). The EC2 actions on these resources are in [`actions`]: they
//! change the records (`vpc`, `eni`, `addresses`, `groups`) and then call [`sync`]; the
//! records never call `sync` themselves.

pub mod actions;
pub mod addresses;
pub mod cidr;
pub mod conflict;
pub mod eni;
pub mod firewall;
pub mod groups;
pub mod host;
pub mod owner;
pub mod vpc;

use std::collections::HashSet;
use std::net::Ipv4Addr;

use crate::error::Ec2Error;
use crate::store::Store;
use firewall::{EniNet, Nft, Protocol, PublicIp, Rule, Ruleset, VpcNet};
use groups::{Permission, SecurityGroup};
use vpc::{Subnet, Vpc};

/// Where the metadata service listens on each VPC's router address.
pub const METADATA_PORT: u16 = 8775;

fn to_rule(p: &Permission) -> Result<Rule, Ec2Error> {
    let protocol = match p.protocol.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        _ => Protocol::All,
    };
    let cidrs = p
        .cidrs
        .iter()
        .map(|c| {
            c.parse()
                .map_err(|e| Ec2Error::internal(format!("stored CIDR {c}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule {
        protocol,
        ports: p.from_port.zip(p.to_port),
        cidrs,
        source_groups: p.groups.clone(),
    })
}

/// A VPC's router address on the host: its first subnet's gateway (the VPC's first
/// address when it has no subnet). The metadata service answers there.
fn router(subnets: &[Subnet], v: &Vpc) -> Ipv4Addr {
    subnets
        .iter()
        .find(|s| s.vpc_id == v.vpc_id)
        .map_or(v.cidr.nth(1), Subnet::gateway)
}

/// Where guests of `vpc_id` reach the metadata service (after the DNAT of
/// 169.254.169.254:80).
pub fn metadata_endpoint(
    c: &rusqlite::Connection,
    vpc_id: &str,
) -> Result<std::net::SocketAddrV4, Ec2Error> {
    let v = Vpc::get(c, vpc_id)?;
    let subnets = Subnet::all(c)?;
    Ok(std::net::SocketAddrV4::new(
        router(&subnets, &v),
        METADATA_PORT,
    ))
}

/// The firewall the store describes.
pub fn ruleset(store: &Store) -> Result<Ruleset, Ec2Error> {
    let c = store.conn();
    let subnets = Subnet::all(c)?;
    let vpcs = Vpc::all(c)?
        .into_iter()
        .map(|v| {
            let gateway = router(&subnets, &v);
            VpcNet {
                vpc_id: v.vpc_id,
                bridge: v.bridge,
                cidr: v.cidr,
                gateway,
            }
        })
        .collect();
    let all = eni::Eni::all(c)?;
    let enis = all
        .iter()
        .map(|e| EniNet {
            eni_id: e.eni_id.clone(),
            tap: e.tap.clone(),
            vpc_id: e.vpc_id.clone(),
            mac: e.mac_bytes(),
            ip: e.private_ip,
            groups: e.groups.clone(),
        })
        .collect();
    let groups = SecurityGroup::all(c)?
        .iter()
        .map(|g| {
            Ok(firewall::SecurityGroup {
                group_id: g.group_id.clone(),
                vpc_id: g.vpc_id.clone(),
                ingress: g
                    .ingress
                    .iter()
                    .map(to_rule)
                    .collect::<Result<_, Ec2Error>>()?,
                egress: g
                    .egress
                    .iter()
                    .map(to_rule)
                    .collect::<Result<_, Ec2Error>>()?,
            })
        })
        .collect::<Result<Vec<_>, Ec2Error>>()?;
    let public_ips = all
        .iter()
        .filter_map(|e| {
            Some(PublicIp {
                public: e.public_ip?,
                eni_id: e.eni_id.clone(),
            })
        })
        .collect();
    Ok(Ruleset {
        vpcs,
        enis,
        groups,
        public_ips,
        metadata: Some(firewall::MetadataService {
            addr: Ipv4Addr::new(169, 254, 169, 254),
            port: METADATA_PORT,
        }),
    })
}

/// This state root as its host resources name it; its nftables tables are its own, so
/// several state directories or regions on one host never touch each other's rules.
pub fn owner(store: &Store) -> owner::Owner {
    owner::Owner::of_root(store.root())
}

/// Instance states in which a VMM exists (`instances::state::State::has_vmm`, which a
/// test there keeps equal): a VPC with an interface of such an instance is in use.
pub const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "shutting-down"];

/// The VPCs with an instance that runs (or is about to, or is shutting down).
fn vpcs_in_use(c: &rusqlite::Connection) -> Result<HashSet<String>, Ec2Error> {
    let sql = format!(
        "SELECT DISTINCT e.vpc_id FROM enis e JOIN instances i ON i.instance_id = e.instance_id
         WHERE i.state IN ({})",
        LIVE_STATES.map(|s| format!("'{s}'")).join(",")
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Refuses to start an instance in `vpc_id` while another state root's VPC (or any
/// other up interface) overlaps it; see [`conflict`].
pub fn check_overlaps(store: &Store, vpc_id: &str) -> Result<(), Ec2Error> {
    if !enabled() {
        return Ok(());
    }
    conflict::check(store, vpc_id)
}

/// Removes the host resources of state roots that no longer exist and says so on
/// stderr. Every command runs it first; it costs a few reads of /sys and /run when there
/// is nothing to remove.
pub fn sweep_deleted_roots() {
    for line in owner::sweep().report() {
        eprintln!("{line}");
    }
}

/// The host's network after a command's housekeeping: in step with the store while any
/// instance of this state root runs; otherwise only its bridges are made sure to be down
/// (the last instance may have stopped with no supervisor there to do it).
pub fn follow_store(store: &Store, running: bool) -> Result<(), Ec2Error> {
    if running {
        return sync(store);
    }
    if !enabled() {
        return Ok(());
    }
    for v in Vpc::all(store.conn())? {
        host::set_down(&v.bridge)?;
    }
    Ok(())
}

/// Host networking for instances (bridges, taps, nftables) can be switched off with
/// `EC2LAB_NETWORKING=off` (a host without nftables, or a lab that needs no network):
/// instances then launch with no network interface, and the VPC verbs only change the
/// store.
pub fn enabled() -> bool {
    !matches!(
        std::env::var("EC2LAB_NETWORKING").as_deref(),
        Ok("off" | "0" | "false")
    )
}

/// Removes everything this state root put into the host's network: its bridges, taps
/// and nftables tables. (`ec2lab network-teardown`.)
pub fn teardown(store: &Store) -> Result<(), Ec2Error> {
    let c = store.conn();
    for e in eni::Eni::all(c)? {
        host::delete_link(&e.tap);
    }
    for v in Vpc::all(c)? {
        host::delete_link(&v.bridge);
    }
    let t = owner(store).table;
    let _lock = owner::lock(&t);
    Nft::host()
        .remove(&[&t])
        .map_err(|e| Ec2Error::internal(e.with_cause()))?;
    owner::forget(&t);
    Ok(())
}

/// Makes the host match the store: bridges with router addresses (up only while an
/// instance of their VPC runs), and the firewall in one atomic `nft -f` transaction (only
/// when it changed). The owner record comes first, so nothing is made that the sweep of
/// a deleted root could not find.
pub fn sync(store: &Store) -> Result<(), Ec2Error> {
    // A supervisor whose state directory was deleted under it must not plumb the host
    // again: the next sweep would only have to remove it.
    if !enabled() || !owner::alive(store.root()) {
        return Ok(());
    }
    let me = owner(store);
    me.record().map_err(|e| {
        Ec2Error::internal(format!(
            "cannot record this state directory's host network in {}: {e}; ec2lab needs root for host networking",
            owner::RUN_DIR
        ))
    })?;
    // Read the store, render and apply under one lock: of two commands that change the
    // rules at once, the one that applies last has read the store last.
    let _lock = owner::lock(&me.table).map_err(|e| {
        Ec2Error::internal(format!(
            "cannot lock the firewall of this state directory in {}: {e}; ec2lab needs root for host networking",
            owner::RUN_DIR
        ))
    })?;
    let c = store.conn();
    let subnets = Subnet::all(c)?;
    let in_use = vpcs_in_use(c)?;
    for v in Vpc::all(c)? {
        let gws: Vec<String> = subnets
            .iter()
            .filter(|s| s.vpc_id == v.vpc_id)
            .map(|s| format!("{}/{}", s.gateway(), s.cidr.prefix))
            .collect();
        let up = in_use.contains(&v.vpc_id);
        host::ensure_bridge(&v.bridge, &gws, &me.alias(&v.vpc_id), up)?;
    }
    let script = firewall::render(&ruleset(store)?, &me.table)
        .map_err(|e| Ec2Error::internal(format!("the firewall rules cannot be built: {e}")))?;
    // Remembers the last script applied and how the kernel then listed both tables, so
    // unchanged state costs one listing and no apply, and a table deleted or edited by
    // hand is put back. Under /run: after a host reboot (empty tables) they are gone too.
    let (marker, live) = (
        owner::applied_marker(&me.table),
        owner::listing_marker(&me.table),
    );
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(script.as_str()) {
        let now = Nft::host().listing(&me.table);
        if now.is_some() && now == std::fs::read_to_string(&live).ok() {
            return Ok(());
        }
    }
    Nft::host().apply(&script).map_err(|e| {
        Ec2Error::internal(format!(
            "the firewall could not be applied: {}",
            e.with_cause()
        ))
    })?;
    let _ = std::fs::write(&marker, &script);
    match Nft::host().listing(&me.table) {
        Some(l) => {
            let _ = std::fs::write(&live, l);
        }
        None => {
            let _ = std::fs::remove_file(&live);
        }
    }
    Ok(())
}
