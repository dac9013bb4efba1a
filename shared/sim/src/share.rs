//! Dividing a scarce capacity among claimants in proportion to their claims. Requests from
//! many sources reach a full pool interleaved at random; in aggregate each source gets its
//! proportional share, and no source is favoured by the order the model visits them in.

/// Writes into `out` each claim's share of `capacity` (largest remainder, ties to the earlier
/// claim): the shares sum to `min(capacity, Σ claims)` and none exceeds its claim.
pub fn proportional(claims: &[u64], capacity: u64, out: &mut Vec<u64>) {
    out.clear();
    let total: u64 = claims.iter().sum();
    if total <= capacity {
        out.extend_from_slice(claims);
        return;
    }
    let mut given = 0;
    let mut remainders = Vec::new();
    for (i, &c) in claims.iter().enumerate() {
        // u128: claim × capacity overflows u64 only for absurd figures, but must not wrap.
        let exact = u128::from(c) * u128::from(capacity);
        let whole = (exact / u128::from(total)) as u64;
        out.push(whole);
        given += whole;
        let rest = exact % u128::from(total);
        if rest > 0 {
            remainders.push((rest, i));
        }
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take((capacity - given) as usize) {
        out[i] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_capacity_grants_every_claim() {
        let mut out = Vec::new();
        proportional(&[3, 4], 10, &mut out);
        assert_eq!(out, [3, 4]);
    }

    #[test]
    fn scarce_capacity_is_shared_in_proportion_and_used_up() {
        let mut out = Vec::new();
        proportional(&[20, 10, 0], 15, &mut out);
        assert_eq!(out, [10, 5, 0]);
        proportional(&[1, 1, 1], 2, &mut out);
        assert_eq!(out, [1, 1, 0]);
        assert_eq!(out.iter().sum::<u64>(), 2);
    }
}
