//! The metric store: every data point of a region in its own SQLite file,
//! `<region root>/cloudwatch.db`, apart from `ec2lab.db` so that the collector's steady
//! writes never hold the lock EC2 calls wait on.
//!
//! CloudWatch's resolutions and retention are four tiers of one table, `points`, each
//! row the statistic set of one metric over one tier interval (and one unit):
//!
//! | tier | holds | kept |
//! |---|---|---|
//! | 1 s | high-resolution points by the second, standard points by the minute | 3 hours |
//! | 60 s | every point, by the minute | 15 days |
//! | 300 s | every point, by 5 minutes | 63 days |
//! | 3600 s | every point, by the hour | 455 days |
//!
//! A point is added to every tier when it is written (an upsert that merges it into the
//! tier's row), so a coarser tier always holds the roll-up of the finer one before the
//! finer one expires, and a query reads the one tier whose interval divides its period:
//! a week of one-minute data asked for by the hour reads 168 rows, not 10,080. The
//! primary key (metric, tier, ts, unit) makes one metric's range in one tier a single
//! index range scan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::cloudwatch::{Dimension, Sample, StatSet};
use crate::error::Ec2Error;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The tiers: interval in seconds and how long rows are kept, in milliseconds.
pub const TIERS: [(u32, i64); 4] = [
    (1, 3 * HOUR_MS),
    (60, 15 * DAY_MS),
    (300, 63 * DAY_MS),
    (3600, 455 * DAY_MS),
];

/// How long a metric without new data stays listed (ListMetrics shows two weeks).
pub const LISTED_MS: i64 = 14 * DAY_MS;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS metrics (
    id         INTEGER PRIMARY KEY,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    dims       TEXT NOT NULL,      -- JSON [{"Name":…,"Value":…}], sorted by name
    last_ms    INTEGER NOT NULL,   -- the newest data point's time
    UNIQUE (namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    metric  INTEGER NOT NULL,
    tier    INTEGER NOT NULL,      -- seconds per row: 1, 60, 300, 3600
    ts      INTEGER NOT NULL,      -- the row's interval start, ms since the epoch
    unit    TEXT NOT NULL,
    n       REAL NOT NULL,
    sum     REAL NOT NULL,
    min     REAL NOT NULL,
    max     REAL NOT NULL,
    PRIMARY KEY (metric, tier, ts, unit)
) WITHOUT ROWID;
-- Expiry deletes by tier and age.
CREATE INDEX IF NOT EXISTS points_age ON points(tier, ts);
"#;

/// A metric the store has data for.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMetric {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its dimensions, sorted by name.
    pub dimensions: Vec<Dimension>,
    /// Its newest data point's time (ms).
    pub last_ms: i64,
}

/// The metric store of one region, over `<region root>/cloudwatch.db`.
pub struct MetricStore {
    conn: Connection,
    path: PathBuf,
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> Ec2Error + '_ {
    move |e| {
        Ec2Error::internal(format!(
            "The metric database {} failed: {e}",
            path.display()
        ))
    }
}

/// The canonical text of a dimension set: sorted by name, as JSON.
pub fn dims_key(dims: &[Dimension]) -> String {
    let mut d = dims.to_vec();
    d.sort();
    serde_json::to_string(&d).unwrap_or_default()
}

/// The tier a query with `period_s` reads: the coarsest whose interval divides it.
pub fn tier_for(period_s: u32) -> u32 {
    TIERS
        .iter()
        .rev()
        .map(|t| t.0)
        .find(|t| period_s >= *t && period_s.is_multiple_of(*t))
        .unwrap_or(1)
}

impl MetricStore {
    /// Opens (creating if needed) `cloudwatch.db` under the region root `<state>/<region>`.
    pub fn open(region_root: &Path) -> Result<MetricStore, Ec2Error> {
        std::fs::create_dir_all(region_root)?;
        let path = region_root.join("cloudwatch.db");
        let err = sql_err(&path);
        let conn = Connection::open(&path).map_err(&err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(&err)?;
        // WAL: readers never wait for the collector. synchronous=NORMAL: a crash of the host
        // may lose the last few seconds of samples, never corrupt the file; a metric point
        // is not worth an fsync per batch.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&err)?;
        conn.execute_batch(SCHEMA).map_err(&err)?;
        drop(err);
        Ok(MetricStore { conn, path })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Ec2Error + '_ {
        sql_err(&self.path)
    }

    /// Adds `samples` to every tier, in one transaction.
    pub fn put(&mut self, samples: &[Sample]) -> Result<(), Ec2Error> {
        let path = self.path.clone();
        let err = sql_err(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        {
            let mut metric = tx
                .prepare_cached(
                    "INSERT INTO metrics (namespace, name, dims, last_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (namespace, name, dims) DO UPDATE SET last_ms = max(last_ms, excluded.last_ms)
                     RETURNING id",
                )
                .map_err(&err)?;
            let mut point = tx
                .prepare_cached(
                    "INSERT INTO points (metric, tier, ts, unit, n, sum, min, max)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (metric, tier, ts, unit) DO UPDATE SET
                        n = n + excluded.n, sum = sum + excluded.sum,
                        min = min(min, excluded.min), max = max(max, excluded.max)",
                )
                .map_err(&err)?;
            let mut ids: HashMap<(String, String, String), i64> = HashMap::new();
            for s in samples {
                let key = (
                    s.namespace.clone(),
                    s.metric_name.clone(),
                    dims_key(&s.dimensions),
                );
                let id = match ids.get(&key) {
                    Some(id) => {
                        // Keep last_ms the newest of the batch too.
                        tx.execute(
                            "UPDATE metrics SET last_ms = max(last_ms, ?2) WHERE id = ?1",
                            params![id, s.timestamp_ms],
                        )
                        .map_err(&err)?;
                        *id
                    }
                    None => {
                        let id: i64 = metric
                            .query_row(params![key.0, key.1, key.2, s.timestamp_ms], |r| r.get(0))
                            .map_err(&err)?;
                        ids.insert(key, id);
                        id
                    }
                };
                for (tier, _) in TIERS {
                    // Tier 1 holds standard-resolution points at their own (minute)
                    // granularity, so short periods see them for the last 3 hours too.
                    let step = if tier == 1 && s.storage_resolution >= 60 {
                        60_000
                    } else {
                        tier as i64 * 1000
                    };
                    let ts = s.timestamp_ms.div_euclid(step) * step;
                    let st = s.stats;
                    point
                        .execute(params![
                            id,
                            tier,
                            ts,
                            s.unit,
                            st.sample_count,
                            st.sum,
                            st.minimum,
                            st.maximum
                        ])
                        .map_err(&err)?;
                }
            }
        }
        tx.commit().map_err(&err)?;
        Ok(())
    }

    fn metric_id(
        &self,
        namespace: &str,
        metric: &str,
        dims: &[Dimension],
    ) -> Result<Option<i64>, Ec2Error> {
        self.conn
            .prepare_cached(
                "SELECT id FROM metrics WHERE namespace = ?1 AND name = ?2 AND dims = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![namespace, metric, dims_key(dims)], |r| r.get(0))
                    .optional()
            })
            .map_err(self.err())
    }

    /// The StatSet of each period of `period_s` seconds in [start_ms, end_ms) that has
    /// data (periods start at `start_ms`), of every unit.
    pub fn statistics(
        &self,
        namespace: &str,
        metric: &str,
        dims: &[Dimension],
        start_ms: i64,
        end_ms: i64,
        period_s: u32,
    ) -> Result<Vec<(i64, StatSet)>, Ec2Error> {
        let rows =
            self.statistics_by_unit(namespace, metric, dims, start_ms, end_ms, period_s, None)?;
        let mut out: Vec<(i64, StatSet)> = Vec::new();
        for (ts, set, _) in rows {
            match out.last_mut() {
                Some((t, s)) if *t == ts => *s = s.merge(set),
                _ => out.push((ts, set)),
            }
        }
        Ok(out)
    }

    /// As [`statistics`](Self::statistics), one set per period and unit (only `unit` when
    /// given), oldest first.
    #[allow(clippy::too_many_arguments)]
    pub fn statistics_by_unit(
        &self,
        namespace: &str,
        metric: &str,
        dims: &[Dimension],
        start_ms: i64,
        end_ms: i64,
        period_s: u32,
        unit: Option<&str>,
    ) -> Result<Vec<(i64, StatSet, String)>, Ec2Error> {
        let Some(id) = self.metric_id(namespace, metric, dims)? else {
            return Ok(Vec::new());
        };
        let period_ms = period_s.max(1) as i64 * 1000;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT (ts - ?3) / ?5 AS b, unit, SUM(n), SUM(sum), MIN(min), MAX(max)
                 FROM points
                 WHERE metric = ?1 AND tier = ?2 AND ts >= ?3 AND ts < ?4 AND (?6 IS NULL OR unit = ?6)
                 GROUP BY b, unit ORDER BY b, unit",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(
                params![id, tier_for(period_s), start_ms, end_ms, period_ms, unit],
                |r| {
                    Ok((
                        start_ms + r.get::<_, i64>(0)? * period_ms,
                        StatSet {
                            sample_count: r.get(2)?,
                            sum: r.get(3)?,
                            minimum: r.get(4)?,
                            maximum: r.get(5)?,
                        },
                        r.get::<_, String>(1)?,
                    ))
                },
            )
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// For percentiles: the values of each period, each the average of one row of the
    /// finest tier that holds the period (by the second for the last 3 hours, by the
    /// minute for 15 days, then the query's own tier), oldest period first.
    #[allow(clippy::too_many_arguments)]
    pub fn values(
        &self,
        namespace: &str,
        metric: &str,
        dims: &[Dimension],
        start_ms: i64,
        end_ms: i64,
        period_s: u32,
        unit: Option<&str>,
    ) -> Result<Vec<(i64, Vec<f64>)>, Ec2Error> {
        let Some(id) = self.metric_id(namespace, metric, dims)? else {
            return Ok(Vec::new());
        };
        let period_ms = period_s.max(1) as i64 * 1000;
        let mut buckets: std::collections::BTreeMap<i64, (u32, Vec<f64>)> = Default::default();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT (ts - ?3) / ?5, sum / n FROM points
                 WHERE metric = ?1 AND tier = ?2 AND ts >= ?3 AND ts < ?4 AND (?6 IS NULL OR unit = ?6)
                 ORDER BY ts",
            )
            .map_err(self.err())?;
        let mut tiers = vec![1, 60, tier_for(period_s)];
        tiers.dedup();
        for tier in tiers {
            let rows = stmt
                .query_map(params![id, tier, start_ms, end_ms, period_ms, unit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
                })
                .map_err(self.err())?;
            for row in rows {
                let (b, v) = row.map_err(self.err())?;
                let entry = buckets.entry(b).or_insert((tier, Vec::new()));
                // A finer tier already answered for this period: keep its values.
                if entry.0 == tier {
                    entry.1.push(v);
                }
            }
        }
        Ok(buckets
            .into_iter()
            .map(|(b, (_, vs))| (start_ms + b * period_ms, vs))
            .collect())
    }

    /// Every metric with data since `since_ms`, ordered by namespace, name, dimensions.
    pub fn list(&self, since_ms: i64) -> Result<Vec<StoredMetric>, Ec2Error> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT namespace, name, dims, last_ms FROM metrics WHERE last_ms >= ?1
                 ORDER BY namespace, name, dims",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (namespace, name, dims, last_ms) = row.map_err(self.err())?;
            out.push(StoredMetric {
                namespace,
                name,
                dimensions: serde_json::from_str(&dims).unwrap_or_default(),
                last_ms,
            });
        }
        Ok(out)
    }

    /// Applies retention as of `now_ms`: each tier's rows older than its retention go (the
    /// coarser tiers already hold their roll-up), and metrics with no rows left and no
    /// data for two weeks.
    pub fn expire(&mut self, now_ms: i64) -> Result<(), Ec2Error> {
        let path = self.path.clone();
        let err = sql_err(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        for (tier, keep) in TIERS {
            // A row is kept while any of its interval is within retention.
            tx.execute(
                "DELETE FROM points WHERE tier = ?1 AND ts < ?2",
                params![tier, now_ms - keep - tier as i64 * 1000],
            )
            .map_err(&err)?;
        }
        tx.execute(
            "DELETE FROM metrics WHERE last_ms < ?1
             AND NOT EXISTS (SELECT 1 FROM points WHERE points.metric = metrics.id)",
            params![now_ms - LISTED_MS],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(())
    }

    /// How many rows a tier holds (for tests and the benchmark's report).
    pub fn rows(&self, tier: u32) -> Result<i64, Ec2Error> {
        self.conn
            .query_row("SELECT COUNT(*) FROM points WHERE tier = ?1", [tier], |r| {
                r.get(0)
            })
            .map_err(self.err())
    }
}
