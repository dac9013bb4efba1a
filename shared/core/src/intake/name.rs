//! One identity per function: every way a function can be named — its name, a qualified name
//! (`name:alias`), a partial ARN (`123456789012:function:name`) or a full, possibly qualified,
//! ARN — becomes its one canonical name, or is refused, before any policy check compares it
//! with the protected and guard lists. A reservation belongs to the function, not to a version
//! or alias, so the qualifier is dropped.
//!
//! Also: an alarm's own ARN, checked before anything is done for the alarm.

use std::str::FromStr;

use aws_arn::ResourceName;

/// Function names: 1–64 of letters, digits, hyphens and underscores.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Versions and aliases: `$LATEST`, digits, or an alias name.
fn is_qualifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$')
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `name` or `name:qualifier` → `name`.
fn unqualified(s: &str) -> Option<&str> {
    match s.split_once(':') {
        None => is_name(s).then_some(s),
        Some((name, q)) => (is_name(name) && is_qualifier(q)).then_some(name),
    }
}

/// The canonical name of the function `reference` names; `None` when it names none.
pub fn canonical_function_name(reference: &str) -> Option<String> {
    if reference.starts_with("arn:") {
        let arn = ResourceName::from_str(reference).ok()?;
        let account = arn.account_id.as_ref()?.to_string();
        let region = arn.region.as_ref()?.to_string();
        if arn.service.to_string() != "lambda" || !is_account(&account) || region.is_empty() {
            return None;
        }
        let rest = arn.resource.to_string();
        return unqualified(rest.strip_prefix("function:")?).map(str::to_owned);
    }
    if let Some((account, rest)) = reference.split_once(":function:") {
        return is_account(account)
            .then(|| unqualified(rest))
            .flatten()
            .map(str::to_owned);
    }
    unqualified(reference).map(str::to_owned)
}

/// Whether `arn` is a well-formed CloudWatch alarm ARN of `account` (when the message names
/// one) for the alarm called `name`.
pub fn valid_alarm_arn(arn: &str, name: &str, account: Option<&str>) -> bool {
    let Ok(parsed) = ResourceName::from_str(arn) else {
        return false;
    };
    let arn_account = parsed.account_id.as_ref().map(ToString::to_string);
    let region = parsed.region.as_ref().map(ToString::to_string);
    parsed.service.to_string() == "cloudwatch"
        && region.is_some_and(|r| !r.is_empty())
        && arn_account
            .as_deref()
            .is_some_and(|a| is_account(a) && account.is_none_or(|want| want == a))
        && parsed.resource.to_string() == format!("alarm:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_to_a_function_is_its_name() {
        for reference in [
            "orders-api",
            "orders-api:live",
            "orders-api:$LATEST",
            "123456789012:function:orders-api",
            "123456789012:function:orders-api:7",
            "arn:aws:lambda:us-east-1:123456789012:function:orders-api",
            "arn:aws:lambda:us-east-1:123456789012:function:orders-api:live",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:orders-api",
        ] {
            assert_eq!(
                canonical_function_name(reference).as_deref(),
                Some("orders-api"),
                "{reference}"
            );
        }
    }

    #[test]
    fn what_names_no_function_is_refused() {
        for reference in [
            "",
            "orders api",
            "orders-api:",
            "a:b:c",
            &"x".repeat(65),
            "arn:aws:lambda:us-east-1:123456789012:layer:orders-api",
            "arn:aws:sqs:us-east-1:123456789012:function:orders-api",
            "arn:aws:lambda::123456789012:function:orders-api",
            "arn:aws:lambda:us-east-1:12345:function:orders-api",
            "12345:function:orders-api",
            "orders-api\u{1b}[2K",
            "arn:aws:lambda:us-east-1:123456789012:function:../../x",
        ] {
            assert_eq!(canonical_function_name(reference), None, "{reference:?}");
        }
    }

    #[test]
    fn an_alarm_arn_must_be_a_cloudwatch_alarm_of_the_account_with_that_name() {
        let arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:account-concurrency";
        assert!(valid_alarm_arn(arn, "account-concurrency", None));
        assert!(valid_alarm_arn(
            arn,
            "account-concurrency",
            Some("123456789012")
        ));
        assert!(!valid_alarm_arn(
            arn,
            "account-concurrency",
            Some("999999999999")
        ));
        assert!(!valid_alarm_arn(arn, "another-alarm", None));
        for bad in [
            "arn:aws:cloudwatch:::alarm",
            "arn:aws:cloudwatch:us-east-1::alarm:account-concurrency",
            "arn:aws:sns:us-east-1:123456789012:alarm:account-concurrency",
            "not an arn",
        ] {
            assert!(!valid_alarm_arn(bad, "account-concurrency", None), "{bad}");
        }
    }
}
