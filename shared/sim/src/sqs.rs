//! An SQS standard queue and the event source mapping that drains it (SIM-FACTS §2).
//!
//! Messages are counted by how often they were received. The mapping's pollers receive
//! batches up to its concurrency (5 at first, +300 a minute while a backlog waits, at most
//! 1,250) — it "doesn't account for reserved concurrency" — and invoke synchronously. A
//! throttled batch is retried by the mapping until its visibility timeout ends; then its
//! messages are visible again with their receive count raised, and a message received more
//! than `maxReceiveCount` times goes to the DLQ. With `MaximumConcurrency` the pollers stop at
//! it instead ("stop reading … until an invocation finishes"): nothing is over-received.

use std::collections::VecDeque;

use crate::Second;
use crate::params::SqsParams;
use crate::share::proportional;

/// Batches the pollers hold and retry after Lambda throttled them.
#[derive(Debug, Clone)]
struct Held {
    /// When the visibility timeout makes its messages visible again.
    deadline: Second,
    batches: u64,
    /// Messages by receive count (already raised by the receive).
    messages: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub visibility_timeout_s: Second,
    /// The redrive policy's `maxReceiveCount`; `None`: no DLQ.
    pub max_receive_count: Option<u32>,
    /// Visible messages by how often they were received.
    visible: Vec<u64>,
    held: VecDeque<Held>,
    pub mapping: Option<Mapping>,
}

/// The event source mapping's own state.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub uuid: String,
    pub function: usize,
    pub batch_size: u32,
    /// `ScalingConfig.MaximumConcurrency` as configured and as the pollers obey it.
    pub configured_maximum: Option<u32>,
    pub effective_maximum: Option<u32>,
    /// Concurrent invokes the pollers currently aim for.
    concurrency: f64,
}

/// What the mapping offers Lambda this second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offer {
    /// Invocations (batches) tried: held retries first, then new receives.
    pub batches: u64,
    /// Messages moved to the DLQ by this second's receives.
    pub to_dlq: u64,
}

impl Queue {
    pub fn new(name: String, visibility_timeout_s: Second, max_receive_count: Option<u32>) -> Self {
        let buckets = max_receive_count.map_or(1, |m| m as usize + 1);
        Self {
            name,
            visibility_timeout_s,
            max_receive_count,
            visible: vec![0; buckets],
            held: VecDeque::new(),
            mapping: None,
        }
    }

    pub fn attach(&mut self, mapping: Mapping) {
        self.mapping = Some(mapping);
    }

    pub fn send(&mut self, messages: u64) {
        self.visible[0] += messages;
    }

    /// Visible messages plus those held by the pollers (`ApproximateNumberOfMessagesVisible`
    /// + the not-yet-invoked part of `…NotVisible`).
    pub fn depth(&self) -> u64 {
        self.visible.iter().sum::<u64>() + self.held.iter().flat_map(|h| &h.messages).sum::<u64>()
    }

    /// Expires held batches, receives new ones up to the mapping's concurrency given the
    /// function's `in_flight` invocations, and returns what the pollers try to invoke.
    pub fn offer(&mut self, t: Second, in_flight: u64) -> Offer {
        self.expire_held(t);
        let Some(mapping) = &self.mapping else {
            return Offer::default();
        };
        let held: u64 = self.held.iter().map(|h| h.batches).sum();
        let free = mapping.ceiling().saturating_sub(in_flight + held);
        let batch = u64::from(mapping.batch_size.max(1));
        let visible: u64 = self.visible.iter().sum();
        let receive = visible.min(free * batch);
        if receive == 0 {
            return Offer {
                batches: held,
                to_dlq: 0,
            };
        }
        let mut taken = Vec::new();
        proportional(&self.visible, receive, &mut taken);
        let mut messages = vec![0; self.visible.len()];
        let mut to_dlq = 0;
        let last = self.visible.len() - 1;
        for (count, &n) in taken.iter().enumerate() {
            self.visible[count] -= n;
            if self.max_receive_count.is_some() && count == last {
                // Received more than maxReceiveCount times: SQS redrives it instead.
                to_dlq += n;
            } else {
                messages[(count + 1).min(last)] += n;
            }
        }
        let delivered: u64 = messages.iter().sum();
        let batches = delivered.div_ceil(batch);
        if batches > 0 {
            self.held.push_back(Held {
                deadline: t + self.visibility_timeout_s,
                batches,
                messages,
            });
        }
        Offer {
            batches: held + batches,
            to_dlq,
        }
    }

    /// Lambda admitted `admitted` of the batches offered (oldest first): their messages are
    /// processed; the rest stay held. Returns the messages processed.
    pub fn settle(&mut self, offered: u64, admitted: u64, params: &SqsParams) -> u64 {
        let mut left = admitted;
        let mut processed = 0;
        while left > 0 {
            let Some(front) = self.held.front_mut() else {
                break;
            };
            if front.batches <= left {
                left -= front.batches;
                processed += front.messages.iter().sum::<u64>();
                self.held.pop_front();
            } else {
                // Part of a group: its messages go in proportion to its batches.
                let total: u64 = front.messages.iter().sum();
                let share = (total * left).div_ceil(front.batches).min(total);
                let mut out = Vec::new();
                proportional(&front.messages, share, &mut out);
                for (m, o) in front.messages.iter_mut().zip(&out) {
                    *m -= o;
                }
                front.batches -= left;
                processed += share;
                left = 0;
            }
        }
        let throttled = offered > admitted;
        let backlog = self.visible.iter().sum::<u64>() > 0;
        if let Some(m) = &mut self.mapping {
            m.adapt(throttled, backlog, params);
        }
        processed
    }

    fn expire_held(&mut self, t: Second) {
        while self.held.front().is_some_and(|h| h.deadline <= t) {
            if let Some(h) = self.held.pop_front() {
                for (v, m) in self.visible.iter_mut().zip(&h.messages) {
                    *v += m;
                }
            }
        }
    }
}

impl Mapping {
    pub fn new(
        uuid: String,
        function: usize,
        batch_size: u32,
        maximum: Option<u32>,
        params: &SqsParams,
    ) -> Self {
        Self {
            uuid,
            function,
            batch_size,
            configured_maximum: maximum,
            effective_maximum: maximum,
            concurrency: f64::from(params.initial_concurrency),
        }
    }

    /// Invokes the pollers run at once now.
    pub fn ceiling(&self) -> u64 {
        let aim = self.concurrency.floor() as u64;
        self.effective_maximum
            .map_or(aim, |m| aim.min(u64::from(m)))
    }

    /// Ramps up while a backlog waits and nothing is throttled (never past its own maximum,
    /// so removing `MaximumConcurrency` does not release a jump); backs off on throttles and
    /// scales back when the pollers keep up, never below the back-off floor.
    fn adapt(&mut self, throttled: bool, backlog: bool, params: &SqsParams) {
        let floor = f64::from(params.backoff_floor);
        let top = f64::from(
            self.effective_maximum
                .map_or(params.maximum_concurrency, |m| {
                    m.min(params.maximum_concurrency)
                }),
        );
        let aim = if throttled || !backlog {
            self.concurrency - params.backoff_per_s
        } else {
            self.concurrency + f64::from(params.added_per_minute) / 60.0
        };
        self.concurrency = aim.min(top).max(floor);
    }
}
