//! The settings, read once at the edge (environment variables) into one [`Settings`] value,
//! validated before any event is handled: a bad setting stops the function at start-up with its
//! name, never mid-incident. Every boolean has one syntax (`true/false/1/0/yes/no`).

use std::collections::BTreeSet;

use chrono::Duration;
use serde::Serialize;

use crate::intake::canonical_function_name;
use crate::posture::PostureSettings;

/// Everything the functions and the CLI read from their environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub policy: Policy,
    /// Where the guard is wired (remediator, alarm topic) and the metrics namespace.
    pub posture: PostureSettings,
    /// `CGUARD_REPORT_TOPIC_ARN`: the SNS topic for human-readable summaries.
    pub report_topic_arn: Option<String>,
    /// `CGUARD_METRICS_INSIGHTS` (default true): rank with one Metrics Insights query before
    /// falling back to batched `GetMetricData`.
    pub metrics_insights: bool,
    /// `CGUARD_LEDGER_TABLE` (default [`DEFAULT_LEDGER_TABLE`]): the guard's DynamoDB ledger.
    pub ledger_table: String,
}

/// The ledger table's name where the template's parameter and `cguard init` are left alone.
pub const DEFAULT_LEDGER_TABLE: &str = "concurrency-guard-ledger";

/// DynamoDB's table-name rule: 3–255 of `a-z A-Z 0-9 _ . -`.
fn table_name(value: Option<String>) -> Result<String, ConfigError> {
    let Some(name) = value else {
        return Ok(DEFAULT_LEDGER_TABLE.to_owned());
    };
    let valid = (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        Ok(name)
    } else {
        Err(ConfigError {
            name: "CGUARD_LEDGER_TABLE",
            value: name,
            problem: "a DynamoDB table name: 3 to 255 of letters, digits, '_', '.', '-'",
        })
    }
}

impl Settings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&get);
        Ok(Self {
            policy: Policy::from_lookup(&get)?,
            posture: PostureSettings::from_lookup(&get),
            report_topic_arn: vars.text("CGUARD_REPORT_TOPIC_ARN"),
            metrics_insights: vars.bool("CGUARD_METRICS_INSIGHTS", true)?,
            ledger_table: table_name(vars.text("CGUARD_LEDGER_TABLE"))?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// `CGUARD_METRICS_NAMESPACE`, default `ConcurrencyGuard`: EMF lines and `PostureFindings`.
    pub fn metrics_namespace(&self) -> &str {
        &self.posture.metrics_namespace
    }
}

/// Every knob the remediator and auditor obey. Defaults are documented in the README.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// Plan and report only; never change anything (`CGUARD_DRY_RUN`).
    pub dry_run: bool,
    /// Concurrency an offender is limited to (`CGUARD_TARGET_CONCURRENCY`, default 100).
    pub target_concurrency: u32,
    /// Reserved concurrency 0 allowed for every function (`CGUARD_KILL_SWITCH_ALLOWED`, default
    /// false); otherwise only for functions tagged `concurrency-guard:kill-switch=allowed`.
    pub kill_switch_allowed: bool,
    /// Account utilisation (peak ÷ limit) at or above which an incident is an emergency
    /// (`CGUARD_EMERGENCY_UTILIZATION`, default 0.95).
    pub emergency_utilization: f64,
    /// Most changes one incident may make (`CGUARD_MAX_ACTIONS`, default 10).
    pub max_actions: usize,
    /// Most functions one incident may limit (`CGUARD_MAX_OFFENDERS`, default 3).
    pub max_offenders: usize,
    /// Share of the account's peak a function must hold to be an offender
    /// (`CGUARD_OFFENDER_SHARE`, default 0.2).
    pub offender_share: f64,
    /// Minutes of metrics before the alarm that attribution reads (`CGUARD_WINDOW_MINUTES`, default 10).
    pub window_minutes: u32,
    /// Never touched, in addition to functions tagged `concurrency-guard:protected=true`
    /// (`CGUARD_PROTECTED_FUNCTIONS`, comma-separated).
    pub protected_functions: BTreeSet<String>,
    /// The guard's own functions (`CGUARD_GUARD_FUNCTIONS`, plus `AWS_LAMBDA_FUNCTION_NAME`).
    pub guard_functions: BTreeSet<String>,
    /// Unreserved concurrency AWS must keep (`CGUARD_UNRESERVED_MINIMUM`); unset means derived
    /// from the account limit: min(100, limit ÷ 10).
    pub unreserved_minimum: Option<u32>,
    /// Minutes after an action before the auditor escalates (`CGUARD_GRACE_MINUTES`, default 10).
    pub grace_minutes: u32,
    /// Minutes of healthy metrics before the auditor restores (`CGUARD_COOLDOWN_MINUTES`, default 30).
    pub cooldown_minutes: u32,
    /// Days a closed record stays in the ledger's history (`CGUARD_HISTORY_DAYS`, default 90).
    pub history_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            dry_run: false,
            target_concurrency: 100,
            kill_switch_allowed: false,
            emergency_utilization: 0.95,
            max_actions: 10,
            max_offenders: 3,
            offender_share: 0.2,
            window_minutes: 10,
            protected_functions: BTreeSet::new(),
            guard_functions: BTreeSet::new(),
            unreserved_minimum: None,
            grace_minutes: 10,
            cooldown_minutes: 30,
            history_days: 90,
        }
    }
}

/// A setting that cannot be used, named so the operator can fix it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid setting {name}={value:?}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub problem: &'static str,
}

impl Policy {
    /// Reads the policy from a variable lookup (`std::env::var` in production, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let vars = Vars(&get);
        let mut guard_functions = vars.functions("CGUARD_GUARD_FUNCTIONS")?;
        if let Some(me) = vars.text("AWS_LAMBDA_FUNCTION_NAME") {
            guard_functions.insert(me);
        }
        Ok(Self {
            dry_run: vars.bool("CGUARD_DRY_RUN", d.dry_run)?,
            target_concurrency: vars.num(
                "CGUARD_TARGET_CONCURRENCY",
                d.target_concurrency,
                1..=10_000,
            )?,
            kill_switch_allowed: vars.bool("CGUARD_KILL_SWITCH_ALLOWED", d.kill_switch_allowed)?,
            emergency_utilization: vars
                .fraction("CGUARD_EMERGENCY_UTILIZATION", d.emergency_utilization)?,
            max_actions: vars.num("CGUARD_MAX_ACTIONS", d.max_actions as u32, 1..=100)? as usize,
            max_offenders: vars.num("CGUARD_MAX_OFFENDERS", d.max_offenders as u32, 1..=20)?
                as usize,
            offender_share: vars.fraction("CGUARD_OFFENDER_SHARE", d.offender_share)?,
            window_minutes: vars.num("CGUARD_WINDOW_MINUTES", d.window_minutes, 1..=180)?,
            protected_functions: vars.functions("CGUARD_PROTECTED_FUNCTIONS")?,
            guard_functions,
            unreserved_minimum: vars
                .text("CGUARD_UNRESERVED_MINIMUM")
                .map(|v| parse_num("CGUARD_UNRESERVED_MINIMUM", Some(v), 0, 0..=100_000))
                .transpose()?,
            grace_minutes: vars.num("CGUARD_GRACE_MINUTES", d.grace_minutes, 1..=1440)?,
            cooldown_minutes: vars.num(
                "CGUARD_COOLDOWN_MINUTES",
                d.cooldown_minutes,
                1..=10_080,
            )?,
            history_days: vars.num("CGUARD_HISTORY_DAYS", d.history_days, 1..=3650)?,
        })
    }

    pub fn grace(&self) -> Duration {
        Duration::minutes(i64::from(self.grace_minutes))
    }

    pub fn cooldown(&self) -> Duration {
        Duration::minutes(i64::from(self.cooldown_minutes))
    }
}

/// The process's variables, each read by its name once: trimmed, an empty value as unset.
struct Vars<G>(G);

impl<G: Fn(&str) -> Option<String>> Vars<G> {
    fn text(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        parse_bool(name, self.text(name), default)
    }

    fn num(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        parse_num(name, self.text(name), default, range)
    }

    fn fraction(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        parse_fraction(name, self.text(name), default)
    }

    fn functions(&self, name: &'static str) -> Result<BTreeSet<String>, ConfigError> {
        functions(name, self.text(name))
    }
}

/// A comma-separated list of functions, each by name or ARN, as canonical names: the lists
/// are compared with names, so an ARN here must not slip past them.
fn functions(name: &'static str, v: Option<String>) -> Result<BTreeSet<String>, ConfigError> {
    v.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|f| {
            canonical_function_name(f).ok_or_else(|| ConfigError {
                name,
                value: f.to_owned(),
                problem: "names no Lambda function (a name, name:qualifier or function ARN)",
            })
        })
        .collect()
}

fn parse_bool(name: &'static str, v: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(ConfigError {
            name,
            value: v.unwrap_or_default(),
            problem: "expected true or false",
        }),
    }
}

fn parse_num(
    name: &'static str,
    v: Option<String>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(v) = v else { return Ok(default) };
    match v.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        Ok(_) => Err(ConfigError {
            name,
            value: v,
            problem: "out of range",
        }),
        Err(_) => Err(ConfigError {
            name,
            value: v,
            problem: "expected a whole number",
        }),
    }
}

fn parse_fraction(name: &'static str, v: Option<String>, default: f64) -> Result<f64, ConfigError> {
    let Some(v) = v else { return Ok(default) };
    match v.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(ConfigError {
            name,
            value: v,
            problem: "expected a fraction in (0, 1]",
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_boolean_syntax_for_every_switch() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let s = super::Settings::from_lookup(env(&[
            ("CGUARD_DRY_RUN", "1"),
            ("CGUARD_METRICS_INSIGHTS", "0"),
        ]))
        .unwrap();
        assert!(s.policy.dry_run && !s.metrics_insights);
        let s = super::Settings::from_lookup(env(&[("CGUARD_METRICS_INSIGHTS", "YES")])).unwrap();
        assert!(s.metrics_insights);
        let e =
            super::Settings::from_lookup(env(&[("CGUARD_METRICS_INSIGHTS", "maybe")])).unwrap_err();
        assert_eq!(e.name, "CGUARD_METRICS_INSIGHTS");
    }

    #[test]
    fn protected_and_guard_lists_hold_canonical_names() {
        let p = super::Policy::from_lookup(|k| match k {
            "CGUARD_PROTECTED_FUNCTIONS" => {
                Some("payments, arn:aws:lambda:us-east-1:123456789012:function:billing:live".into())
            }
            "CGUARD_GUARD_FUNCTIONS" => Some("123456789012:function:cg-auditor".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            p.protected_functions.iter().collect::<Vec<_>>(),
            ["billing", "payments"]
        );
        assert!(p.guard_functions.contains("cg-auditor"));
        let e = super::Policy::from_lookup(|k| {
            (k == "CGUARD_PROTECTED_FUNCTIONS").then(|| "ok,not a function".into())
        })
        .unwrap_err();
        assert_eq!(
            (e.name, e.value.as_str()),
            ("CGUARD_PROTECTED_FUNCTIONS", "not a function")
        );
    }

    #[test]
    fn defaults_name_the_namespace_once_and_switch_insights_on() {
        let s = super::Settings::from_lookup(|_| None).unwrap();
        assert_eq!(s.metrics_namespace(), "ConcurrencyGuard");
        assert!(s.metrics_insights);
        assert_eq!(s.report_topic_arn, None);
    }

    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Policy, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Policy::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(from(&[]).unwrap(), Policy::default());
    }

    #[test]
    fn settings_are_read_and_lists_trimmed() {
        let p = from(&[
            ("CGUARD_DRY_RUN", "TRUE"),
            ("CGUARD_TARGET_CONCURRENCY", "50"),
            ("CGUARD_PROTECTED_FUNCTIONS", " payments , ,auth "),
            ("CGUARD_GUARD_FUNCTIONS", "cg-auditor"),
            ("AWS_LAMBDA_FUNCTION_NAME", "cg-remediator"),
            ("CGUARD_UNRESERVED_MINIMUM", "50"),
        ])
        .unwrap();
        assert!(p.dry_run);
        assert_eq!(p.target_concurrency, 50);
        assert_eq!(
            p.protected_functions,
            ["auth".to_string(), "payments".into()].into()
        );
        assert_eq!(
            p.guard_functions,
            ["cg-auditor".to_string(), "cg-remediator".into()].into()
        );
        assert_eq!(p.unreserved_minimum, Some(50));
    }

    #[test]
    fn a_bad_setting_is_named() {
        for (k, v) in [
            ("CGUARD_DRY_RUN", "maybe"),
            ("CGUARD_TARGET_CONCURRENCY", "0"),
            ("CGUARD_TARGET_CONCURRENCY", "ten"),
            ("CGUARD_EMERGENCY_UTILIZATION", "1.5"),
            ("CGUARD_MAX_ACTIONS", "-1"),
            ("CGUARD_COOLDOWN_MINUTES", "0"),
        ] {
            let err = from(&[(k, v)]).unwrap_err();
            assert_eq!(err.name, k);
            assert!(err.to_string().contains(k), "{err}");
        }
    }
}
