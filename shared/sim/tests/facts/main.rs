//! The model against the AWS facts it encodes (shared/SIM-FACTS.md), with values. One test
//! binary, a module per modelled part.

mod alarms;
mod api;
mod async_invocation;
mod pool;
mod scenarios;
mod sqs;

use cguard_sim::{Account, Scenario};

/// An inline scenario (name and seed filled in) built into an account.
pub fn account(body: &str) -> Account {
    let s = scenario(body);
    Account::new(&s, "inline.toml").expect("inline scenario builds")
}

pub fn scenario(body: &str) -> Scenario {
    Scenario::parse(
        "inline.toml",
        &format!("name = \"inline\"\nseed = 1\n{body}"),
    )
    .expect("inline scenario parses")
}

/// Steps until `account.now() == t`.
pub fn run_to(account: &mut Account, t: u32) {
    account.run_until(t);
}
