//! `cguard backtest`: what the guard would have done at each past transition of its alarms into
//! ALARM, from the metrics as they were. Each transition is made the alarm-action event
//! CloudWatch sent (`cguard_core::backtest`), read by intake, and handed to the remediator's own
//! [`Guard::remediate`] — no second implementation of the decision to drift from the first —
//! with the policy forced to a dry run, over ports that refuse every write (`replay.rs`).

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use cguard_core::backtest::{
    self, AlarmTransition, Backtest, MAX_REPLAYS, NotReplayed, Replayed, Verdict,
};
use cguard_core::config::Policy;

use crate::Guard;
use crate::ports::{PortResult, Ports};

mod replay;

/// Replays run at once: each is a remediator's worth of reads, and the account's API limits
/// are shared with the guard itself.
const REPLAYS_AT_ONCE: usize = 4;

impl<P: Ports> Guard<P> {
    /// Replays the newest [`MAX_REPLAYS`] transitions into ALARM, between `since` and `now`, of
    /// the alarms whose names start with `alarm_prefix`. Changes nothing, whatever the policy.
    /// An error only when the transitions themselves cannot be read; a replay whose reads fail
    /// says so in its report ([`Backtest::failed`]).
    pub async fn backtest(
        &self,
        alarm_prefix: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> PortResult<Backtest> {
        let found = self
            .ports
            .alarm_transitions(alarm_prefix, since, now)
            .await?;
        let transitions = found.len();
        let (newest, not_examined) = backtest::newest_first(found, MAX_REPLAYS);
        let replayer = Guard::new(
            replay::ReadOnly(&self.ports),
            Policy {
                dry_run: true,
                ..self.policy.clone()
            },
        );
        let rows = stream::iter(&newest)
            .map(|t| replayer.replay(t, now))
            .buffered(REPLAYS_AT_ONCE)
            .collect()
            .await;
        Ok(Backtest {
            alarm_prefix: alarm_prefix.to_owned(),
            since,
            until: now,
            transitions,
            rows,
            not_examined,
        })
    }

    /// One transition through intake and the remediator, as of the transition: the metrics
    /// window ends at it, and CloudWatch's confirmation is judged as it stood then.
    async fn replay(&self, transition: &AlarmTransition, now: DateTime<Utc>) -> Replayed {
        let verdict =
            if let Some(why) = backtest::expired(transition.at, now, self.policy.window_minutes) {
                Verdict::NotReplayed(why)
            } else {
                match transition.request() {
                    Ok(request) => {
                        Verdict::Replayed(Box::new(self.remediate(&request, transition.at).await))
                    }
                    Err(e) => Verdict::NotReplayed(NotReplayed::Refused(e.to_string())),
                }
            };
        Replayed::new(transition, verdict)
    }
}
