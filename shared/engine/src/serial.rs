//! The change lock: one read-facts → plan → record → change sequence at a time in a process.
//!
//! Records are tags, which have no compare-and-set: two overlapping sequences on one function
//! would plan from the same stale facts and interleave their record tags. A
//! [`Guard`](crate::Guard) owns one lock, so every use-case it runs (remediation, escalation,
//! restore) takes the same one; across processes the deployment serialises instead (each function has a
//! reserved concurrency of 1).

use futures::lock::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub struct ChangeLock(Mutex<()>);

impl ChangeLock {
    /// Waits for the sequence in progress, if any, to finish.
    pub async fn hold(&self) -> MutexGuard<'_, ()> {
        self.0.lock().await
    }
}
