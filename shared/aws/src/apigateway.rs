//! API Gateway: which stages invoke a function, their current throttles, and stage throttles.
//!
//! REST APIs take JSON-patch operations on `/{resource~1path}/{METHOD}/throttling/...`; "no
//! throttle" is restored by removing the method-settings entry, which is exact because the
//! planner never throttles an entry that holds other settings. HTTP APIs are throttled per
//! route only: a route's settings can be deleted again, a default route's cannot.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_apigateway::types::{Op, PatchOperation, Stage as RestStage};
use aws_sdk_apigatewayv2::types::{RouteSettings, Stage as HttpStage};
use cguard_core::drivers::{ApiCatalog, ApiGrant, throttle_targets};
use cguard_core::model::{ApiKind, ApiTarget, Driver, Route, Throttle};
use cguard_engine::ports::{ErrorKind, PortError, PortResult};

use crate::Aws;
use crate::error::classify;

/// The REST `UpdateStage` patch path prefix: `/*/*` for the stage, or the method with the
/// resource path escaped for a JSON Pointer (`~` as `~0`, `/` as `~1`: `/~1items/GET`).
fn rest_patch_prefix(target: &ApiTarget) -> String {
    match &target.route {
        None => "/*/*".into(),
        Some(r) => {
            let path = r.path.replace('~', "~0").replace('/', "~1");
            format!("/{path}/{}", r.method)
        }
    }
}

/// The REST stage's `methodSettings` key: the patch prefix without its leading `/`
/// (`*/*`, `~1items/GET`) — API Gateway keeps the `~1` escape in the key.
fn rest_method_settings_key(target: &ApiTarget) -> String {
    rest_patch_prefix(target).trim_start_matches('/').to_owned()
}

/// What a stage says about one method or route: its throttle, and whether an entry exists.
fn rest_current(stage: &RestStage, target: &ApiTarget) -> (Option<Throttle>, bool) {
    match stage
        .method_settings()
        .and_then(|m| m.get(&rest_method_settings_key(target)))
    {
        None => (None, false),
        // Negative values mean "not set" in API Gateway.
        Some(s) if s.throttling_rate_limit() < 0.0 || s.throttling_burst_limit() < 0 => {
            (None, true)
        }
        Some(s) => (
            Some(Throttle {
                rate: s.throttling_rate_limit(),
                burst: s.throttling_burst_limit(),
            }),
            true,
        ),
    }
}

fn http_current(stage: &HttpStage, target: &ApiTarget) -> (Option<Throttle>, bool) {
    let Some(key) = target.route_key() else {
        return (None, true);
    };
    match stage.route_settings().and_then(|m| m.get(&key)) {
        None => (None, false),
        Some(s) => match (s.throttling_rate_limit(), s.throttling_burst_limit()) {
            (Some(rate), Some(burst)) => (Some(Throttle { rate, burst }), true),
            _ => (None, true),
        },
    }
}

impl Aws {
    /// The API drivers of a function: one call per granted API for its stages, and for HTTP
    /// APIs granted with wildcards, its routes and integrations.
    pub(crate) async fn api_drivers(
        &self,
        grants: &[ApiGrant],
        function_arn: &str,
    ) -> PortResult<Vec<Driver>> {
        let ids: BTreeSet<&str> = grants.iter().map(|g| g.api_id.as_str()).collect();
        let mut catalog = ApiCatalog::default();
        let mut rest: BTreeMap<(String, String), RestStage> = BTreeMap::new();
        let mut http: BTreeMap<(String, String), HttpStage> = BTreeMap::new();
        for id in ids {
            match self.apigateway.get_stages().rest_api_id(id).send().await {
                Ok(out) => {
                    catalog.kinds.insert(id.to_owned(), ApiKind::Rest);
                    for s in out.item() {
                        let name = s.stage_name().unwrap_or_default().to_owned();
                        catalog
                            .stages
                            .entry(id.to_owned())
                            .or_default()
                            .push(name.clone());
                        rest.insert((id.to_owned(), name), s.clone());
                    }
                }
                Err(e) => {
                    let e = classify("apigateway:GetStages", e);
                    if e.kind != ErrorKind::NotFound {
                        return Err(e);
                    }
                    // Not a REST API: an HTTP API, or one that no longer exists.
                    let Some(stages) = self.http_stages(id).await? else {
                        continue;
                    };
                    catalog.kinds.insert(id.to_owned(), ApiKind::Http);
                    for s in stages {
                        let name = s.stage_name().unwrap_or_default().to_owned();
                        catalog
                            .stages
                            .entry(id.to_owned())
                            .or_default()
                            .push(name.clone());
                        http.insert((id.to_owned(), name), s);
                    }
                    if grants.iter().any(|g| g.api_id == id && g.route.is_none()) {
                        catalog
                            .http_routes
                            .insert(id.to_owned(), self.http_routes(id, function_arn).await?);
                    }
                }
            }
        }
        Ok(throttle_targets(grants, &catalog)
            .into_iter()
            .filter_map(|target| {
                let key = (target.api_id.clone(), target.stage.clone());
                let (current, shared_entry) = match target.kind {
                    ApiKind::Rest => rest_current(rest.get(&key)?, &target),
                    ApiKind::Http => http_current(http.get(&key)?, &target),
                };
                Some(Driver::Api {
                    target,
                    current,
                    shared_entry,
                })
            })
            .collect())
    }

    async fn http_stages(&self, api: &str) -> PortResult<Option<Vec<HttpStage>>> {
        let stages = all_pages(|token| async move {
            let out = self
                .apigatewayv2
                .get_stages()
                .api_id(api)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("apigatewayv2:GetStages", e))?;
            Ok((out.items().to_vec(), out.next_token().map(str::to_owned)))
        })
        .await;
        match stages {
            Ok(s) => Ok(Some(s)),
            // Not an HTTP API either: it no longer exists.
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Routes of an HTTP API whose integration invokes the function.
    async fn http_routes(&self, api: &str, function_arn: &str) -> PortResult<Vec<Route>> {
        let (routes, integrations) =
            futures::join!(self.all_routes(api), self.all_integrations(api));
        let (routes, integrations) = (routes?, integrations?);
        let ours: BTreeSet<String> = integrations
            .iter()
            .filter(|i| {
                i.integration_uri()
                    .is_some_and(|u| invokes(u, function_arn))
            })
            .filter_map(|i| i.integration_id().map(|id| format!("integrations/{id}")))
            .collect();
        Ok(routes
            .iter()
            .filter(|r| r.target().is_some_and(|t| ours.contains(t)))
            .filter_map(|r| {
                let key = r.route_key()?;
                Some(match key.split_once(' ') {
                    Some((method, path)) => Route {
                        method: method.to_owned(),
                        path: path.to_owned(),
                    },
                    None => Route {
                        method: key.to_owned(),
                        path: String::new(),
                    },
                })
            })
            .collect())
    }

    async fn all_routes(&self, api: &str) -> PortResult<Vec<aws_sdk_apigatewayv2::types::Route>> {
        all_pages(|token| async move {
            let out = self
                .apigatewayv2
                .get_routes()
                .api_id(api)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("apigatewayv2:GetRoutes", e))?;
            Ok((out.items().to_vec(), out.next_token().map(str::to_owned)))
        })
        .await
    }

    async fn all_integrations(
        &self,
        api: &str,
    ) -> PortResult<Vec<aws_sdk_apigatewayv2::types::Integration>> {
        all_pages(|token| async move {
            let out = self
                .apigatewayv2
                .get_integrations()
                .api_id(api)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("apigatewayv2:GetIntegrations", e))?;
            Ok((out.items().to_vec(), out.next_token().map(str::to_owned)))
        })
        .await
    }

    pub(crate) async fn throttle(&self, target: &ApiTarget) -> PortResult<Option<Throttle>> {
        match target.kind {
            ApiKind::Rest => {
                let stage = self
                    .apigateway
                    .get_stage()
                    .rest_api_id(&target.api_id)
                    .stage_name(&target.stage)
                    .send()
                    .await
                    .map_err(|e| classify("apigateway:GetStage", e))?;
                let stage = RestStage::builder()
                    .set_method_settings(stage.method_settings().cloned())
                    .build();
                Ok(rest_current(&stage, target).0)
            }
            ApiKind::Http => {
                let stage = self
                    .apigatewayv2
                    .get_stage()
                    .api_id(&target.api_id)
                    .stage_name(&target.stage)
                    .send()
                    .await
                    .map_err(|e| classify("apigatewayv2:GetStage", e))?;
                let stage = HttpStage::builder()
                    .set_route_settings(stage.route_settings().cloned())
                    .build();
                Ok(http_current(&stage, target).0)
            }
        }
    }

    pub(crate) async fn set_throttle(
        &self,
        target: &ApiTarget,
        to: Option<Throttle>,
    ) -> PortResult<()> {
        match target.kind {
            ApiKind::Rest => {
                let prefix = rest_patch_prefix(target);
                let ops = match to {
                    Some(t) => vec![
                        patch(
                            Op::Replace,
                            format!("{prefix}/throttling/rateLimit"),
                            Some(t.rate.to_string()),
                        ),
                        patch(
                            Op::Replace,
                            format!("{prefix}/throttling/burstLimit"),
                            Some(t.burst.to_string()),
                        ),
                    ],
                    None => vec![patch(Op::Remove, prefix, None)],
                };
                self.apigateway
                    .update_stage()
                    .rest_api_id(&target.api_id)
                    .stage_name(&target.stage)
                    .set_patch_operations(Some(ops))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| classify("apigateway:UpdateStage", e))
            }
            ApiKind::Http => {
                let key = target.route_key().ok_or_else(|| {
                    PortError::new(
                        "apigatewayv2:UpdateStage",
                        ErrorKind::Rejected,
                        "HTTP APIs are throttled per route only",
                    )
                })?;
                match to {
                    Some(t) => self
                        .apigatewayv2
                        .update_stage()
                        .api_id(&target.api_id)
                        .stage_name(&target.stage)
                        .route_settings(
                            key,
                            RouteSettings::builder()
                                .throttling_rate_limit(t.rate)
                                .throttling_burst_limit(t.burst)
                                .build(),
                        )
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| classify("apigatewayv2:UpdateStage", e)),
                    None => self
                        .apigatewayv2
                        .delete_route_settings()
                        .api_id(&target.api_id)
                        .stage_name(&target.stage)
                        .route_key(key)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| classify("apigatewayv2:DeleteRouteSettings", e)),
                }
            }
        }
    }
}

/// Follows `NextToken` through every page: the SDK has no paginator for the apigatewayv2 lists.
async fn all_pages<T, F, Fut>(mut page: F) -> PortResult<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = PortResult<(Vec<T>, Option<String>)>>,
{
    let mut items = Vec::new();
    let mut token = None;
    loop {
        let (more, next) = page(token).await?;
        items.extend(more);
        token = next.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(items);
        }
    }
}

/// Whether an integration URI targets exactly this function (or one of its aliases), as a
/// bare ARN or wrapped in `arn:aws:apigateway:…:lambda:path/2015-03-31/functions/ARN/invocations`.
fn invokes(uri: &str, function_arn: &str) -> bool {
    let target = match uri.split_once("/functions/") {
        Some((_, rest)) => rest.strip_suffix("/invocations").unwrap_or(rest),
        None => uri,
    };
    target == function_arn
        || target
            .strip_prefix(function_arn)
            .is_some_and(|q| q.starts_with(':'))
}

fn patch(op: Op, path: String, value: Option<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(route: Option<(&str, &str)>) -> ApiTarget {
        ApiTarget {
            kind: ApiKind::Rest,
            api_id: "a1".into(),
            stage: "prod".into(),
            route: route.map(|(m, p)| Route {
                method: m.into(),
                path: p.into(),
            }),
        }
    }

    #[test]
    fn rest_patch_paths_escape_slashes() {
        assert_eq!(rest_patch_prefix(&target(None)), "/*/*");
        assert_eq!(
            rest_patch_prefix(&target(Some(("GET", "/items")))),
            "/~1items/GET"
        );
        assert_eq!(
            rest_patch_prefix(&target(Some(("POST", "/items/{id}/a")))),
            "/~1items~1{id}~1a/POST"
        );
        assert_eq!(
            rest_method_settings_key(&target(Some(("GET", "/items")))),
            "~1items/GET"
        );
    }
}
