//! Counting calls: the SDK interceptor every client of the bench carries ([`Calls`]), which
//! counts operations by `service:operation` and keeps their timeline; the clients built with it
//! (the guard's adapters, and the hunt's Lambda and CloudWatch clients); and the totals and
//! breakdowns the modes print from its counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Counts SDK operations by `service:operation`, read from the operation's [`Metadata`] in the
/// config bag once per operation, and keeps their timeline. The hook is
/// `read_before_serialization`, not `read_before_execution`: a client-level interceptor's
/// `read_before_execution` runs before the operation's runtime plugin has stored its `Metadata`.
/// Both run once per operation, before the retry loop, so a retried call counts once; each page
/// of a paginator is its own operation and counts. A call's span runs from there to
/// `read_after_execution` (its last attempt answered, or it failed).
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<Mutex<CallLog>>);

#[derive(Debug)]
struct CallLog {
    origin: Instant,
    counts: BTreeMap<String, u64>,
    spans: Vec<Span>,
}

impl Default for CallLog {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            counts: BTreeMap::new(),
            spans: Vec::new(),
        }
    }
}

/// One call: `service:operation`, and when it started and ended, from the log's origin.
#[derive(Debug, Clone)]
pub struct Span {
    pub op: String,
    pub start: Duration,
    pub end: Option<Duration>,
}

/// Which span an operation is, kept in its own config bag between the two hooks.
#[derive(Debug, Clone, Copy)]
struct SpanIndex(usize);

impl Storable for SpanIndex {
    type Storer = StoreReplace<Self>;
}

impl Calls {
    /// The counts and timeline so far; starts again from zero, the origin now.
    pub fn take(&self) -> (BTreeMap<String, u64>, Vec<Span>) {
        let log = std::mem::take(&mut *self.0.lock().expect("counter lock"));
        (log.counts, log.spans)
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "scale call counter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = cfg.load::<Metadata>().map_or_else(
            || "unknown:unknown".to_owned(),
            |m| format!("{}:{}", m.service(), m.name()),
        );
        let index = {
            let mut log = self.0.lock().expect("counter lock");
            *log.counts.entry(key.clone()).or_default() += 1;
            let start = log.origin.elapsed();
            log.spans.push(Span {
                op: key,
                start,
                end: None,
            });
            log.spans.len() - 1
        };
        cfg.interceptor_state().store_put(SpanIndex(index));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(SpanIndex(i)) = cfg.load::<SpanIndex>().copied() {
            let mut log = self.0.lock().expect("counter lock");
            let end = log.origin.elapsed();
            // A span from before the last `take` is gone; its index may now be another's.
            if let Some(span) = log
                .spans
                .get_mut(i)
                .filter(|s| s.end.is_none() && s.start <= end)
            {
                span.end = Some(end);
            }
        }
        Ok(())
    }
}

/// The guard's adapters exactly as `cguard_aws::Aws::new` builds them, Metrics Insights `on`
/// (as deployed; the stand-in's proxy answers the query) or off (the batched `GetMetricData`
/// path, the one whose cost depends on the number of functions), each client with the counter
/// added.
pub fn counted_guard(config: &SdkConfig, calls: &Calls, insights: bool) -> cguard_aws::Aws {
    cguard_aws::Aws::new(config)
        .with_metrics_insights(insights)
        .with_interceptor(calls.clone())
}

pub fn counted_lambda(config: &SdkConfig, calls: &Calls) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(config)
            .interceptor(calls.clone())
            .build(),
    )
}

pub fn counted_cloudwatch(config: &SdkConfig, calls: &Calls) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(config)
            .interceptor(calls.clone())
            .build(),
    )
}

pub fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

/// CloudWatch calls spent ranking: every CloudWatch call but the confirmation's, which are one
/// `DescribeAlarms` and one `GetMetricData` per alarm (`cguard_core::confirm`) whatever N.
pub fn cloudwatch_calls(calls: &BTreeMap<String, u64>) -> u64 {
    let all: u64 = calls
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("cloudwatch:"))
        .map(|(_, v)| v)
        .sum();
    let confirmations = calls
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cloudwatch:DescribeAlarms"))
        .map(|(_, v)| v)
        .sum::<u64>();
    all - 2 * confirmations
}

pub fn breakdown(calls: &BTreeMap<String, u64>) -> String {
    calls
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
