//! Spot instances on one host: they run on the host's spare memory at a price that follows
//! how full the host is, and are taken back when an on-demand launch needs their memory
//! (or the price passes their maximum). A reclaimed instance gets EC2's two-minute notice
//! in the metadata service (`spot/instance-action`, `events/recommendations/rebalance`),
//! then its supervisor stops, hibernates or terminates it with EC2's state reasons
//! (`Server.SpotInstanceTermination`, `Server.SpotInstanceShutdown`); the on-demand
//! instance waits in `pending` until the memory is free.
//!
//! Each spot instance has a row in `spot_requests` (the `SpotInstanceRequest` shape as
//! JSON, with the instance, notice and action times as columns); the price history is in
//! `spot_prices`, which billing integrates.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};

use super::record::Instance;
use super::spot_price::{current_price, price_at, record_prices, region_prices};
use super::state::{self, Action, State};
use super::types::InstanceType;
use crate::clock::{iso_ms, now_ms};
use crate::ec2::shapes::instances::RunInstancesRequest;
use crate::ec2::shapes::market::{SpotInstanceRequest, SpotInstanceStatus};
use crate::error::Ec2Error;
use crate::store::Store;

/// Seconds between the interruption notice and the interruption (EC2: two minutes).
pub const NOTICE_ENV: &str = "EC2LAB_SPOT_NOTICE_SECS";
const DEFAULT_NOTICE_SECS: i64 = 120;

fn notice_ms() -> i64 {
    std::env::var(NOTICE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(DEFAULT_NOTICE_SECS * 1000, |s| (s * 1000.0) as i64)
}

/// What happens to an interrupted spot instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Terminated (the default).
    Terminate,
    /// Stopped; started again when the request is fulfilled again.
    Stop,
    /// Hibernated.
    Hibernate,
}

impl Behavior {
    fn parse(s: Option<&str>) -> Result<Behavior, Ec2Error> {
        Ok(match s.unwrap_or("terminate") {
            "terminate" => Behavior::Terminate,
            "stop" => Behavior::Stop,
            "hibernate" => Behavior::Hibernate,
            other => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Value ({other}) for parameter InstanceInterruptionBehavior is invalid. \
                     Use terminate, stop or hibernate"
                )))
            }
        })
    }

    /// The model's name.
    pub fn name(self) -> &'static str {
        match self {
            Behavior::Terminate => "terminate",
            Behavior::Stop => "stop",
            Behavior::Hibernate => "hibernate",
        }
    }
}

/// A launch's spot options, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Market {
    /// The most per hour.
    pub max_price: f64,
    /// `persistent` rather than `one-time`.
    pub persistent: bool,
    /// Until when the request is valid.
    pub valid_until: Option<String>,
    /// What an interruption does.
    pub behavior: Behavior,
}

fn parse_price(text: &str, what: &str) -> Result<f64, Ec2Error> {
    match text.trim().parse::<f64>() {
        Ok(p) if p > 0.0 && p.is_finite() => Ok(p),
        _ => Err(Ec2Error::invalid_parameter(format!(
            "Invalid value '{text}' for {what}: a price in USD per hour, such as 0.05"
        ))),
    }
}

impl Market {
    /// The spot options of a `RunInstances` request, or `None` for on-demand.
    pub fn from_request(
        store: &Store,
        req: &RunInstancesRequest,
        ty: &InstanceType,
    ) -> Result<Option<Market>, Ec2Error> {
        let Some(m) = &req.instance_market_options else {
            return Ok(None);
        };
        match m.market_type.as_deref() {
            Some("spot") => {}
            other => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Value ({}) for parameter MarketType is invalid. Use spot",
                    other.unwrap_or_default()
                )))
            }
        }
        let o = m.spot_options.clone().unwrap_or_default();
        let on_demand = region_prices(store)?.on_demand(ty.name)?;
        let max_price = match &o.max_price {
            Some(p) => parse_price(p, "MaxPrice")?,
            None => on_demand,
        };
        let persistent = match o.spot_instance_type.as_deref().unwrap_or("one-time") {
            "one-time" => false,
            "persistent" => true,
            other => {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Value ({other}) for parameter SpotInstanceType is invalid. Use one-time or persistent"
                )))
            }
        };
        let behavior = Behavior::parse(o.instance_interruption_behavior.as_deref())?;
        if behavior != Behavior::Terminate && !persistent {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                format!(
                    "InstanceInterruptionBehavior {} needs SpotInstanceType persistent: a one-time \
                     request's instance can only be terminated",
                    behavior.name()
                ),
            ));
        }
        Ok(Some(Market {
            max_price,
            persistent,
            valid_until: o.valid_until.clone(),
            behavior,
        }))
    }
}

/// A spot request row.
#[derive(Clone, Debug)]
pub struct Row {
    /// The request as EC2 describes it.
    pub request: SpotInstanceRequest,
    /// When the interruption notice was given.
    pub notice_ms: Option<i64>,
    /// When the interruption happens.
    pub action_ms: Option<i64>,
    /// When the rebalance recommendation was given.
    pub rebalance_ms: Option<i64>,
}

const ROW: &str = "SELECT request, notice_ms, action_ms, rebalance_ms FROM spot_requests";

/// A row's columns: the request's JSON and the notice, action and rebalance times.
type Columns = (String, Option<i64>, Option<i64>, Option<i64>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn to_row((json, notice_ms, action_ms, rebalance_ms): Columns) -> Result<Row, Ec2Error> {
    Ok(Row {
        request: serde_json::from_str(&json)
            .map_err(|e| Ec2Error::internal(format!("a spot request record: {e}")))?,
        notice_ms,
        action_ms,
        rebalance_ms,
    })
}

/// Every spot request, oldest first.
pub fn all(c: &Connection) -> Result<Vec<Row>, Ec2Error> {
    let mut stmt = c.prepare(&format!("{ROW} ORDER BY create_ms, request_id"))?;
    let rows = stmt.query_map([], row)?;
    rows.map(|r| to_row(r?)).collect()
}

/// The spot request of an instance, if it is a spot instance.
pub fn of_instance(c: &Connection, instance_id: &str) -> Result<Option<Row>, Ec2Error> {
    c.query_row(&format!("{ROW} WHERE instance_id = ?1"), [instance_id], row)
        .optional()?
        .map(to_row)
        .transpose()
}

/// Writes a request's shape back.
pub fn save(c: &Connection, r: &SpotInstanceRequest) -> Result<(), Ec2Error> {
    let json = serde_json::to_string(r).map_err(|e| Ec2Error::internal(e.to_string()))?;
    c.execute(
        "UPDATE spot_requests SET request = ?2, instance_id = ?3, tags = ?4
         WHERE request_id = ?1",
        params![
            r.spot_instance_request_id,
            json,
            r.instance_id,
            crate::ec2::tags::to_column(&r.tags)
        ],
    )?;
    Ok(())
}

/// A status as EC2 words it.
pub fn status(code: &str, message: &str) -> SpotInstanceStatus {
    SpotInstanceStatus {
        code: code.into(),
        message: message.into(),
        update_time: iso_ms(now_ms()),
    }
}

/// A spot launch's capacity and price checks: EC2's `InsufficientInstanceCapacity`
/// (spot never takes another's memory) and `SpotMaxPriceTooLow`.
pub fn check_launch(
    store: &Store,
    market: &Market,
    ty: &InstanceType,
    count: u32,
) -> Result<(), Ec2Error> {
    let (budget, used) = super::capacity::capacity(store)?;
    let need = ty.mem_mib * u64::from(count);
    if used + need > budget {
        return Err(Ec2Error::new(
            "InsufficientInstanceCapacity",
            format!(
                "There is no Spot capacity available that matches your request: {count} {} need \
                 {need} MiB and the host has {} MiB free. Try again later, or launch on-demand \
                 (which spot instances make room for)",
                ty.name,
                budget.saturating_sub(used)
            ),
        ));
    }
    let prices = region_prices(store)?;
    let after = ((used + need) as f64 / budget.max(1) as f64).clamp(0.0, 1.0);
    let price = price_at(&prices, ty.name, after)?;
    if market.max_price < price {
        return Err(Ec2Error::new(
            "SpotMaxPriceTooLow",
            format!(
                "Your Spot request price of {:.6} is lower than the minimum required Spot request \
                 fulfillment price of {price:.6}.",
                market.max_price
            ),
        ));
    }
    Ok(())
}

/// The running spot instances an on-demand launch of `need_mib` would interrupt to fit, or
/// `None` when even all of them would not make room. Spot instances already given notice
/// count as leaving.
pub fn plan_room(store: &Store, need_mib: u64) -> Result<Option<Vec<String>>, Ec2Error> {
    let (budget, used) = super::capacity::capacity(store)?;
    let Some(mut shortage) = (used + need_mib).checked_sub(budget).filter(|s| *s > 0) else {
        return Ok(Some(Vec::new()));
    };
    let instances = Instance::all(store.conn())?;
    let mut candidates = Vec::new();
    for row in all(store.conn())?.into_iter().rev() {
        let Some(id) = row.request.instance_id.as_deref() else {
            continue;
        };
        let Some(inst) = instances.iter().find(|i| i.instance_id == id) else {
            continue;
        };
        if !inst.state.has_vmm() {
            continue;
        }
        if row.notice_ms.is_some() {
            shortage = shortage.saturating_sub(inst.mem_mib);
        } else if inst.state == State::Running {
            candidates.push((id.to_string(), inst.mem_mib));
        }
    }
    let mut chosen = Vec::new();
    for (id, mem) in candidates {
        if shortage == 0 {
            break;
        }
        shortage = shortage.saturating_sub(mem);
        chosen.push(id);
    }
    Ok((shortage == 0).then_some(chosen))
}

/// Why a spot instance is interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// An on-demand launch needs the capacity.
    NoCapacity,
    /// The spot price passed the request's maximum.
    Price,
}

/// Gives each instance EC2's interruption notice: the metadata service shows it at once,
/// and the supervisor interrupts the instance when it runs out.
pub fn give_notice(
    store: &mut Store,
    instance_ids: &[String],
    cause: Cause,
) -> Result<(), Ec2Error> {
    let now = now_ms();
    let at = now + notice_ms();
    store.write(|tx| -> Result<(), Ec2Error> {
        for id in instance_ids {
            let Some(mut row) = of_instance(tx, id)? else {
                continue;
            };
            if row.notice_ms.is_some() {
                continue;
            }
            let what = match row.request.instance_interruption_behavior.as_str() {
                "stop" => "stop",
                "hibernate" => "hibernation",
                _ => "termination",
            };
            let why = match cause {
                Cause::NoCapacity => "capacity is needed for on-demand instances",
                Cause::Price => "the Spot price is above your maximum price",
            };
            row.request.status = status(
                &format!(
                    "marked-for-{}",
                    if what == "termination" {
                        "termination"
                    } else {
                        "stop"
                    }
                ),
                &format!(
                    "Your Spot Instance is marked for {what} at {} because {why}.",
                    iso_ms(at)
                ),
            );
            save(tx, &row.request)?;
            tx.execute(
                "UPDATE spot_requests SET notice_ms = ?2, action_ms = ?3, rebalance_ms = ?2
                 WHERE instance_id = ?1",
                params![id, now, at],
            )?;
        }
        Ok(())
    })
}

/// What the metadata service shows a spot instance: `spot/instance-action` and
/// `spot/termination-time` once noticed, `events/recommendations/rebalance`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notice {
    /// `{"action": "terminate", "time": "…"}`.
    pub instance_action: Option<String>,
    /// The time of a termination (the older `spot/termination-time`).
    pub termination_time: Option<String>,
    /// `{"noticeTime": "…"}`.
    pub rebalance: Option<String>,
    /// `spot` for a spot instance.
    pub life_cycle: Option<&'static str>,
}

fn imds_time(ms: i64) -> String {
    format!("{}Z", &iso_ms(ms)[..19])
}

/// The notice an instance's metadata shows.
pub fn notice(c: &Connection, instance_id: &str) -> Result<Notice, Ec2Error> {
    let Some(row) = of_instance(c, instance_id)? else {
        return Ok(Notice::default());
    };
    let mut n = Notice {
        life_cycle: Some("spot"),
        ..Notice::default()
    };
    if let (Some(_), Some(at)) = (row.notice_ms, row.action_ms) {
        let action = row.request.instance_interruption_behavior.clone();
        n.instance_action =
            Some(serde_json::json!({"action": action, "time": imds_time(at)}).to_string());
        if action == "terminate" {
            n.termination_time = Some(imds_time(at));
        }
    }
    if let Some(at) = row.rebalance_ms {
        n.rebalance = Some(serde_json::json!({"noticeTime": imds_time(at)}).to_string());
    }
    Ok(n)
}

/// The reason to keep through the end of a spot interruption's stop, if `inst` is being
/// interrupted: (transition reason, code, message).
pub fn interruption_reason(inst: &Instance) -> Option<(String, String, String)> {
    let (code, msg) = inst.state_reason.clone()?;
    (code.starts_with("Server.Spot") && matches!(inst.state, State::Stopping | State::ShuttingDown))
        .then(|| (inst.transition_reason.clone(), code, msg))
}

/// Whether the host's memory holds every instance with a VMM (an on-demand launch that spot
/// instances make room for waits until it does).
pub fn room_for(store: &Store) -> Result<bool, Ec2Error> {
    let (budget, used) = super::capacity::capacity(store)?;
    Ok(used <= budget)
}

/// When this supervisor last recorded the price.
static PRICED: Mutex<Option<Instant>> = Mutex::new(None);

/// The supervisor's spot work for its instance, every poll: interrupt it when its notice
/// has run out; give it notice when the price passes its maximum; keep the price history.
pub fn tick(store: &mut Store, inst: &Instance) -> Result<(), Ec2Error> {
    {
        let mut last = PRICED.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(2)) {
            *last = Some(Instant::now());
            drop(last);
            record_prices(store)?;
        }
    }
    let Some(row) = of_instance(store.conn(), &inst.instance_id)? else {
        return Ok(());
    };
    if inst.state != State::Running {
        return Ok(());
    }
    match row.action_ms {
        Some(at) if now_ms() >= at => interrupt(store, inst, row),
        Some(_) => Ok(()),
        None => {
            let max: f64 = row.request.spot_price.parse().unwrap_or(f64::MAX);
            if current_price(store, &inst.instance_type)? > max {
                give_notice(store, std::slice::from_ref(&inst.instance_id), Cause::Price)?;
            }
            Ok(())
        }
    }
}

/// Interrupts a noticed spot instance as its request says.
fn interrupt(store: &mut Store, inst: &Instance, row: Row) -> Result<(), Ec2Error> {
    let id = inst.instance_id.clone();
    let by_price = row.request.status.message.contains("price");
    let mut behavior = Behavior::parse(Some(&row.request.instance_interruption_behavior))?;
    if behavior == Behavior::Hibernate && super::hibernation::check_stop(store, inst).is_err() {
        // EC2 stops an instance it cannot hibernate.
        behavior = Behavior::Stop;
    }
    let now = iso_ms(now_ms());
    store.write(|tx| -> Result<(), Ec2Error> {
        let cur = Instance::get(tx, &id)?;
        if cur.state != State::Running {
            return Ok(());
        }
        let (action, code, message, status_code, req_state) = match behavior {
            Behavior::Terminate => (
                Action::Terminate,
                "Server.SpotInstanceTermination",
                "Server.SpotInstanceTermination: Spot instance termination",
                if by_price {
                    "instance-terminated-by-price"
                } else {
                    "instance-terminated-no-capacity"
                },
                // A persistent request opens again after its instance is interrupted,
                // and the monitor daemon relaunches it when there is room
                // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-request-status.html).
                if row.request.r#type == "persistent" {
                    "open"
                } else {
                    "closed"
                },
            ),
            Behavior::Stop | Behavior::Hibernate => (
                Action::Stop,
                "Server.SpotInstanceShutdown",
                "Server.SpotInstanceShutdown: Spot instance shutdown",
                if by_price {
                    "instance-stopped-by-price"
                } else {
                    "instance-stopped-no-capacity"
                },
                "disabled",
            ),
        };
        let Some(next) = state::apply(&id, cur.state, action)? else {
            return Ok(());
        };
        Instance::set_state(
            tx,
            &id,
            next,
            &format!("Service initiated ({now})"),
            Some((code, message)),
        )?;
        if behavior == Behavior::Hibernate {
            let mut h = cur.hibernation.clone();
            h.requested = true;
            h.save(tx, &id)?;
        }
        let mut r = row.request.clone();
        r.state = req_state.into();
        r.status = status(
            status_code,
            match behavior {
                Behavior::Terminate => "Your Spot Instance was terminated.",
                _ => "Your Spot Instance was stopped.",
            },
        );
        save(tx, &r)?;
        Ok(())
    })
    // Only the instance's own supervisor ticks it: it acts on the new state at its next poll.
}

/// The requests an interruption stopped (`disabled`), oldest first.
pub fn disabled(c: &Connection) -> Result<Vec<Row>, Ec2Error> {
    let mut stmt = c.prepare(&format!(
        "{ROW} WHERE json_extract(request, '$.State') = 'disabled' ORDER BY create_ms"
    ))?;
    let rows = stmt.query_map([], row)?;
    rows.map(|r| to_row(r?)).collect()
}
