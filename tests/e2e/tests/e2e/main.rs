//! The end-to-end suites against the local stand-in, linked as one test binary: each binary
//! links the whole AWS SDK, and four of them cost CI minutes and gigabytes for nothing.

mod auditor;
mod races;
mod ranking;
mod remediator;
mod trust;
