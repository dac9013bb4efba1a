//! Concurrency Guard's use-cases: the async sequences over the [`ports`], and nothing that
//! decides. Every decision is made by `cguard-core`; this crate reads what a decision needs,
//! hands it over, and carries the decision out in the one safe order (record, then change).
//!
//! - [`Guard`]: the ports, the policy and the [`ChangeLock`], built once at the edge;
//! - [`remediate`]: one request through observation → attribution → plan → record → change;
//! - [`audit`]: the auditor's pass — verify, decide, escalate or restore exactly;
//! - [`posture`]: the reads behind the production checklist, and its metric;
//! - [`run`]: the entry points the Lambdas and the CLI call: a batch of requests, one audit
//!   pass;
//! - [`backtest`]: past transitions into ALARM replayed through [`remediate`] as dry runs.

pub mod audit;
pub mod backtest;
pub mod memory;
pub mod ports;
pub mod posture;
pub mod remediate;
pub mod run;
mod serial;

use cguard_core::config::Policy;

pub use serial::ChangeLock;

/// What every use-case runs with: the ports, the policy, and the lock that serialises changes
/// in this process.
#[derive(Debug)]
pub struct Guard<P> {
    ports: P,
    policy: Policy,
    changes: ChangeLock,
}

impl<P> Guard<P> {
    pub fn new(ports: P, policy: Policy) -> Self {
        Self {
            ports,
            policy,
            changes: ChangeLock::default(),
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}
