//! Integration tests of the SDK-calling adapters in `cguard-aws`, with every AWS client mocked
//! by `aws-smithy-mocks`: one test binary, one module per concern.

mod actuator;
mod common;
mod engine;
mod engine_request;
mod errors;
mod fallback;
mod history;
mod inventory;
mod ledger;
mod ledger_close;
mod ledger_init;
mod ledger_reads;
mod metrics;
mod pointers;
