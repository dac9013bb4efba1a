//! `Metrics`: batched GetMetricData (500 queries a call, results mapped back by query id),
//! ListMetrics across pages, alarm states.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, CompositeAlarm, Dimension, MessageData, MetricAlarm, MetricDataQuery,
    MetricDataResult, RecentlyActive, ScanBy, StateValue, Statistic, StatusCode,
};
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime as SmithyTime;
use cguard_core::confirm::Comparison;
use cguard_core::intake::AlarmState;
use cguard_core::observation::{Series, Window};
use cguard_engine::ports::Metrics;
use chrono::{DateTime, Utc};

use crate::common::{Rules, aws};

fn window() -> Window {
    Window::before(
        DateTime::parse_from_rfc3339("2026-11-23T09:40:27Z")
            .unwrap()
            .with_timezone(&Utc),
        10,
    )
}

/// The FunctionName a query reads, `None` for the account-wide series.
fn function_of(q: &MetricDataQuery) -> Option<String> {
    let metric = q.metric_stat()?.metric()?;
    metric
        .dimensions()
        .iter()
        .find(|d| d.name() == Some("FunctionName"))
        .and_then(|d| d.value())
        .map(str::to_owned)
}

fn metric_of(q: &MetricDataQuery) -> (String, String) {
    let stat = q.metric_stat().expect("a metric stat query");
    (
        stat.metric()
            .and_then(|m| m.metric_name())
            .unwrap_or_default()
            .to_owned(),
        stat.stat().unwrap_or_default().to_owned(),
    )
}

/// One result with two datapoints, the larger being `peak`, at the window's first minutes.
fn result(id: &str, peak: f64, window: &Window) -> MetricDataResult {
    let t0 = window.start.timestamp();
    MetricDataResult::builder()
        .id(id)
        .label("ConcurrentExecutions")
        .timestamps(SmithyTime::from_secs(t0 + 60))
        .values(peak)
        .timestamps(SmithyTime::from_secs(t0))
        .values(peak / 2.0)
        .status_code(StatusCode::Complete)
        .build()
}

#[tokio::test]
async fn peaks_of_1200_functions_take_three_batched_calls_mapped_back_by_id() {
    // GIVEN 1200 recently active functions and CloudWatch answering every query with a peak
    // equal to its id number (q0, the account series, peaks at 5000), results in reverse order
    let functions: Vec<String> = (0..1200).map(|i| format!("fn-{i:04}")).collect();
    let batches: Arc<Mutex<Vec<Vec<MetricDataQuery>>>> = Arc::default();
    let seen = batches.clone();
    let w = window();
    let get = mock!(CloudWatch::get_metric_data).then_compute_output(move |req| {
        seen.lock()
            .unwrap()
            .push(req.metric_data_queries().to_vec());
        assert_eq!(
            req.start_time(),
            Some(&SmithyTime::from_secs(w.start.timestamp()))
        );
        assert_eq!(
            req.end_time(),
            Some(&SmithyTime::from_secs(w.end.timestamp()))
        );
        let mut out = GetMetricDataOutput::builder();
        for q in req.metric_data_queries().iter().rev() {
            let id = q.id().unwrap();
            let n: f64 = id[1..].parse().unwrap();
            out = out.metric_data_results(result(id, if n == 0.0 { 5000.0 } else { n }, &w));
        }
        out.build()
    });
    let aws = aws(Rules {
        cloudwatch: vec![&get],
        ..Default::default()
    });

    // WHEN the peaks are read
    let peaks = aws.peaks(&functions, &window()).await.unwrap();

    // THEN 1201 queries went out in exactly 3 calls of at most 500
    assert_eq!(get.num_calls(), 3);
    let batches = batches.lock().unwrap();
    let mut sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [201, 500, 500]);
    // AND ids are q0..q1200, each once; q0 is the account, qN is function N-1
    let mut by_id: BTreeMap<usize, &MetricDataQuery> = BTreeMap::new();
    for q in batches.iter().flatten() {
        let n: usize = q.id().unwrap()[1..].parse().unwrap();
        assert!(by_id.insert(n, q).is_none(), "id q{n} sent twice");
        assert_eq!(
            metric_of(q),
            ("ConcurrentExecutions".into(), "Maximum".into())
        );
        let stat = q.metric_stat().unwrap();
        assert_eq!(stat.period(), Some(60));
        assert_eq!(stat.metric().unwrap().namespace(), Some("AWS/Lambda"));
        assert_eq!(q.return_data(), Some(true));
    }
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        (0..=1200).collect::<Vec<_>>()
    );
    assert_eq!(
        function_of(by_id[&0]),
        None,
        "q0 has no dimension: the account"
    );
    for (n, q) in &by_id {
        if *n > 0 {
            assert_eq!(function_of(q).as_deref(), Some(functions[n - 1].as_str()));
        }
    }
    // AND the results are mapped back by id, whatever their order
    assert_eq!(peaks.account, Some(5000.0));
    assert_eq!(peaks.functions.len(), 1200);
    for (i, f) in functions.iter().enumerate() {
        assert_eq!(peaks.functions[f], (i + 1) as f64, "{f}");
    }
}

#[tokio::test]
async fn a_function_without_datapoints_has_no_peak() {
    // GIVEN CloudWatch returns no datapoints for one of two functions
    let w = window();
    let get = mock!(CloudWatch::get_metric_data).then_compute_output(move |req| {
        let mut out = GetMetricDataOutput::builder();
        for q in req.metric_data_queries() {
            let id = q.id().unwrap();
            out = out.metric_data_results(match function_of(q).as_deref() {
                Some("idle") => MetricDataResult::builder()
                    .id(id)
                    .status_code(StatusCode::Complete)
                    .build(),
                Some(_) => result(id, 42.0, &w),
                None => result(id, 50.0, &w),
            });
        }
        out.build()
    });
    let aws = aws(Rules {
        cloudwatch: vec![&get],
        ..Default::default()
    });

    // WHEN the peaks are read
    let peaks = aws
        .peaks(&["busy".into(), "idle".into()], &window())
        .await
        .unwrap();

    // THEN only the function with data has a peak, in one call
    assert_eq!(peaks.functions, BTreeMap::from([("busy".into(), 42.0)]));
    assert_eq!(peaks.account, Some(50.0));
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn usage_of_two_functions_is_one_call_of_eight_queries() {
    // GIVEN CloudWatch answers each (function, metric) with a distinct figure
    let figure = |f: &str, metric: &str| -> f64 {
        let base = if f == "orders-api" { 1000.0 } else { 2000.0 };
        base + match metric {
            "ConcurrentExecutions" => 1.0,
            "Invocations" => 2.0,
            "Duration" => 3.0,
            "Throttles" => 4.0,
            other => panic!("unexpected metric {other}"),
        }
    };
    let sent: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let seen = sent.clone();
    let t0 = window().start.timestamp();
    let get = mock!(CloudWatch::get_metric_data).then_compute_output(move |req| {
        let mut out = GetMetricDataOutput::builder();
        for q in req.metric_data_queries() {
            let f = function_of(q).expect("usage queries name a function");
            let (metric, stat) = metric_of(q);
            seen.lock().unwrap().push((f.clone(), metric.clone(), stat));
            out = out.metric_data_results(
                MetricDataResult::builder()
                    .id(q.id().unwrap())
                    .timestamps(SmithyTime::from_secs(t0))
                    .values(figure(&f, &metric))
                    .status_code(StatusCode::Complete)
                    .build(),
            );
        }
        out.build()
    });
    let aws = aws(Rules {
        cloudwatch: vec![&get],
        ..Default::default()
    });

    // WHEN the usage of two candidates is read
    let usage = aws
        .usage(&["orders-api".into(), "report-builder".into()], &window())
        .await
        .unwrap();

    // THEN one call carried 8 queries: 4 metrics with their statistics per function
    assert_eq!(get.num_calls(), 1);
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 8);
    for f in ["orders-api", "report-builder"] {
        for (metric, stat) in [
            ("ConcurrentExecutions", "Maximum"),
            ("Invocations", "Sum"),
            ("Duration", "Average"),
            ("Throttles", "Sum"),
        ] {
            assert!(
                sent.contains(&(f.into(), metric.into(), stat.into())),
                "{f} {metric} {stat}"
            );
        }
    }
    // AND every series lands in its function's field
    let series = |v: f64| Series([(t0, v)].into_iter().collect());
    assert_eq!(usage.len(), 2);
    assert_eq!(usage[0].name, "orders-api");
    assert_eq!(usage[0].concurrency, series(1001.0));
    assert_eq!(usage[0].invocations, series(1002.0));
    assert_eq!(usage[0].duration_ms, series(1003.0));
    assert_eq!(usage[0].throttles, series(1004.0));
    assert_eq!(usage[1].name, "report-builder");
    assert_eq!(usage[1].concurrency, series(2001.0));
    assert_eq!(usage[1].throttles, series(2004.0));
}

fn lambda_metric(dimensions: &[(&str, &str)]) -> aws_sdk_cloudwatch::types::Metric {
    let mut m = aws_sdk_cloudwatch::types::Metric::builder()
        .namespace("AWS/Lambda")
        .metric_name("ConcurrentExecutions");
    for (name, value) in dimensions {
        m = m.dimensions(Dimension::builder().name(*name).value(*value).build());
    }
    m.build()
}

#[tokio::test]
async fn active_functions_follow_pages_and_keep_function_level_metrics_only() {
    // GIVEN two ListMetrics pages mixing function-level metrics with alias and version metrics
    let page1 = mock!(CloudWatch::list_metrics)
        .match_requests(|r| {
            r.namespace() == Some("AWS/Lambda")
                && r.metric_name() == Some("ConcurrentExecutions")
                && r.recently_active() == Some(&RecentlyActive::Pt3H)
                && r.dimensions().len() == 1
                && r.dimensions()[0].name() == Some("FunctionName")
                && r.dimensions()[0].value().is_none()
                && r.next_token().is_none()
        })
        .then_output(|| {
            ListMetricsOutput::builder()
                .metrics(lambda_metric(&[("FunctionName", "orders-api")]))
                .metrics(lambda_metric(&[
                    ("FunctionName", "orders-api"),
                    ("Resource", "orders-api:live"),
                ]))
                .metrics(lambda_metric(&[("FunctionName", "report-builder")]))
                .next_token("eyJwYWdlIjoyfQ==")
                .build()
        });
    let page2 = mock!(CloudWatch::list_metrics)
        .match_requests(|r| r.next_token() == Some("eyJwYWdlIjoyfQ=="))
        .then_output(|| {
            ListMetricsOutput::builder()
                .metrics(lambda_metric(&[
                    ("FunctionName", "thumbnailer"),
                    ("Resource", "thumbnailer:3"),
                    ("ExecutedVersion", "3"),
                ]))
                .metrics(lambda_metric(&[("FunctionName", "thumbnailer")]))
                .metrics(lambda_metric(&[("FunctionName", "orders-api")]))
                .build()
        });
    let aws = aws(Rules {
        cloudwatch: vec![&page1, &page2],
        ..Default::default()
    });

    // WHEN the active functions are listed
    let names = aws
        .active_functions(chrono::Utc::now() - chrono::Duration::minutes(10))
        .await
        .unwrap();

    // THEN both pages were read, and each function appears once, from its own series
    assert_eq!(names, ["orders-api", "report-builder", "thumbnailer"]);
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

#[tokio::test]
async fn alarm_states_of_metric_and_composite_alarms() {
    // GIVEN a metric alarm in ALARM, a composite alarm in OK, and a deleted alarm
    let metric = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| r.alarm_names() == ["account-concurrency"])
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("account-concurrency")
                        .state_value(StateValue::Alarm)
                        .build(),
                )
                .build()
        });
    let composite = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| r.alarm_names() == ["lambda-health"])
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .composite_alarms(
                    CompositeAlarm::builder()
                        .alarm_name("lambda-health")
                        .state_value(StateValue::Ok)
                        .build(),
                )
                .build()
        });
    let gone = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| r.alarm_names() == ["deleted"])
        .then_output(|| DescribeAlarmsOutput::builder().build());
    let aws = aws(Rules {
        cloudwatch: vec![&metric, &composite, &gone],
        ..Default::default()
    });

    // WHEN their states are read
    // THEN each maps to the guard's state, and a missing alarm is None
    assert_eq!(
        aws.alarm_state("account-concurrency").await.unwrap(),
        Some(AlarmState::Alarm)
    );
    assert_eq!(
        aws.alarm_state("lambda-health").await.unwrap(),
        Some(AlarmState::Ok)
    );
    assert_eq!(aws.alarm_state("deleted").await.unwrap(), None);
}

/// A window that ends now: Metrics Insights only answers for the last three hours.
fn recent_window() -> Window {
    Window::before(Utc::now(), 10)
}

#[tokio::test]
async fn metrics_insights_ranks_every_function_in_one_query_plus_the_account_query() {
    // GIVEN Metrics Insights answers one series per function, labelled with its name
    let w = recent_window();
    let insights = mock!(CloudWatch::get_metric_data)
        .match_requests(|req| {
            req.metric_data_queries().iter().any(|q| {
                q.expression()
                    .is_some_and(|e| e.contains("GROUP BY FunctionName"))
            })
        })
        .then_compute_output(move |req| {
            let q = &req.metric_data_queries()[0];
            assert!(q.expression().unwrap().contains("LIMIT 10"), "{q:?}");
            assert_eq!(q.period(), Some(60));
            let series = |label: &str, peak: f64| {
                MetricDataResult::builder()
                    .id("insights")
                    .label(label)
                    .timestamps(SmithyTime::from_secs(w.start.timestamp()))
                    .values(peak)
                    .status_code(StatusCode::Complete)
                    .build()
            };
            GetMetricDataOutput::builder()
                .metric_data_results(series("slow-search", 600.0))
                .metric_data_results(series("orders-api", 40.0))
                .build()
        });
    let account = mock!(CloudWatch::get_metric_data)
        .match_requests(|req| {
            req.metric_data_queries()
                .iter()
                .all(|q| q.expression().is_none())
        })
        .then_compute_output(move |req| {
            assert_eq!(
                req.metric_data_queries().len(),
                1,
                "only the account's series"
            );
            GetMetricDataOutput::builder()
                .metric_data_results(result("q0", 962.0, &w))
                .build()
        });
    let list = mock!(CloudWatch::list_metrics).then_output(|| ListMetricsOutput::builder().build());
    let aws = aws(Rules {
        cloudwatch: vec![&insights, &account, &list],
        ..Default::default()
    })
    .with_metrics_insights(true);

    // WHEN the busiest functions are asked for
    let peaks = aws
        .top_peaks(&recent_window(), 10)
        .await
        .unwrap()
        .expect("insights on");

    // THEN two calls, whatever the account's size, and no ListMetrics
    assert_eq!(
        peaks.peaks.functions,
        BTreeMap::from([("orders-api".into(), 40.0), ("slow-search".into(), 600.0)])
    );
    assert_eq!(peaks.peaks.account, Some(962.0));
    assert!(peaks.complete && peaks.messages.is_empty(), "{peaks:?}");
    assert_eq!(peaks.query_id, "insights");
    assert_eq!(
        (insights.num_calls(), account.num_calls(), list.num_calls()),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn a_partial_insights_answer_is_returned_as_partial_with_its_messages() {
    // GIVEN Insights answers with PartialData and a message (more than 10,000 metrics matched)
    let w = recent_window();
    let insights = mock!(CloudWatch::get_metric_data)
        .match_requests(|req| {
            req.metric_data_queries()
                .iter()
                .any(|q| q.expression().is_some())
        })
        .then_compute_output(move |_| {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("insights")
                        .label("slow-search")
                        .timestamps(SmithyTime::from_secs(w.start.timestamp()))
                        .values(600.0)
                        .status_code(StatusCode::PartialData)
                        .build(),
                )
                .messages(
                    MessageData::builder()
                        .code("MaxMetricsExceeded")
                        .value("more than 10000 metrics matched")
                        .build(),
                )
                .build()
        });
    let account = mock!(CloudWatch::get_metric_data)
        .match_requests(|req| {
            req.metric_data_queries()
                .iter()
                .all(|q| q.expression().is_none())
        })
        .then_compute_output(move |_| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("q0", 962.0, &w))
                .build()
        });
    let aws = aws(Rules {
        cloudwatch: vec![&insights, &account],
        ..Default::default()
    })
    .with_metrics_insights(true);

    // WHEN the busiest functions are asked for
    let top = aws.top_peaks(&w, 10).await.unwrap().expect("insights on");

    // THEN the answer says it is partial, so the engine will not believe it
    assert!(!top.complete);
    assert_eq!(
        top.messages,
        ["MaxMetricsExceeded: more than 10000 metrics matched"]
    );
    assert!(
        cguard_core::ranking::believe(
            &top,
            &cguard_core::attribution::Scope::Account,
            &cguard_core::config::Policy::default()
        )
        .is_err()
    );
}

#[tokio::test]
async fn metrics_insights_is_not_used_when_off_or_for_windows_older_than_three_hours() {
    let aws = aws(Rules::default());
    assert_eq!(aws.top_peaks(&recent_window(), 10).await.unwrap(), None);
    let old = Window::before(Utc::now() - chrono::Duration::hours(4), 10);
    assert_eq!(
        aws.with_metrics_insights(true)
            .top_peaks(&old, 10)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn alarm_evidence_is_the_alarm_as_cloudwatch_has_it_and_its_own_metric_re_read() {
    // GIVEN the account alarm exists in ALARM, defined as Maximum of ConcurrentExecutions over
    // 60 s, >= 800, 2 of 3 periods — and its metric reads 700, 962, 990
    let now = Utc::now();
    let updated = SmithyTime::from_secs(now.timestamp() - 30);
    let describe = mock!(CloudWatch::describe_alarms)
        .match_requests(|r| r.alarm_names() == ["account-concurrency"])
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("account-concurrency")
                        .alarm_arn(
                            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:account-concurrency",
                        )
                        .state_value(StateValue::Alarm)
                        .state_updated_timestamp(updated)
                        .namespace("AWS/Lambda")
                        .metric_name("ConcurrentExecutions")
                        .statistic(Statistic::Maximum)
                        .period(60)
                        .evaluation_periods(3)
                        .datapoints_to_alarm(2)
                        .threshold(800.0)
                        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
                        .build(),
                )
                .build()
        });
    let read = mock!(CloudWatch::get_metric_data)
        .match_requests(|r| {
            let q = &r.metric_data_queries()[0];
            let stat = q.metric_stat().unwrap();
            r.metric_data_queries().len() == 1
                && stat.stat() == Some("Maximum")
                && stat.period() == Some(60)
                && stat.metric().unwrap().metric_name() == Some("ConcurrentExecutions")
                && r.scan_by() == Some(&ScanBy::TimestampAscending)
        })
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("alarm")
                        .values(700.0)
                        .values(962.0)
                        .values(990.0)
                        .status_code(StatusCode::Complete)
                        .build(),
                )
                .build()
        });
    let aws = aws(Rules {
        cloudwatch: vec![&describe, &read],
        ..Default::default()
    });

    // WHEN the guard asks for the evidence
    let e = aws
        .alarm_evidence("account-concurrency", now)
        .await
        .unwrap()
        .expect("the alarm exists");

    // THEN the definition is CloudWatch's own, and the series is the re-read one
    assert_eq!(
        e.arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:account-concurrency"
    );
    assert_eq!(e.state, AlarmState::Alarm);
    assert_eq!(e.state_updated.timestamp(), now.timestamp() - 30);
    assert_eq!(
        (
            e.comparison,
            e.threshold,
            e.evaluation_periods,
            e.datapoints_to_alarm
        ),
        (Some(Comparison::GreaterThanOrEqual), Some(800.0), 3, 2)
    );
    assert_eq!(e.datapoints, [700.0, 962.0, 990.0]);
    assert_eq!((describe.num_calls(), read.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_alarm_this_account_does_not_have_has_no_evidence() {
    let describe =
        mock!(CloudWatch::describe_alarms).then_output(|| DescribeAlarmsOutput::builder().build());
    let aws = aws(Rules {
        cloudwatch: vec![&describe],
        ..Default::default()
    });
    assert_eq!(
        aws.alarm_evidence("forged", Utc::now()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_older_window_lists_every_function_cloudwatch_still_keeps() {
    // GIVEN a backtest of an incident five days ago: "recently active" (3 h) would miss an
    // offender idle since, so the listing must go without it (two weeks of metrics)
    let unfiltered = mock!(CloudWatch::list_metrics)
        .match_requests(|r| r.recently_active().is_none())
        .then_output(|| {
            ListMetricsOutput::builder()
                .metrics(lambda_metric(&[("FunctionName", "last-weeks-hog")]))
                .build()
        });
    let aws = aws(Rules {
        cloudwatch: vec![&unfiltered],
        ..Default::default()
    });

    // WHEN the functions active since then are listed
    let names = aws
        .active_functions(chrono::Utc::now() - chrono::Duration::days(5))
        .await
        .unwrap();

    // THEN the unfiltered listing was asked for, and the idle offender is in it
    assert_eq!(names, ["last-weeks-hog"]);
    assert_eq!(unfiltered.num_calls(), 1);
}
