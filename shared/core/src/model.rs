//! What the guard knows about the account and what it can change: facts, drivers, changes and
//! actions. Every [`Change`] carries the value it replaces, so it can be undone exactly.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fault::Fault;
use crate::plan::{Skip, Why};

/// Tag that puts a function (and its APIs and mappings) out of the guard's reach.
pub const TAG_PROTECTED: &str = "concurrency-guard:protected";
/// Tag that allows the kill switch (reserved concurrency 0) for one function.
pub const TAG_KILL_SWITCH: &str = "concurrency-guard:kill-switch";

/// A function's reservation. "None" and "reserved 0" are different states: restoring one as
/// the other is the classic backup bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reservation {
    /// No reservation: the function draws from the unreserved pool.
    Unreserved,
    Reserved(u32),
}

impl Reservation {
    /// What the reservation takes out of the account's unreserved pool.
    pub fn held(self) -> u32 {
        match self {
            Self::Unreserved => 0,
            Self::Reserved(n) => n,
        }
    }
}

impl fmt::Display for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreserved => f.write_str("no reservation"),
            Self::Reserved(n) => write!(f, "reserved {n}"),
        }
    }
}

/// API Gateway throttle: steady-state requests per second and bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throttle {
    pub rate: f64,
    pub burst: i32,
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} req/s, burst {}", self.rate, self.burst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKind {
    /// API Gateway REST API (v1).
    Rest,
    /// API Gateway HTTP API (v2).
    Http,
}

/// Where on an API stage a throttle applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ApiTarget {
    pub kind: ApiKind,
    pub api_id: String,
    pub stage: String,
    /// One method (`GET` `/items`); `None` for the whole stage.
    pub route: Option<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Route {
    pub method: String,
    pub path: String,
}

impl ApiTarget {
    /// The HTTP API route key (`GET /items`).
    pub fn route_key(&self) -> Option<String> {
        // HTTP APIs' catch-all route `$default` has no path.
        self.route.as_ref().map(|r| {
            if r.path.is_empty() {
                r.method.clone()
            } else {
                format!("{} {}", r.method, r.path)
            }
        })
    }
}

impl fmt::Display for ApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ApiKind::Rest => "REST API",
            ApiKind::Http => "HTTP API",
        };
        write!(f, "{kind} {} stage {}", self.api_id, self.stage)?;
        match &self.route {
            Some(r) => write!(f, " {} {}", r.method, r.path),
            None => f.write_str(" (all methods)"),
        }
    }
}

/// What invokes a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Driver {
    Api {
        target: ApiTarget,
        current: Option<Throttle>,
        /// The stage already has a settings entry for this method/route with no throttle in it:
        /// removing our throttle later would remove the owner's other settings too.
        shared_entry: bool,
    },
    Queue {
        uuid: String,
        source_arn: String,
        maximum_concurrency: Option<u32>,
    },
    /// Async or unknown sources (SNS, EventBridge, S3, direct invokes): only a reservation
    /// limits them.
    Other { source: String },
}

/// What the guard knows about one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionFacts {
    pub name: String,
    pub arn: String,
    pub reservation: Reservation,
    pub tags: BTreeMap<String, String>,
    pub drivers: Vec<Driver>,
}

impl FunctionFacts {
    pub fn tagged(&self, key: &str, value: &str) -> bool {
        self.tags
            .get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    /// The function's SQS mappings: each one's UUID and `MaximumConcurrency`.
    pub fn queues(&self) -> Vec<(&String, Option<u32>)> {
        self.drivers
            .iter()
            .filter_map(|d| match d {
                Driver::Queue {
                    uuid,
                    maximum_concurrency,
                    ..
                } => Some((uuid, *maximum_concurrency)),
                _ => None,
            })
            .collect()
    }
}

/// The account's concurrency settings; unknown when `GetAccountSettings` is unavailable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFacts {
    pub limit: Option<u32>,
    pub unreserved: Option<u32>,
}

impl AccountFacts {
    /// Unreserved concurrency AWS insists on keeping. Not exposed by any API: 100 in a default
    /// account, 10 or 50 in low-quota ones, so derive it from the limit unless configured.
    pub fn unreserved_minimum(&self, configured: Option<u32>) -> Option<u32> {
        configured.or_else(|| self.limit.map(|l| 100.min(l.div_ceil(10))))
    }
}

/// One reversible change. `previous` is what was there; `new` what the guard puts there.
/// `None` means "no setting" (no throttle, no maximum concurrency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Change {
    Throttle {
        target: ApiTarget,
        previous: Option<Throttle>,
        new: Option<Throttle>,
    },
    QueueConcurrency {
        uuid: String,
        previous: Option<u32>,
        new: Option<u32>,
    },
    Reservation {
        function: String,
        previous: Reservation,
        new: Reservation,
    },
}

/// Identifies the resource a change touches, so one resource gets one change per incident.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceKey {
    Api(ApiTarget),
    Queue(String),
    Function(String),
}

impl Change {
    /// The change that undoes this one.
    pub fn inverse(&self) -> Self {
        match self.clone() {
            Self::Throttle {
                target,
                previous,
                new,
            } => Self::Throttle {
                target,
                previous: new,
                new: previous,
            },
            Self::QueueConcurrency {
                uuid,
                previous,
                new,
            } => Self::QueueConcurrency {
                uuid,
                previous: new,
                new: previous,
            },
            Self::Reservation {
                function,
                previous,
                new,
            } => Self::Reservation {
                function,
                previous: new,
                new: previous,
            },
        }
    }

    pub fn resource(&self) -> ResourceKey {
        match self {
            Self::Throttle { target, .. } => ResourceKey::Api(target.clone()),
            Self::QueueConcurrency { uuid, .. } => ResourceKey::Queue(uuid.clone()),
            Self::Reservation { function, .. } => ResourceKey::Function(function.clone()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Throttle {
                target,
                previous,
                new,
            } => {
                format!(
                    "{target}: {} → {}",
                    opt(previous, "no throttle"),
                    opt(new, "no throttle")
                )
            }
            Self::QueueConcurrency {
                uuid,
                previous,
                new,
            } => {
                format!(
                    "SQS mapping {uuid}: MaximumConcurrency {} → {}",
                    opt(previous, "none"),
                    opt(new, "none")
                )
            }
            Self::Reservation {
                function,
                previous,
                new,
            } => format!("function {function}: {previous} → {new}"),
        }
    }
}

fn opt<T: fmt::Display>(v: &Option<T>, none: &str) -> String {
    v.as_ref()
        .map_or_else(|| none.to_owned(), ToString::to_string)
}

/// The value a resource holds now, as read back for verification and restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Current {
    Throttle(Option<Throttle>),
    QueueConcurrency(Option<u32>),
    Reservation(Reservation),
}

impl fmt::Display for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Throttle(Some(t)) => t.fmt(f),
            Self::Throttle(None) => f.write_str("no throttle"),
            Self::QueueConcurrency(Some(n)) => write!(f, "MaximumConcurrency {n}"),
            Self::QueueConcurrency(None) => f.write_str("no maximum concurrency"),
            Self::Reservation(r) => r.fmt(f),
        }
    }
}

impl Change {
    pub fn applied_value(&self) -> Current {
        match self {
            Self::Throttle { new, .. } => Current::Throttle(*new),
            Self::QueueConcurrency { new, .. } => Current::QueueConcurrency(*new),
            Self::Reservation { new, .. } => Current::Reservation(*new),
        }
    }

    pub fn previous_value(&self) -> Current {
        self.inverse().applied_value()
    }
}

/// The escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Limit at the source: API stage throttles, SQS maximum concurrency.
    Source = 1,
    /// Cap the function's reserved concurrency.
    Reservation = 2,
    /// Reserved concurrency 0: nothing runs.
    KillSwitch = 3,
}

impl Tier {
    pub fn next(self) -> Option<Self> {
        match self {
            Self::Source => Some(Self::Reservation),
            Self::Reservation => Some(Self::KillSwitch),
            Self::KillSwitch => None,
        }
    }
}

/// One rendering everywhere a person reads it: the number the README's ladder uses, and the
/// word that says what it does.
impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Source => "source",
            Self::Reservation => "reservation",
            Self::KillSwitch => "kill switch",
        };
        write!(f, "tier {} ({what})", *self as u8)
    }
}

/// What became of an action or a restore step. Only ever reported, never read back: its reasons
/// are typed values serialised as their wording.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Status {
    /// Decided, not (yet) carried out: the final state of every action in a dry run.
    Planned,
    Applied,
    Skipped(Skip),
    Failed(Fault),
}

/// How a report shows a status to a person (a dry run adds its own mark to `PLANNED`).
impl Status {
    /// The status's name in reports and metric dimensions (`planned`, `applied`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Applied => "applied",
            Self::Skipped(_) => "skipped",
            Self::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Planned => f.write_str("PLANNED"),
            Self::Applied => f.write_str("APPLIED"),
            Self::Skipped(why) => write!(f, "SKIPPED: {why}"),
            Self::Failed(why) => write!(f, "FAILED: {why}"),
        }
    }
}

/// One step of a plan: a change on a resource, why, and what became of it. Its record is a
/// [`crate::record::RecordedAction`]; the action itself is only reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// The offender this action limits.
    pub function: String,
    pub tier: Tier,
    pub change: Change,
    /// The figures the change was computed from.
    pub rationale: Why,
    #[serde(flatten)]
    pub status: Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_swaps_and_round_trips() {
        let c = Change::Reservation {
            function: "f".into(),
            previous: Reservation::Unreserved,
            new: Reservation::Reserved(0),
        };
        assert_eq!(c.inverse().inverse(), c);
        assert_eq!(
            c.previous_value(),
            Current::Reservation(Reservation::Unreserved)
        );
        assert_ne!(
            c.previous_value(),
            c.applied_value(),
            "none and reserved 0 differ"
        );
    }

    #[test]
    fn tiers_and_statuses_render_once() {
        assert_eq!(Tier::Source.to_string(), "tier 1 (source)");
        assert_eq!(Tier::Reservation.to_string(), "tier 2 (reservation)");
        assert_eq!(Tier::KillSwitch.to_string(), "tier 3 (kill switch)");
        assert_eq!(Status::Planned.to_string(), "PLANNED");
        assert_eq!(Status::Applied.to_string(), "APPLIED");
        assert_eq!(
            Status::Failed(Fault::Unread(crate::audit::Unread::NotRead)).to_string(),
            "FAILED: not restored: could not read the current value (not read); the record is kept for the next pass"
        );
    }

    #[test]
    fn current_values_read_as_the_audit_shows_them() {
        let t = Throttle {
            rate: 3.33,
            burst: 4,
        };
        assert_eq!(
            Current::Throttle(Some(t)).to_string(),
            "3.33 req/s, burst 4"
        );
        assert_eq!(Current::Throttle(None).to_string(), "no throttle");
        assert_eq!(
            Current::QueueConcurrency(Some(5)).to_string(),
            "MaximumConcurrency 5"
        );
        assert_eq!(
            Current::QueueConcurrency(None).to_string(),
            "no maximum concurrency"
        );
        assert_eq!(
            Current::Reservation(Reservation::Reserved(0)).to_string(),
            "reserved 0"
        );
    }

    #[test]
    fn unreserved_minimum_is_derived_from_the_limit() {
        let a = |limit| AccountFacts {
            limit: Some(limit),
            unreserved: None,
        };
        assert_eq!(a(1000).unreserved_minimum(None), Some(100));
        assert_eq!(a(500).unreserved_minimum(None), Some(50));
        assert_eq!(a(100).unreserved_minimum(None), Some(10));
        assert_eq!(a(100).unreserved_minimum(Some(20)), Some(20));
        assert_eq!(AccountFacts::default().unreserved_minimum(None), None);
    }
}
