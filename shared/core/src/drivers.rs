//! Which API stages invoke a function, read from its resource policy: each statement for
//! principal `apigateway.amazonaws.com` carries an `AWS:SourceArn` of the form
//! `arn:aws:execute-api:{region}:{account}:{apiId}/{stage|*}/{METHOD|*}/{path}`.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use aws_arn::ResourceName;
use serde_json::Value;

use crate::model::{ApiKind, ApiTarget, Route};

/// One permission for API Gateway to invoke the function. `None` is a wildcard.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiGrant {
    pub api_id: String,
    pub stage: Option<String>,
    pub route: Option<Route>,
}

/// The API Gateway grants in a resource policy document. Statements for other principals,
/// and source ARNs that are not execute-api ARNs, are ignored.
pub fn api_grants(policy: &str) -> Vec<ApiGrant> {
    let statements = statements(policy);
    let mut grants: BTreeSet<ApiGrant> = BTreeSet::new();
    for s in statements {
        if s["Effect"].as_str() != Some("Allow")
            || !strings(&s["Principal"]["Service"]).contains(&"apigateway.amazonaws.com")
        {
            continue;
        }
        let conditions = s["Condition"].as_object().cloned().unwrap_or_default();
        for (_, test) in conditions {
            for arn in strings(&test["AWS:SourceArn"]) {
                if let Some(g) = grant(arn) {
                    grants.insert(g);
                }
            }
        }
    }
    grants.into_iter().collect()
}

/// The statements of a policy document (a single statement may stand without its array).
fn statements(policy: &str) -> Vec<Value> {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    match &doc["Statement"] {
        Value::Array(s) => s.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn grant(arn: &str) -> Option<ApiGrant> {
    let name = ResourceName::from_str(arn).ok()?;
    if name.service.to_string() != "execute-api" {
        return None;
    }
    let resource = name.resource.to_string();
    let mut parts = resource.splitn(4, '/');
    let api_id = parts
        .next()
        .filter(|s| !s.is_empty() && *s != "*")?
        .to_owned();
    let wild = |s: Option<&str>| {
        s.filter(|s| !s.is_empty() && !s.contains('*'))
            .map(str::to_owned)
    };
    let stage = wild(parts.next());
    let method = wild(parts.next());
    let path = parts.next().map(|p| format!("/{p}"));
    let route = match (method, path) {
        (Some(m), Some(p)) if !p.contains('*') => Some(Route { method: m, path: p }),
        // HTTP APIs' catch-all route has no path.
        (Some(m), None) if m == "$default" => Some(Route {
            method: m,
            path: String::new(),
        }),
        _ => None,
    };
    Some(ApiGrant {
        api_id,
        stage,
        route,
    })
}

/// Known about each API that grants reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiCatalog {
    pub kinds: BTreeMap<String, ApiKind>,
    pub stages: BTreeMap<String, Vec<String>>,
    /// HTTP API routes whose integration invokes the function (for wildcard grants).
    pub http_routes: BTreeMap<String, Vec<Route>>,
}

/// Where to throttle, from the grants: per stage (wildcard stages expanded), one method when a
/// stage is granted exactly one concrete method, else the whole stage. HTTP APIs are always
/// throttled per route — a default-route throttle cannot be removed again without setting it
/// to 0, so it could not be undone exactly.
pub fn throttle_targets(grants: &[ApiGrant], catalog: &ApiCatalog) -> Vec<ApiTarget> {
    let mut routes: BTreeMap<(ApiKind, String, String), BTreeSet<Option<Route>>> = BTreeMap::new();
    for g in grants {
        let Some(kind) = catalog.kinds.get(&g.api_id) else {
            continue;
        };
        let stages = match &g.stage {
            Some(s) => vec![s.clone()],
            None => catalog.stages.get(&g.api_id).cloned().unwrap_or_default(),
        };
        for stage in stages {
            routes
                .entry((*kind, g.api_id.clone(), stage))
                .or_default()
                .insert(g.route.clone());
        }
    }
    let mut targets = Vec::new();
    for ((kind, api_id, stage), granted) in routes {
        let concrete: Vec<Route> = granted.iter().flatten().cloned().collect();
        let any_wildcard = granted.contains(&None);
        let chosen: Vec<Option<Route>> = match kind {
            ApiKind::Rest if !any_wildcard && concrete.len() == 1 => {
                vec![Some(concrete[0].clone())]
            }
            ApiKind::Rest => vec![None],
            ApiKind::Http if !any_wildcard => concrete.into_iter().map(Some).collect(),
            ApiKind::Http => catalog
                .http_routes
                .get(&api_id)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(Some)
                .collect(),
        };
        for route in chosen {
            targets.push(ApiTarget {
                kind,
                api_id: api_id.clone(),
                stage: stage.clone(),
                route,
            });
        }
    }
    targets
}

/// Other services allowed to invoke the function (SNS, EventBridge, S3, …): asynchronous
/// sources that only a reservation can limit.
pub fn other_sources(policy: &str) -> Vec<String> {
    let statements = statements(policy);
    let mut out: BTreeSet<String> = BTreeSet::new();
    for s in &statements {
        for service in strings(&s["Principal"]["Service"]) {
            if service != "apigateway.amazonaws.com" && s["Effect"].as_str() == Some("Allow") {
                let arns: Vec<&str> = s["Condition"]
                    .as_object()
                    .map(|c| {
                        c.values()
                            .flat_map(|t| strings(&t["AWS:SourceArn"]))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(if arns.is_empty() {
                    service.to_owned()
                } else {
                    format!("{service} ({})", arns.join(", "))
                });
            }
        }
    }
    out.into_iter().collect()
}

/// `arn:aws:cloudwatch:us-east-1:123456789012:alarm:NAME` → `us-east-1`.
pub fn region_of(arn: &str) -> Option<String> {
    ResourceName::from_str(arn)
        .ok()?
        .region
        .map(|r| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(arns: &[&str]) -> String {
        let statements: Vec<Value> = arns
            .iter()
            .map(|a| {
                json!({
                    "Sid": "x", "Effect": "Allow",
                    "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow",
                    "Condition": {"ArnLike": {"AWS:SourceArn": a}}
                })
            })
            .chain([json!({
                "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction", "Resource": "x",
                "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}
            })])
            .collect();
        json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
    }

    fn route(m: &str, p: &str) -> Route {
        Route {
            method: m.into(),
            path: p.into(),
        }
    }

    #[test]
    fn grants_are_read_from_api_gateway_statements_only() {
        let g = api_grants(&policy(&[
            "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/items",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*",
            "arn:aws:execute-api:us-east-1:123456789012:h77/*/$default",
        ]));
        assert_eq!(
            g,
            vec![
                ApiGrant {
                    api_id: "abc123".into(),
                    stage: None,
                    route: Some(route("GET", "/items"))
                },
                ApiGrant {
                    api_id: "abc123".into(),
                    stage: Some("prod".into()),
                    route: None
                },
                ApiGrant {
                    api_id: "h77".into(),
                    stage: None,
                    route: Some(route("$default", ""))
                },
            ]
        );
        assert!(api_grants("not json").is_empty());
    }

    #[test]
    fn a_wildcard_stage_expands_and_one_method_gets_a_method_throttle() {
        let grants = api_grants(&policy(&[
            "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/items",
        ]));
        let catalog = ApiCatalog {
            kinds: [("abc123".into(), ApiKind::Rest)].into(),
            stages: [("abc123".into(), vec!["prod".into(), "beta".into()])].into(),
            http_routes: BTreeMap::new(),
        };
        let t = throttle_targets(&grants, &catalog);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.route == Some(route("GET", "/items"))));
        assert_eq!(
            t.iter().map(|t| t.stage.as_str()).collect::<Vec<_>>(),
            ["beta", "prod"]
        );
    }

    #[test]
    fn several_methods_or_a_wildcard_throttle_the_whole_rest_stage() {
        let grants = api_grants(&policy(&[
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/items",
        ]));
        let catalog = ApiCatalog {
            kinds: [("abc123".into(), ApiKind::Rest)].into(),
            ..Default::default()
        };
        let t = throttle_targets(&grants, &catalog);
        assert_eq!(
            t,
            vec![ApiTarget {
                kind: ApiKind::Rest,
                api_id: "abc123".into(),
                stage: "prod".into(),
                route: None
            }]
        );
    }

    #[test]
    fn http_apis_are_throttled_per_route_never_by_default_route() {
        let grants = api_grants(&policy(&[
            "arn:aws:execute-api:us-east-1:123456789012:h77/*/*",
        ]));
        let catalog = ApiCatalog {
            kinds: [("h77".into(), ApiKind::Http)].into(),
            stages: [("h77".into(), vec!["$default".into()])].into(),
            http_routes: [("h77".into(), vec![route("GET", "/a"), route("POST", "/b")])].into(),
        };
        let t = throttle_targets(&grants, &catalog);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.route.is_some() && t.stage == "$default"));
        assert_eq!(t[0].route_key().as_deref(), Some("GET /a"));
    }

    #[test]
    fn unknown_apis_are_ignored() {
        let grants = api_grants(&policy(&[
            "arn:aws:execute-api:us-east-1:123456789012:gone/*/*/*",
        ]));
        assert!(throttle_targets(&grants, &ApiCatalog::default()).is_empty());
    }

    #[test]
    fn async_sources_are_listed_from_other_principals() {
        assert_eq!(
            other_sources(&policy(&[])),
            ["s3.amazonaws.com (arn:aws:s3:::bucket)"]
        );
    }

    #[test]
    fn region_comes_from_the_arn() {
        assert_eq!(
            region_of("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("nonsense"), None);
    }
}
