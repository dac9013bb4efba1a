//! Lambda: account settings, function facts (tags, reservation, resource policy, event source
//! mappings), reservations, SQS maximum concurrency, and the incident pointer tag (for people:
//! the records are in the ledger).

use std::collections::BTreeMap;

use aws_sdk_lambda::types::ScalingConfig;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use cguard_core::drivers;
use cguard_core::intake::{IncidentId, canonical_function_name};
use cguard_core::model::{AccountFacts, Driver, FunctionFacts, Reservation};
use cguard_core::record::TAG_INCIDENT;
use cguard_engine::ports::{ErrorKind, Inventory, Pointers, PortError, PortResult};

use crate::Aws;
use crate::error::classify;

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl Aws {
    pub(crate) async fn reservation(&self, function: &str) -> PortResult<Reservation> {
        let out = self
            .lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
            .map_err(|e| classify("lambda:GetFunctionConcurrency", e))?;
        // No value means no reservation — not "reserved 0".
        Ok(out
            .reserved_concurrent_executions()
            .map_or(Reservation::Unreserved, |n| Reservation::Reserved(count(n))))
    }

    pub(crate) async fn set_reservation(&self, function: &str, to: Reservation) -> PortResult<()> {
        match to {
            Reservation::Reserved(n) => self
                .lambda
                .put_function_concurrency()
                .function_name(function)
                .reserved_concurrent_executions(i32::try_from(n).unwrap_or(i32::MAX))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("lambda:PutFunctionConcurrency", e)),
            Reservation::Unreserved => self
                .lambda
                .delete_function_concurrency()
                .function_name(function)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("lambda:DeleteFunctionConcurrency", e)),
        }
    }

    pub(crate) async fn queue_concurrency(&self, uuid: &str) -> PortResult<Option<u32>> {
        let out = self
            .lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .map_err(|e| classify("lambda:GetEventSourceMapping", e))?;
        Ok(out
            .scaling_config()
            .and_then(ScalingConfig::maximum_concurrency)
            .map(count))
    }

    pub(crate) async fn set_queue_concurrency(
        &self,
        uuid: &str,
        to: Option<u32>,
    ) -> PortResult<()> {
        // An empty ScalingConfig removes the maximum: the mapping scales as it did before.
        let config = ScalingConfig::builder()
            .set_maximum_concurrency(to.map(|n| i32::try_from(n).unwrap_or(1000)))
            .build();
        self.lambda
            .update_event_source_mapping()
            .uuid(uuid)
            .scaling_config(config)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("lambda:UpdateEventSourceMapping", e))
    }

    async fn policy(&self, function: &str) -> PortResult<Option<String>> {
        match self
            .lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
        {
            Ok(out) => Ok(out.policy().map(str::to_owned)),
            Err(e) => match classify("lambda:GetPolicy", e) {
                // No resource policy: nothing is allowed to invoke it from outside.
                e if e.kind == ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn mappings(&self, function: &str) -> PortResult<Vec<Driver>> {
        let pages: Vec<_> = self
            .lambda
            .list_event_source_mappings()
            .function_name(function)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("lambda:ListEventSourceMappings", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.event_source_mappings())
            .filter(|m| m.state() != Some("Disabled"))
            .filter_map(|m| {
                let arn = m.event_source_arn().unwrap_or_default().to_owned();
                if arn.starts_with("arn:aws:sqs:") || arn.contains(":sqs:") {
                    Some(Driver::Queue {
                        uuid: m.uuid()?.to_owned(),
                        source_arn: arn,
                        maximum_concurrency: m
                            .scaling_config()
                            .and_then(ScalingConfig::maximum_concurrency)
                            .map(count),
                    })
                } else {
                    Some(Driver::Other {
                        source: format!("event source mapping from {arn}"),
                    })
                }
            })
            .collect())
    }
}

impl Inventory for Aws {
    async fn account(&self) -> PortResult<AccountFacts> {
        let out = self
            .lambda
            .get_account_settings()
            .send()
            .await
            .map_err(|e| classify("lambda:GetAccountSettings", e))?;
        let limit = out.account_limit();
        Ok(AccountFacts {
            limit: limit.map(|l| count(l.concurrent_executions())),
            unreserved: limit
                .and_then(|l| l.unreserved_concurrent_executions())
                .map(count),
        })
    }

    async fn function(&self, name: &str) -> PortResult<Option<FunctionFacts>> {
        let (function, reservation, policy, mappings) = futures::join!(
            self.lambda.get_function().function_name(name).send(),
            self.reservation(name),
            self.policy(name),
            self.mappings(name),
        );
        let function = match function {
            Ok(f) => f,
            Err(e) => {
                return match classify("lambda:GetFunction", e) {
                    e if e.kind == ErrorKind::NotFound => Ok(None),
                    e => Err(e),
                };
            }
        };
        let arn = function
            .configuration()
            .and_then(|c| c.function_arn())
            .ok_or_else(|| {
                PortError::new(
                    "lambda:GetFunction",
                    ErrorKind::Unavailable,
                    "response has no function ARN",
                )
            })?
            .to_owned();
        let tags: BTreeMap<String, String> = function
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let policy = policy?.unwrap_or_default();
        let mut drivers = self
            .api_drivers(&drivers::api_grants(&policy), &arn)
            .await?;
        drivers.extend(mappings?);
        drivers.extend(
            drivers::other_sources(&policy)
                .into_iter()
                .map(|source| Driver::Other { source }),
        );
        Ok(Some(FunctionFacts {
            name: name.to_owned(),
            arn,
            reservation: reservation?,
            tags,
            drivers,
        }))
    }
}

impl Pointers for Aws {
    async fn point(&self, function_arn: &str, incident: &IncidentId) -> PortResult<()> {
        self.lambda
            .tag_resource()
            .resource(function_arn)
            .tags(TAG_INCIDENT, incident.as_str())
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("lambda:TagResource", e))
    }

    async fn unpoint(&self, function_arn: &str) -> PortResult<()> {
        self.lambda
            .untag_resource()
            .resource(function_arn)
            .tag_keys(TAG_INCIDENT)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("lambda:UntagResource", e))
    }

    async fn pointers(&self) -> PortResult<Vec<(String, String)>> {
        self.tagged(TAG_INCIDENT).await
    }
}

impl Aws {
    /// Every function carrying the tag `key`, with its value: one paginated call, however many
    /// functions the account has.
    pub(crate) async fn tagged(&self, key: &str) -> PortResult<Vec<(String, String)>> {
        let pages: Vec<_> = self
            .tagging
            .get_resources()
            .resource_type_filters("lambda:function")
            .tag_filters(TagFilter::builder().key(key).build())
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("tag:GetResources", e))?;
        let mut tagged: Vec<(String, String)> = pages
            .iter()
            .flat_map(|p| p.resource_tag_mapping_list())
            .filter_map(|m| {
                let function = canonical_function_name(m.resource_arn()?)?;
                let tag = m.tags().iter().find(|t| t.key() == key)?;
                Some((function, tag.value().to_owned()))
            })
            .collect();
        tagged.sort();
        tagged.dedup_by(|a, b| a.0 == b.0);
        Ok(tagged)
    }
}
