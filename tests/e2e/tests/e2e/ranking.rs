//! Issue 10: a ranking that cannot silently miss, against moto's own answer to Metrics Insights.
//!
//! The stand-in's proxy normally evaluates the guard's Insights query over moto's datapoints, as
//! CloudWatch would. Here every CloudWatch request carries `x-standin-insights: moto`, so the
//! query gets moto's own answer — one series summing every function, labelled with the query's
//! id — the answer that once made the default path say "no offender". The guard must not
//! believe it: it falls back to the batched `GetMetricData` path in the same invocation, says
//! so, and still finds the offender.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{Duration, Utc};

use cguard_core::config::Policy;
use cguard_core::intake::parse_event;
use cguard_core::model::{Status, Tier};
use cguard_core::ranking::{Fallback, RankedBy};
use cguard_core::report::Outcome;
use cguard_e2e::{ClassicIncident, Lab, event_at};
use cguard_engine::Guard;

/// Asks the stand-in's proxy for moto's own answer to a Metrics Insights query.
#[derive(Debug, Clone)]
struct MotosOwnInsights;

impl Intercept for MotosOwnInsights {
    fn name(&self) -> &'static str {
        "moto's own Metrics Insights answer"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-standin-insights", "moto");
        Ok(())
    }
}

#[tokio::test]
async fn moto_s_ungrouped_insights_answer_is_not_believed_and_the_fallback_finds_the_offender() {
    // GIVEN the classic incident, and a stand-in answering Insights as moto does
    let lab = Lab::new("ap-east-1").await.unwrap();
    let incident = ClassicIncident::seed(&lab, Utc::now() - Duration::seconds(30))
        .await
        .unwrap();
    let event = event_at("sns-account-concurrency.json", incident.at, &lab.region).unwrap();
    let aws = cguard_aws::Aws::new(&lab.config)
        .with_metrics_insights(true)
        .with_interceptor(MotosOwnInsights);
    let policy = Policy {
        dry_run: true,
        ..Policy::default()
    };

    // WHEN the remediator plans for the account alarm, Insights on (the default)
    let request = parse_event(&event).unwrap().remove(0);
    let report = Guard::new(aws, policy)
        .remediate(&request, Utc::now())
        .await;

    // THEN the ungrouped answer is named as the reason the batched path ranked...
    assert_eq!(
        report.ranked_by,
        Some(RankedBy::Batched(Fallback::Ungrouped {
            label: "insights".into()
        })),
        "{report}"
    );
    // ...which finds the 30-second function by its figures and plans the same two changes
    assert_eq!(report.outcome, Outcome::DryRun, "{report}");
    assert_eq!(report.ranking[0].function, incident.offender);
    assert_eq!(report.ranking[0].peak_concurrency, Some(600.0));
    let planned: Vec<_> = report
        .actions
        .iter()
        .filter(|a| a.status == Status::Planned && a.function == incident.offender)
        .map(|a| a.tier)
        .collect();
    assert_eq!(planned, [Tier::Source, Tier::Reservation], "{report}");
    // and a dry run changes nothing
    assert_eq!(lab.reservation(incident.offender).await.unwrap(), None);
}
