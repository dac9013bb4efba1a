//! Reading an interceptor's timeline of AWS calls: which calls waited for which.

use crate::calls::Span;

/// The longest chain of calls in `spans` each of which started after the previous one ended:
/// calls that overlap were in flight together and count once. Returns the chain's indices.
/// Among equally long chains, each call's predecessor is the one that ended last before it
/// started — the call it most likely waited for (a read that ran alongside and ended early,
/// like `GetAccountSettings` next to the ranking query, is not shown as the one waited for).
pub fn longest_chain(spans: &[Span]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].end.is_some())
        .collect();
    order.sort_by_key(|&i| spans[i].start);
    // For each span (in `order`): the longest chain ending with it, and its predecessor.
    let mut best: Vec<(usize, Option<usize>)> = Vec::with_capacity(order.len());
    for (k, &i) in order.iter().enumerate() {
        let mut here = (1, None);
        for (j_pos, &j) in order[..k].iter().enumerate() {
            let Some(end) = spans[j].end.filter(|e| *e <= spans[i].start) else {
                continue;
            };
            let later = here
                .1
                .is_none_or(|p: usize| spans[order[p]].end < Some(end));
            let len = best[j_pos].0 + 1;
            if len > here.0 || (len == here.0 && later) {
                here = (len, Some(j_pos));
            }
        }
        best.push(here);
    }
    // The longest chain ending last.
    let Some(mut at) = (0..best.len()).max_by_key(|&k| (best[k].0, spans[order[k]].end)) else {
        return Vec::new();
    };
    let mut chain = vec![order[at]];
    while let Some(prev) = best[at].1 {
        chain.push(order[prev]);
        at = prev;
    }
    chain.reverse();
    chain
}

/// The chain the last call waited on: from the call that ended last, back through each call's
/// predecessor — the call that ended last before it started, the one it was waiting for. This is
/// the critical path, what the event's wall time is made of. [`longest_chain`] can be longer:
/// it also strings together calls that merely happened one after another, such as the
/// confirmation's two calls (`DescribeAlarms` → `GetMetricData`) running beside the one
/// Insights query and, now and then, ending before it.
pub fn critical_path(spans: &[Span]) -> Vec<usize> {
    let ended: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].end.is_some())
        .collect();
    let Some(mut at) = ended.iter().copied().max_by_key(|&i| spans[i].end) else {
        return Vec::new();
    };
    let mut chain = vec![at];
    while let Some(prev) = ended
        .iter()
        .copied()
        .filter(|&j| spans[j].end.is_some_and(|e| e <= spans[at].start))
        .max_by_key(|&j| spans[j].end)
    {
        chain.push(prev);
        at = prev;
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn span(op: &str, start: u64, end: u64) -> Span {
        Span {
            op: op.to_owned(),
            start: Duration::from_millis(start),
            end: Some(Duration::from_millis(end)),
        }
    }

    fn ops(spans: &[Span], chain: &[usize]) -> Vec<String> {
        chain.iter().map(|&i| spans[i].op.clone()).collect()
    }

    /// The confirmation's two calls run beside the one Insights query and end before it: they
    /// make a longer chain of calls one after another, but the next call waited on the query.
    #[test]
    fn the_critical_path_follows_what_each_call_waited_on() {
        let spans = [
            span("DescribeAlarms", 0, 10),
            span("Insights", 1, 60),
            span("Confirm", 11, 50),
            span("Candidates", 61, 90),
            span("Put", 91, 120),
        ];
        assert_eq!(
            ops(&spans, &critical_path(&spans)),
            ["Insights", "Candidates", "Put"]
        );
        assert_eq!(
            ops(&spans, &longest_chain(&spans)),
            ["DescribeAlarms", "Confirm", "Candidates", "Put"]
        );
    }

    #[test]
    fn calls_in_flight_together_count_once() {
        let spans = [
            span("Record", 0, 10),
            span("Throttle", 11, 40),
            span("Pointer", 12, 45),
            span("Record", 46, 50),
        ];
        assert_eq!(
            ops(&spans, &critical_path(&spans)),
            ["Record", "Pointer", "Record"]
        );
        assert_eq!(longest_chain(&spans).len(), 3);
        assert!(critical_path(&[]).is_empty());
    }
}
