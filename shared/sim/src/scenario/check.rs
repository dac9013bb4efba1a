//! What TOML cannot say about a scenario: names that must exist or be unique, ranges AWS
//! enforces. Each problem names its field the way the file spells it.

use std::collections::BTreeSet;

use super::{Scenario, SourceSpec};
use crate::alarm::AlarmMetric;
use crate::change::MAXIMUM_CONCURRENCY_RANGE;
use crate::cloudwatch::MINUTE;

/// (field, problem)
type Problem = (String, String);

fn fail<T>(field: impl Into<String>, problem: impl Into<String>) -> Result<T, Problem> {
    Err((field.into(), problem.into()))
}

impl Scenario {
    pub(super) fn check(&self) -> Result<(), Problem> {
        if self.duration_s == 0 {
            return fail("duration_s", "must be at least 1 second");
        }
        if self.functions.is_empty() {
            return fail("functions", "a scenario needs at least one function");
        }
        self.check_functions()?;
        self.check_reservations()?;
        self.check_alarms()
    }

    fn check_functions(&self) -> Result<(), Problem> {
        let mut names = BTreeSet::new();
        let mut routes = BTreeSet::new();
        let mut consumed = BTreeSet::new();
        for (i, f) in self.functions.iter().enumerate() {
            let at = |field: &str| format!("functions[{i}] ({}).{field}", f.name);
            if !names.insert(f.name.as_str()) {
                return fail(at("name"), "another function has this name");
            }
            if !(f.duration_s.is_finite() && f.duration_s > 0.0) {
                return fail(at("duration_s"), "must be a positive number of seconds");
            }
            for (j, l) in f.load.iter().enumerate() {
                if !(l.jitter >= 0.0 && l.jitter <= 1.0) {
                    return fail(at(&format!("load[{j}].jitter")), "must be within 0-1");
                }
                if l.until_s.is_some_and(|u| u <= l.from_s) {
                    return fail(at(&format!("load[{j}].until_s")), "must be after from_s");
                }
            }
            if let Some(e) = &f.emits
                && !self.queues.iter().any(|q| q.name == e.queue)
            {
                return fail(at("emits.queue"), format!("no queue named {}", e.queue));
            }
            self.check_source(&f.source, &at, &mut routes, &mut consumed)?;
        }
        Ok(())
    }

    /// The source's stage or queue exists, one function per method and per queue, and the
    /// mapping's and async settings' ranges.
    fn check_source<'a>(
        &self,
        source: &'a SourceSpec,
        at: &dyn Fn(&str) -> String,
        routes: &mut BTreeSet<(&'a str, &'a str, &'a str, &'a str)>,
        consumed: &mut BTreeSet<&'a str>,
    ) -> Result<(), Problem> {
        match source {
            SourceSpec::Api {
                api,
                stage,
                method,
                path,
                ..
            } => {
                if !self
                    .stages
                    .iter()
                    .any(|s| &s.api == api && &s.stage == stage)
                {
                    return fail(at("source"), format!("no stage {stage} of api {api}"));
                }
                if !routes.insert((api, stage, method, path)) {
                    return fail(at("source"), "another function serves this method");
                }
            }
            SourceSpec::Queue {
                queue,
                batch_size,
                maximum_concurrency,
                ..
            } => {
                if !self.queues.iter().any(|q| &q.name == queue) {
                    return fail(at("source.queue"), format!("no queue named {queue}"));
                }
                if !consumed.insert(queue) {
                    return fail(at("source.queue"), "another function consumes it");
                }
                if *batch_size == 0 {
                    return fail(at("source.batch_size"), "must be at least 1");
                }
                if let Some(m) = maximum_concurrency
                    && !MAXIMUM_CONCURRENCY_RANGE.contains(m)
                {
                    return fail(at("source.maximum_concurrency"), "must be 2-1000");
                }
            }
            SourceSpec::Async {
                max_event_age_s: Some(age),
                ..
            } if !(60..=21_600).contains(age) => {
                return fail(at("source.max_event_age_s"), "must be 60-21600");
            }
            SourceSpec::Async { .. } | SourceSpec::Direct { .. } => {}
        }
        Ok(())
    }

    fn check_reservations(&self) -> Result<(), Problem> {
        let pool = &self.params.pool;
        let reserved: u64 = self
            .functions
            .iter()
            .filter_map(|f| f.reservation)
            .map(u64::from)
            .sum();
        let ceiling = u64::from(pool.account_limit.saturating_sub(pool.unreserved_minimum));
        if reserved > ceiling {
            return fail(
                "functions[].reservation",
                format!(
                    "{reserved} reserved in all leaves less than the unreserved minimum of {}",
                    pool.unreserved_minimum
                ),
            );
        }
        Ok(())
    }

    fn check_alarms(&self) -> Result<(), Problem> {
        for (i, a) in self.alarm_defs().iter().enumerate() {
            let at = |field: &str| format!("alarms[{i}] ({}).{field}", a.name);
            if a.period_s == 0 || a.period_s % MINUTE != 0 {
                return fail(at("period_s"), "AWS/Lambda metrics need a multiple of 60");
            }
            if a.evaluation_periods == 0 {
                return fail(at("evaluation_periods"), "must be at least 1");
            }
            if a.datapoints_to_alarm() == 0 || a.datapoints_to_alarm() > a.evaluation_periods {
                return fail(at("datapoints_to_alarm"), "must be 1..=evaluation_periods");
            }
            if let AlarmMetric::Function { function, .. } = &a.metric
                && !self.functions.iter().any(|f| &f.name == function)
            {
                return fail(at("metric.function"), format!("no function {function}"));
            }
        }
        Ok(())
    }
}
