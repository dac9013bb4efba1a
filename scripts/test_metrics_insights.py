"""Tests for scripts/metrics_insights.py without moto: the parser, the evaluator over
hand-made datapoints, and the request handling against an in-memory stand-in for moto's
CloudWatch JSON API. The end-to-end test through the proxy is in test_cbor_proxy.py.
"""

import math

import pytest

import metrics_insights as mi
from metrics_insights import QueryError, parse

NOW = 1_800_000_000  # a fixed "now", minute-aligned
GUARD = ('SELECT MAX(ConcurrentExecutions) FROM SCHEMA("AWS/Lambda", FunctionName) '
         'GROUP BY FunctionName ORDER BY MAX() DESC LIMIT {n}')


# ---------------------------------------------------------------- parser: accepted

def test_the_guards_query():
    q = parse(GUARD.format(n=10))
    assert q == mi.Query(func="MAX", metric="ConcurrentExecutions", namespace="AWS/Lambda",
                         schema=frozenset({"FunctionName"}), where=None, group_by=("FunctionName",),
                         order_by=("MAX", True), limit=10)


def test_keywords_are_case_insensitive_identifiers_are_not():
    q = parse("select sum(Invocations) from schema(\"AWS/Lambda\", FunctionName) "
              "where FunctionName != 'x' group by FunctionName order by avg() asc limit 3")
    assert (q.func, q.metric, q.order_by, q.limit) == ("SUM", "Invocations", ("AVG", False), 3)
    assert parse('SELECT MAX(m) FROM ns GROUP BY functionname').group_by == ("functionname",)


def test_plain_namespace_schema_without_keys_and_defaults():
    q = parse("SELECT AVG(CPUUtilization) FROM MyNamespace_1")
    assert (q.namespace, q.schema, q.where, q.group_by, q.order_by, q.limit) == (
        "MyNamespace_1", None, None, (), None, None)
    assert parse('SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2")').schema == frozenset()
    # ORDER BY without a direction is ascending
    assert parse("SELECT MAX(m) FROM ns GROUP BY k ORDER BY MIN()").order_by == ("MIN", False)


def test_where_and_binds_tighter_than_or_and_parentheses_group():
    cmp = lambda k, op, v: ("cmp", k, op, v)  # noqa: E731
    assert parse("SELECT MAX(m) FROM ns WHERE a = '1' OR b = '2' AND c != '3'").where == (
        "or", cmp("a", "=", "1"), ("and", cmp("b", "=", "2"), cmp("c", "!=", "3")))
    assert parse("SELECT MAX(m) FROM ns WHERE (a = '1' OR b = '2') AND c = '3'").where == (
        "and", ("or", cmp("a", "=", "1"), cmp("b", "=", "2")), cmp("c", "=", "3"))


# Every query of the User Guide's pages "Metrics Insights query components and syntax"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html)
# and "Metrics Insights sample queries"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-queryexamples.html)
# parses, with the meaning the pages give it.
DOC_QUERIES = [
    ('SELECT AVG(CPUUtilization) FROM "AWS/EC2"', ("AVG", "CPUUtilization", "AWS/EC2", None)),
    ('SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2")', ("AVG", "CPUUtilization", "AWS/EC2", set())),
    ('SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2", InstanceId)',
     ("AVG", "CPUUtilization", "AWS/EC2", {"InstanceId"})),
    ('SELECT SUM(RequestCount) FROM SCHEMA("AWS/ApplicationELB", LoadBalancer, AvailabilityZone) '
     "WHERE LoadBalancer = 'app/load-balancer-1' GROUP BY AvailabilityZone ORDER BY MAX() DESC LIMIT 5",
     ("SUM", "RequestCount", "AWS/ApplicationELB", {"LoadBalancer", "AvailabilityZone"})),
    ("SELECT MAX(CPUUtilization) FROM \"AWS/EC2\" WHERE AutoScalingGroupName = 'my-production-fleet'",
     ("MAX", "CPUUtilization", "AWS/EC2", None)),
    ('SELECT MAX("My.Metric") FROM ns', ("MAX", "My.Metric", "ns", None)),
    ('SELECT AVG("Bytes\\"Input\\"") FROM ns', ("AVG", 'Bytes"Input"', "ns", None)),
    ('SELECT AVG("LIMIT") FROM ns', ("AVG", "LIMIT", "ns", None)),
    ('SELECT MAX(ActiveConnectionCount) FROM SCHEMA("AWS/ApplicationELB", LoadBalancer) '
     "GROUP BY LoadBalancer ORDER BY SUM() DESC LIMIT 10",
     ("MAX", "ActiveConnectionCount", "AWS/ApplicationELB", {"LoadBalancer"})),
    ('SELECT COUNT(CallCount) FROM SCHEMA("AWS/Usage", Class, Resource, Service, Type) '
     "WHERE Type = 'API' AND Service = 'CloudWatch' GROUP BY Resource ORDER BY COUNT() DESC",
     ("COUNT", "CallCount", "AWS/Usage", {"Class", "Resource", "Service", "Type"})),
    ('SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/ECS", ClusterName, ServiceName) '
     "GROUP BY ClusterName, ServiceName ORDER BY AVG() DESC LIMIT 10",
     ("AVG", "CPUUtilization", "AWS/ECS", {"ClusterName", "ServiceName"})),
    ("SELECT AVG(CPUUtilization) FROM \"AWS/CWAgent\" WHERE ApplicationName = 'eCommerce'",
     ("AVG", "CPUUtilization", "AWS/CWAgent", None)),
    ('SELECT SUM("PutRecords.Bytes") FROM SCHEMA("AWS/Kinesis", StreamName) '
     "GROUP BY StreamName ORDER BY SUM() DESC LIMIT 10",
     ("SUM", "PutRecords.Bytes", "AWS/Kinesis", {"StreamName"})),
    ('SELECT SUM(Invocations) FROM SCHEMA("AWS/Lambda", FunctionName) GROUP BY FunctionName '
     "ORDER BY SUM() DESC", ("SUM", "Invocations", "AWS/Lambda", {"FunctionName"})),
    ('SELECT AVG(Duration) FROM SCHEMA("AWS/Lambda", FunctionName) GROUP BY FunctionName '
     "ORDER BY MAX() DESC LIMIT 10", ("AVG", "Duration", "AWS/Lambda", {"FunctionName"})),
    ('SELECT AVG(TotalRequestLatency) FROM SCHEMA("AWS/S3", BucketName, FilterId) '
     "WHERE FilterId = 'EntireBucket' GROUP BY BucketName ORDER BY AVG() DESC",
     ("AVG", "TotalRequestLatency", "AWS/S3", {"BucketName", "FilterId"})),
    # "Troubleshooting Metrics Insights" (cloudwatch-metrics-insights-troubleshooting.html)
    ("SELECT AVG(Faults) FROM MyCustomNamespace GROUP BY Operation, ServiceName",
     ("AVG", "Faults", "MyCustomNamespace", None)),
]


@pytest.mark.parametrize("text,want", DOC_QUERIES, ids=[t[:60] for t, _ in DOC_QUERIES])
def test_documented_queries_parse(text, want):
    q = parse(text)
    func, metric, namespace, schema = want
    assert (q.func, q.metric, q.namespace) == (func, metric, namespace)
    assert q.schema == (None if schema is None else frozenset(schema))


# ---------------------------------------------------------------- parser: rejected

@pytest.mark.parametrize("text,message", [
    ("SELECT MAX(Count) FROM ns", "Reserved keyword 'Count' must be surrounded by double quotes"),
    ("SELECT MAX(m) FROM ns GROUP BY limit", "Reserved keyword 'limit'"),
    ("SELECT P90(m) FROM ns", "Expected one of AVG, COUNT, MAX, MIN, SUM but found 'P90'"),
    ("SELECT MAX(m) FROM AWS/Lambda", "Unexpected character '/'"),
    ('SELECT MAX(m) FROM "AWS/Lambda', "Unexpected character '\"'"),
    ("SELECT MAX(m) FROM ns LIMIT 0", "LIMIT must be between 1 and 500"),
    ("SELECT MAX(m) FROM ns LIMIT 501", "LIMIT must be between 1 and 500"),
    ("SELECT MAX(m) FROM ns LIMIT ten", "Expected a number but found 'ten'"),
    ("SELECT MAX(m) FROM ns WHERE k IN ('a', 'b')", "Expected = or !="),
    ("SELECT MAX(m) FROM ns WHERE k LIKE 'a%'", "Expected = or !="),
    ("SELECT MAX(m) FROM ns WHERE k < 'a'", "Unexpected character '<'"),
    ('SELECT MAX(m) FROM ns WHERE k = "a"', "Expected a label value in single quotes"),
    ("SELECT MAX(m) FROM ns WHERE NOT k = 'a'", "Reserved keyword 'NOT'"),
    ("SELECT MAX(m) FROM ns ORDER BY MAX() DESC GROUP BY k", "Expected end of query but found 'GROUP'"),
    ("SELECT MAX(m) FROM ns ORDER BY MAX", "Expected '(' but found end of query"),
    ("SELECT MAX(m), MIN(m) FROM ns", "Expected FROM but found ','"),
    ("SELECT MAX(*) FROM ns", "Unexpected character '*'"),
    ("SELECT MAX(m) FROM ns GROUP BY", "Expected a label key but found end of query"),
    ("SELECT MAX(m) FROM SCHEMA()", "Expected a namespace but found ')'"),
    ("SELECT MAX(m)", "Expected FROM but found end of query"),
])
def test_rejected_forms(text, message):
    with pytest.raises(QueryError) as e:
        parse(text)
    assert message in str(e.value)
    assert (e.value.status, e.value.code) == (400, "ValidationError")


# ---------------------------------------------------------------- evaluator

def per_minute(points):
    """Raw observations [(epoch s, value)] -> moto's per-minute statistics."""
    out = {}
    for t, v in points:
        s = out.setdefault(t // 60 * 60, {"Sum": 0.0, "SampleCount": 0.0, "Maximum": -math.inf,
                                           "Minimum": math.inf})
        s["Sum"] += v
        s["SampleCount"] += 1
        s["Maximum"] = max(s["Maximum"], v)
        s["Minimum"] = min(s["Minimum"], v)
    return sorted(out.items())


def fn(name, **more):
    return (("FunctionName", name),) + tuple(more.items())


def run(text, samples, start=NOW - 600, period=60, qid="q", label=None, ascending=False):
    """Evaluate over hand-made observations: samples [(dims, [(t, value)])]."""
    query = parse(text)
    metrics = [("AWS/Lambda", dims) for dims, _ in samples]
    chosen = {dims for _, dims in mi.select_metrics(query, metrics)}
    picked = [(dims, per_minute(pts)) for dims, pts in samples if dims in chosen]
    kept, _ = mi.rank(query, mi.group_samples(query, picked, start, period))
    return mi.series(query, kept, qid, label, ascending)


def t(minute):
    return NOW - 600 + 60 * minute


def test_group_by_function_ordered_by_max_desc_limited():
    samples = [
        (fn("a"), [(t(0), 5), (t(1), 40), (t(2), 7)]),
        (fn("b"), [(t(0), 90)]),
        (fn("c"), [(t(1), 3), (t(2), 60)]),
        (fn("d"), [(t(2), 1)]),
    ]
    out = run(GUARD.format(n=3), samples)
    assert [r["Label"] for r in out] == ["b", "c", "a"]
    assert all(r["Id"] == "q" and r["StatusCode"] == "Complete" for r in out)
    # one datapoint per period with data, newest first (GetMetricData's default ScanBy)
    assert out[2]["Timestamps"] == [t(2), t(1), t(0)] and out[2]["Values"] == [7, 40, 5]
    assert out[1]["Timestamps"] == [t(2), t(1)] and out[1]["Values"] == [60, 3]
    asc = run(GUARD.format(n=1), samples, ascending=True)
    assert asc == [{"Id": "q", "Label": "b", "Timestamps": [t(0)], "Values": [90], "StatusCode": "Complete"}]


def test_group_by_without_order_by_is_alphabetical():
    samples = [(fn(n), [(t(0), v)]) for n, v in (("b", 1), ("c", 3), ("a", 2))]
    out = run('SELECT MAX(m) FROM SCHEMA("AWS/Lambda", FunctionName) GROUP BY FunctionName LIMIT 2', samples)
    assert [r["Label"] for r in out] == ["a", "b"]
    out = run('SELECT MAX(m) FROM SCHEMA("AWS/Lambda", FunctionName) GROUP BY FunctionName '
              "ORDER BY MAX() ASC", samples)
    assert [r["Label"] for r in out] == ["b", "a", "c"]


def test_ties_keep_alphabetical_order():
    samples = [(fn(n), [(t(0), 5)]) for n in ("c", "a", "b")]
    assert [r["Label"] for r in run(GUARD.format(n=10), samples)] == ["a", "b", "c"]


def test_schema_matches_the_exact_dimension_set():
    samples = [
        (fn("a"), [(t(0), 10)]),
        (fn("a", Resource="a:live"), [(t(0), 1000)]),  # alias series: FunctionName + Resource
        ((), [(t(0), 5000)]),  # the account series: no dimension
        ((("Resource", "x"),), [(t(0), 7)]),
    ]
    q = 'SELECT MAX(m) FROM SCHEMA("AWS/Lambda"{}) '
    assert [r["Values"] for r in run(q.format(", FunctionName"), samples)] == [[10]]
    assert [r["Values"] for r in run(q.format(", Resource, FunctionName"), samples)] == [[1000]]
    assert [r["Values"] for r in run(q.format(""), samples)] == [[5000]]
    # FROM without SCHEMA: every dimension set, one aggregated series
    assert [r["Values"] for r in run('SELECT SUM(m) FROM "AWS/Lambda"', samples)] == [[6017]]


def test_group_by_key_a_metric_lacks_is_other():
    samples = [(fn("a"), [(t(0), 1)]), (fn("a", Resource="a:live"), [(t(0), 2)]),
               (fn("b", Resource="b:1"), [(t(0), 4)])]
    out = run('SELECT SUM(m) FROM "AWS/Lambda" GROUP BY FunctionName, Resource', samples)
    assert [(r["Label"], r["Values"]) for r in out] == [("a Other", [1]), ("a a:live", [2]), ("b b:1", [4])]


def test_where_filters_metrics_by_label_values():
    samples = [(fn(n, Env=e), [(t(0), v)]) for n, e, v in
               (("a", "prod", 1), ("b", "dev", 2), ("c", "prod", 4), ("d", "test", 8))]
    samples.append((fn("e"), [(t(0), 16)]))  # no Env at all
    base = 'SELECT SUM(m) FROM "AWS/Lambda" WHERE '
    assert run(base + "Env = 'prod'", samples)[0]["Values"] == [5]
    assert run(base + "Env = 'prod' AND FunctionName != 'a'", samples)[0]["Values"] == [4]
    assert run(base + "Env = 'dev' OR FunctionName = 'd'", samples)[0]["Values"] == [10]
    # != also holds where the key is absent
    assert run(base + "Env != 'prod'", samples)[0]["Values"] == [26]
    assert run(base + "(Env = 'dev' OR Env = 'test') AND FunctionName = 'b'", samples)[0]["Values"] == [2]
    # nothing matched: one empty result for the query
    assert run(base + "Env = 'nope'", samples) == [
        {"Id": "q", "Label": "q", "Timestamps": [], "Values": [], "StatusCode": "Complete"}]


def test_avg_sum_count_per_period_across_metrics():
    # Two functions, several observations a minute, 2-minute periods from t(0).
    samples = [
        (fn("a"), [(t(0), 1), (t(0) + 10, 3), (t(1), 8), (t(2), 10)]),
        (fn("b"), [(t(1) + 5, 2), (t(3), 6), (t(3) + 30, 6)]),
    ]
    base = 'SELECT {}(m) FROM SCHEMA("AWS/Lambda", FunctionName)'
    want = {  # period t(0)..t(2): 1, 3, 8, 2; period t(2)..t(4): 10, 6, 6
        "SUM": [22, 14], "COUNT": [3, 4], "MAX": [10, 8], "MIN": [6, 1],
        # the average of all observations, not the average of per-metric averages
        "AVG": [22 / 3, 14 / 4],
    }
    for func, values in want.items():
        [r] = run(base.format(func), samples, period=120)
        assert r["Timestamps"] == [t(2), t(0)] and r["Values"] == pytest.approx(values), func


def test_order_by_aggregates_every_datapoint_of_the_window():
    # SELECT MAX, ORDER BY SUM(): ranks on the sum of all observations (SQL inference page,
    # "ORDER BY global aggregation"), not on the per-period maxima.
    samples = [(fn("steady"), [(t(m), 10) for m in range(5)]),  # sum 50, max 10
               (fn("spiky"), [(t(0), 45)])]  # sum 45, max 45
    q = ('SELECT MAX(m) FROM SCHEMA("AWS/Lambda", FunctionName) GROUP BY FunctionName '
         "ORDER BY {}() DESC")
    assert [r["Label"] for r in run(q.format("SUM"), samples)] == ["steady", "spiky"]
    assert [r["Label"] for r in run(q.format("MAX"), samples)] == ["spiky", "steady"]
    assert [r["Label"] for r in run(q.format("COUNT"), samples)] == ["steady", "spiky"]
    assert [r["Label"] for r in run(q.format("AVG"), samples)] == ["spiky", "steady"]


def test_labels_for_ungrouped_and_static_labels():
    samples = [(fn("a"), [(t(0), 1)])]
    assert run('SELECT MAX(m) FROM "AWS/Lambda"', samples)[0]["Label"] == "q"
    assert run('SELECT MAX(m) FROM "AWS/Lambda"', samples, label="peak")[0]["Label"] == "peak"
    assert run(GUARD.format(n=5), samples, label="peak")[0]["Label"] == "peak a"


def test_at_most_500_series_without_limit():
    samples = [(fn(f"f{i:04d}"), [(t(0), i)]) for i in range(501)]
    query = parse('SELECT MAX(m) FROM SCHEMA("AWS/Lambda", FunctionName) GROUP BY FunctionName')
    groups = mi.group_samples(query, [(d, per_minute(p)) for d, p in samples], t(0), 60)
    kept, cut = mi.rank(query, groups)
    assert len(kept) == 500 and cut and kept[-1].key == ("f0499",)
    kept, cut = mi.rank(parse(GUARD.format(n=500)), groups)
    assert len(kept) == 500 and not cut and kept[0].key == ("f0500",)


# ---------------------------------------------------------------- requests, against a fake moto

class FakeMoto:
    """moto's CloudWatch JSON API as AWS defines it (exact MetricStat matching), in memory."""

    def __init__(self):
        self.data = []  # (namespace, name, dims tuple, t, value)
        self.calls = []

    def put(self, namespace, name, dims, points):
        self.data += [(namespace, name, tuple(dims), tt, v) for tt, v in points]

    def __call__(self, op, payload):
        self.calls.append((op, payload))
        return getattr(self, op)(payload)

    def ListMetrics(self, p):
        seen = sorted({(ns, dims) for ns, name, dims, _, _ in self.data if name == p["MetricName"]})
        start = int(p.get("NextToken", 0))
        page = [{"Namespace": ns, "MetricName": p["MetricName"],
                 "Dimensions": [{"Name": k, "Value": v} for k, v in dims]} for ns, dims in seen]
        more = start + 500 < len(page)
        return {"Metrics": page[start:start + 500], **({"NextToken": str(start + 500)} if more else {})}

    def GetMetricData(self, p):
        out = []
        for q in p["MetricDataQueries"]:
            m, stat, period = q["MetricStat"]["Metric"], q["MetricStat"]["Stat"], q["MetricStat"]["Period"]
            dims = tuple((d["Name"], d["Value"]) for d in m.get("Dimensions", []))
            buckets, start = {}, p["StartTime"]
            for ns, name, d, tt, v in self.data:
                if (ns, name, d) == (m["Namespace"], m["MetricName"], dims) and start <= tt < p["EndTime"]:
                    buckets.setdefault(start + (tt - start) // period * period, []).append(v)
            f = {"Maximum": max, "Minimum": min, "Sum": sum, "SampleCount": len}[stat]
            times = sorted(buckets, reverse=p.get("ScanBy") != "TimestampAscending")
            if q.get("ReturnData", True):
                out.append({"Id": q["Id"], "Label": m["MetricName"], "Timestamps": times,
                            "Values": [float(f(buckets[x])) for x in times], "StatusCode": "Complete"})
        return {"MetricDataResults": out}


def metric_stat(qid, dims, stat="Maximum", namespace="AWS/Lambda"):
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "ConcurrentExecutions",
                                                 "Dimensions": dims}, "Period": 60, "Stat": stat}}


def request(*queries, start=NOW - 600, end=NOW, **more):
    return {"MetricDataQueries": list(queries), "StartTime": start, "EndTime": end, **more}


def insights(text=GUARD.format(n=2), qid="insights", **more):
    return {"Id": qid, "Expression": text, "Period": 60, "ReturnData": True, **more}


@pytest.fixture
def moto():
    m = FakeMoto()
    m.put("AWS/Lambda", "ConcurrentExecutions", (), [(t(0), 100.0), (t(1), 120.0)])
    for name, peak in (("a", 10.0), ("b", 70.0), ("c", 40.0)):
        m.put("AWS/Lambda", "ConcurrentExecutions", fn(name), [(t(0), peak / 2), (t(1), peak)])
    m.put("AWS/Lambda", "ConcurrentExecutions", fn("a", Resource="a:live"), [(t(0), 999.0)])
    m.put("Other/NS", "ConcurrentExecutions", (("Queue", "q"),), [(t(0), 555.0)])
    return m


def test_insights_and_metric_stat_merged_in_request_order(moto):
    doc = mi.get_metric_data(request(metric_stat("m_account", []), insights(),
                                     metric_stat("m_a", [{"Name": "FunctionName", "Value": "a"}])),
                             moto, now=NOW)
    got = [(r["Id"], r["Label"], r["Values"]) for r in doc["MetricDataResults"]]
    assert got == [("m_account", "ConcurrentExecutions", [120.0, 100.0]),
                   ("insights", "b", [70.0, 35.0]), ("insights", "c", [40.0, 20.0]),
                   ("m_a", "ConcurrentExecutions", [10.0, 5.0])]
    assert doc["MetricDataResults"][1]["Timestamps"] == [t(1), t(0)]
    assert "Messages" not in doc
    # moto got the MetricStat queries in one call of their own, and the insights query never
    forwarded = [p for op, p in moto.calls if op == "GetMetricData"
                 and any(q["Id"].startswith("m_") for q in p["MetricDataQueries"])]
    assert [[q["Id"] for q in p["MetricDataQueries"]] for p in forwarded] == [["m_account", "m_a"]]


def periods(reads):
    return [{q["MetricStat"]["Period"] for q in p["MetricDataQueries"]} for p in reads]


def test_insights_alone_reads_moto_in_batches_of_500(moto):
    for i in range(1200):
        moto.put("AWS/Lambda", "ConcurrentExecutions", fn(f"q{i:04d}"), [(t(2), 1.0)])
    doc = mi.get_metric_data(request(insights(GUARD.format(n=4))), moto, now=NOW)
    assert [r["Label"] for r in doc["MetricDataResults"]] == ["b", "c", "a", "q0000"]
    assert [op for op, _ in moto.calls].count("ListMetrics") == 3  # pages of 500
    reads = [p for op, p in moto.calls if op == "GetMetricData"]
    # Ranking: all 1203 functions' Maximum over the whole 10 minutes as one period (moto's
    # cost is queries x periods x datapoints), 500 queries a call. Then the 4 kept functions
    # per minute.
    assert [len(p["MetricDataQueries"]) for p in reads] == [500, 500, 203, 4]
    assert periods(reads) == [{660}, {660}, {660}, {60}]
    assert {q["MetricStat"]["Stat"] for p in reads for q in p["MetricDataQueries"]} == {"Maximum"}
    kept = [q["MetricStat"]["Metric"]["Dimensions"] for q in reads[-1]["MetricDataQueries"]]
    assert kept == [[{"Name": "FunctionName", "Value": f}] for f in ("a", "b", "c", "q0000")]
    # AVG ordered by SUM: Sum to rank all, then Sum and SampleCount for the 4 kept
    moto.calls.clear()
    mi.get_metric_data(request(insights(GUARD.format(n=4).replace("MAX", "AVG", 1)
                                        .replace("MAX()", "SUM()"))), moto, now=NOW)
    reads = [p for op, p in moto.calls if op == "GetMetricData"]
    assert [len(p["MetricDataQueries"]) for p in reads] == [500, 500, 203, 8]
    assert [sorted({q["MetricStat"]["Stat"] for q in p["MetricDataQueries"]}) for p in reads] == [
        ["Sum"], ["Sum"], ["Sum"], ["SampleCount", "Sum"]]


def test_return_data_false_and_scan_by_ascending(moto):
    doc = mi.get_metric_data(request(insights(ReturnData=False), metric_stat("m_account", [])), moto, now=NOW)
    assert [r["Id"] for r in doc["MetricDataResults"]] == ["m_account"]
    doc = mi.get_metric_data(request(insights(GUARD.format(n=1)), ScanBy="TimestampAscending"), moto, now=NOW)
    assert doc["MetricDataResults"][0]["Timestamps"] == [t(0), t(1)]


def test_start_time_is_rounded_down_to_the_minute(moto):
    doc = mi.get_metric_data(request(insights(GUARD.format(n=1)), start=t(0) + 25), moto, now=NOW)
    assert doc["MetricDataResults"][0]["Timestamps"] == [t(1), t(0)]


def test_only_the_last_two_weeks_count(moto):
    old = NOW - mi.LOOKBACK_SECONDS - 3600
    moto.put("AWS/Lambda", "ConcurrentExecutions", fn("old"),
             [(old, 5000.0), (NOW - mi.LOOKBACK_SECONDS + 120, 3.0)])
    req = request(insights(GUARD.format(n=10), Period=86400), start=old - 60)
    doc = mi.get_metric_data(req, moto, now=NOW)
    got = {r["Label"]: r["Values"] for r in doc["MetricDataResults"]}
    assert got["old"] == [3.0]  # the 5000 is older than two weeks
    reads = [p for op, p in moto.calls if op == "GetMetricData"]
    assert all(p["StartTime"] >= NOW - mi.LOOKBACK_SECONDS for p in reads)
    # the cut first period no longer lines up with the day grid: moto is read per minute
    assert periods(reads)[-1] == {60}
    # a range entirely before the lookback reads nothing and answers one empty series
    moto.calls.clear()
    doc = mi.get_metric_data(request(insights(), start=old - 600, end=old), moto, now=NOW)
    assert doc["MetricDataResults"] == [{"Id": "insights", "Label": "insights", "Timestamps": [],
                                         "Values": [], "StatusCode": "Complete"}]
    assert moto.calls == []


def test_moto_is_read_at_the_querys_period(moto):
    doc = mi.get_metric_data(request(insights(GUARD.format(n=1), Period=120)), moto, now=NOW)
    assert doc["MetricDataResults"][0]["Timestamps"] == [t(0)]
    assert doc["MetricDataResults"][0]["Values"] == [70.0]
    reads = [p for op, p in moto.calls if op == "GetMetricData"]
    assert periods(reads) == [{660}, {120}]


def test_high_resolution_periods_come_back_per_minute(moto):
    doc = mi.get_metric_data(request(insights(GUARD.format(n=1), Period=10)), moto, now=NOW)
    assert doc["MetricDataResults"][0]["Timestamps"] == [t(1), t(0)]


def test_too_many_metrics_are_cut_with_a_message(moto, monkeypatch):
    monkeypatch.setattr(mi, "MAX_METRICS", 2)
    doc = mi.get_metric_data(request(insights(GUARD.format(n=10))), moto, now=NOW)
    assert doc["Messages"] == [{"Code": "MaxMetricsExceeded",
                                "Value": "Maximum number of allowed metrics exceeded"}]
    assert len(doc["MetricDataResults"]) == 2


@pytest.mark.parametrize("req,message", [
    (request(insights(), insights(qid="second")), "only one Metrics Insights query"),
    (request(insights(), {"Id": "e1", "Expression": "insights * 2"}), "metric math over a Metrics Insights"),
    (request(insights(MetricStat={})), "either Expression or MetricStat"),
    (request(insights(Label="${PROP('Dim.FunctionName')}")), "dynamic labels"),
    (request(insights(AccountId="111122223333")), "cross-account"),
    (request(insights(Period=90)), "The Period 90 is invalid"),
    (request(insights(Period=None)), "needs a Period"),
    (request(insights(), start=NOW, end=NOW), "StartTime must not equal parameter EndTime"),
    (request(insights(), start=NOW, end=NOW - 60), "EndTime must be greater than StartTime"),
    (request(insights("select max(Count) from ns")), "Reserved keyword 'Count'"),
])
def test_requests_refused_before_reading_moto(moto, req, message):
    with pytest.raises(QueryError) as e:
        mi.get_metric_data(req, moto, now=NOW)
    assert message in str(e.value)
    assert moto.calls == []


def test_metrics_moto_cannot_read_apart_are_refused(moto):
    # moto's MetricStat ignores the namespace when dimensions are given: the same function
    # name in another namespace would leak in.
    moto.put("Copy/NS", "ConcurrentExecutions", fn("b"), [(t(0), 1.0)])
    with pytest.raises(QueryError, match="moto mixes in the same metric of namespace"):
        mi.get_metric_data(request(insights()), moto, now=NOW)
    # ... and takes every dimension set when none is given.
    with pytest.raises(QueryError, match="dimensionless ConcurrentExecutions in AWS/Lambda"):
        mi.get_metric_data(request(insights('SELECT MAX(ConcurrentExecutions) FROM SCHEMA("AWS/Lambda")')),
                           moto, now=NOW)
    # Queries that do not match the ambiguous metrics are answered.
    doc = mi.get_metric_data(request(insights(GUARD.format(n=5).replace("LIMIT 5", "")
                                              .replace("GROUP BY", "WHERE FunctionName != 'b' GROUP BY"))),
                             moto, now=NOW)
    assert [r["Label"] for r in doc["MetricDataResults"]] == ["c", "a"]


def test_moto_errors_pass_through(moto):
    def failing(op, payload):
        raise mi.UpstreamError(400, "InvalidParameterValue", "nope")
    with pytest.raises(mi.UpstreamError):
        mi.get_metric_data(request(insights()), failing, now=NOW)
