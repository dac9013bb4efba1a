//! The reads behind the production checklist, each part independently (a failed read is an
//! "unknown" finding, never a silent pass), and the one write: the `PostureFindings` metric.

use cguard_core::config::Policy;
use cguard_core::model::TAG_PROTECTED;
use cguard_core::observation::Window;
use cguard_core::posture::{
    BUSY_WINDOW_MINUTES, Busy, METRIC_NAME, PostureFacts, PostureReport, PostureSettings, assess,
    busy_candidates,
};
use chrono::{DateTime, Utc};

use crate::Guard;
use crate::ports::{ErrorKind, Failure, PortError, PortResult, Ports, Posture};

/// Reads everything the checks need, each part independently.
pub async fn gather<A: Ports + Posture>(
    aws: &A,
    policy: &Policy,
    settings: &PostureSettings,
    now: DateTime<Utc>,
) -> PostureFacts {
    let busy = async {
        let window = Window::before(now, BUSY_WINDOW_MINUTES);
        let active = aws.active_functions(window.start).await?;
        let peaks = aws.peaks(&active, &window).await?;
        let mut busy = Vec::new();
        for (function, peak) in busy_candidates(&peaks, policy) {
            let reservation = aws
                .function_reservation(&function)
                .await
                .map_err(Failure::from);
            busy.push(Busy {
                function,
                peak,
                reservation,
            });
        }
        Ok::<_, PortError>(busy)
    };
    let remediator = async {
        match &settings.remediator_function {
            Some(r) => Some(match aws.function_reservation(r).await {
                Ok(reservation) => Ok(Some(reservation)),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Failure::from(e)),
            }),
            None => None,
        }
    };
    let (account, busy, queues, stages, remediator, alarms, protected) = futures::join!(
        aws.account(),
        busy,
        aws.queue_mappings(),
        aws.rest_stages(),
        remediator,
        aws.alarms(),
        aws.tagged_functions(TAG_PROTECTED),
    );
    PostureFacts {
        account: account.map_err(Failure::from),
        busy: busy.map_err(Failure::from),
        queues: queues.map_err(Failure::from),
        stages: stages.map_err(Failure::from),
        remediator,
        alarms: alarms.map_err(Failure::from),
        protected: protected.map_err(Failure::from),
    }
}

impl<P: Ports + Posture> Guard<P> {
    /// Reads and checks.
    pub async fn posture(&self, settings: &PostureSettings, now: DateTime<Utc>) -> PostureReport {
        let facts = gather(&self.ports, &self.policy, settings, now).await;
        assess(&facts, &self.policy, settings, now)
    }

    /// Publishes the finding count as `PostureFindings` in the configured namespace.
    pub async fn publish(
        &self,
        settings: &PostureSettings,
        report: &PostureReport,
    ) -> PortResult<()> {
        self.ports
            .put_metric(
                &settings.metrics_namespace,
                METRIC_NAME,
                report.findings.len() as f64,
                report.at,
            )
            .await
    }
}
