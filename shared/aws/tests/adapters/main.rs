//! Integration tests of the SDK-calling adapters in `cguard-aws`, with every AWS client mocked
//! by `aws-smithy-mocks`: one test binary, one module per concern.

mod actuator;
mod common;
mod engine;
mod errors;
mod inventory;
mod ledger;
mod metrics;
