"""Tests for scripts/cbor_proxy.py against a real moto_server.

Requests are built byte by byte the way aws-sdk-cloudwatch (Rust) builds them:
structures as indefinite-length CBOR maps, lists with a definite length,
timestamps as tag 1 + float64, doubles as float64, a SigV4-looking
Authorization header. Responses are checked down to the wire types the Rust
decoders insist on (tag 1 timestamps, float64 doubles, `__type` in errors).

If the environment already points at a running stand-in (scripts/lib.sh
standin_start exports CGUARD_STANDIN, AWS_ENDPOINT_URL, STANDIN_MOTO_URL), that
one is used; otherwise the module starts its own moto + proxy.
"""

import datetime as dt
import gzip
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import cbor2
import pytest

HERE = Path(__file__).resolve().parent
CW = "GraniteServiceVersion20100801"
UTC = dt.timezone.utc


# ---------------------------------------------------------------- stand-in fixture

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url, proc, log):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up; log:\n{Path(log).read_text()[-3000:]}")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    env = os.environ
    if env.get("CGUARD_STANDIN") == "1" and env.get("AWS_ENDPOINT_URL") and env.get("STANDIN_MOTO_URL"):
        yield {"proxy": env["AWS_ENDPOINT_URL"], "moto": env["STANDIN_MOTO_URL"]}
        return
    logs = tmp_path_factory.mktemp("standin")
    moto_port, proxy_port = _free_port(), _free_port()
    moto_bin = Path(sys.executable).parent / "moto_server"
    procs = []
    try:
        with open(logs / "moto.log", "w") as out:
            procs.append(subprocess.Popen(
                [str(moto_bin), "-H", "127.0.0.1", "-p", str(moto_port)], stdout=out,
                stderr=subprocess.STDOUT, env={**env, "MOTO_LAMBDA_CONCURRENCY_QUOTA": "1000"}))
        _wait(f"http://127.0.0.1:{moto_port}/moto-api/", procs[0], logs / "moto.log")
        with open(logs / "proxy.log", "w") as out:
            procs.append(subprocess.Popen(
                [sys.executable, str(HERE / "cbor_proxy.py"), "--listen-port", str(proxy_port),
                 "--upstream", f"http://127.0.0.1:{moto_port}"], stdout=out, stderr=subprocess.STDOUT))
        _wait(f"http://127.0.0.1:{proxy_port}/moto-api/", procs[1], logs / "proxy.log")
        yield {"proxy": f"http://127.0.0.1:{proxy_port}", "moto": f"http://127.0.0.1:{moto_port}"}
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


# ---------------------------------------------------------------- CBOR like the Rust SDK

def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    return bytes([major << 5 | 26]) + struct.pack(">I", n)


def enc(v):
    """Encode like aws_smithy_cbor::Encoder as driven by the generated serializers."""
    if isinstance(v, dict):  # structure: begin_map() .. end()
        return b"\xbf" + b"".join(cbor2.dumps(k) + enc(x) for k, x in v.items()) + b"\xff"
    if isinstance(v, list):  # list: array(len)
        return _head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dt.datetime):  # timestamp: tag 1 + f64
        return b"\xc1\xfb" + struct.pack(">d", v.timestamp())
    if isinstance(v, float):  # double: always f64
        return b"\xfb" + struct.pack(">d", v)
    return cbor2.dumps(v)  # str, int, bool


def f64(x):
    return b"\xfb" + struct.pack(">d", float(x))


def tag1(t):
    return b"\xc1" + f64(t.timestamp())


def call(standin, op, payload=None, raw=None, headers=None, service=CW):
    """POST an RPCv2 CBOR request; returns (status, headers dict, raw body)."""
    body = raw if raw is not None else (b"" if payload is None else enc(payload))
    url = urllib.parse.urlsplit(standin["proxy"])
    now = dt.datetime.now(UTC)
    h = {
        "smithy-protocol": "rpc-v2-cbor",
        "Content-Type": "application/cbor",
        "Accept": "application/cbor",
        "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
        "amz-sdk-invocation-id": str(uuid.uuid4()),
        "Authorization": (f"AWS4-HMAC-SHA256 Credential=testing/{now:%Y%m%d}/us-east-1/monitoring/"
                          "aws4_request, SignedHeaders=accept;content-type;host;smithy-protocol;"
                          "x-amz-date, Signature=" + "0" * 64),
        "Content-Length": str(len(body)),
        **(headers or {}),
    }
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", f"/service/{service}/operation/{op}", body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def ok(standin, op, payload=None, **kw):
    status, headers, body = call(standin, op, payload, **kw)
    assert status == 200, (status, body)
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["content-type"] == "application/cbor"
    return cbor2.loads(body) if body else {}, body


def err(standin, op, payload=None, **kw):
    status, headers, body = call(standin, op, payload, **kw)
    assert 400 <= status < 600, (status, body)
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["content-type"] == "application/cbor"
    doc = cbor2.loads(body)
    assert isinstance(doc["__type"], str) and isinstance(doc["message"], str)
    return status, doc


def minute(offset):
    """Minute-aligned UTC datetime `offset` minutes from now (negative = past)."""
    base = int(time.time()) // 60 * 60
    return dt.datetime.fromtimestamp(base + 60 * offset, UTC)


@pytest.fixture
def ns():
    return f"CGuardTest/{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- tests

def test_put_then_get_metric_data(standin, ns):
    t1, t2, t3 = minute(-5), minute(-4), minute(-3)
    dims = [{"Name": "FunctionName", "Value": "fn-a"}]
    ok(standin, "PutMetricData", {"Namespace": ns, "MetricData": [
        {"MetricName": "ConcurrentExecutions", "Dimensions": dims, "Timestamp": t1, "Value": 5.0, "Unit": "Count"},
        {"MetricName": "ConcurrentExecutions", "Dimensions": dims, "Timestamp": t2, "Value": 7.5, "Unit": "Count"},
        {"MetricName": "ConcurrentExecutions", "Dimensions": dims, "Timestamp": t3, "Value": 12.0, "Unit": "Count"},
    ]})
    doc, raw = ok(standin, "GetMetricData", {
        "MetricDataQueries": [
            {"Id": "m1", "MetricStat": {
                "Metric": {"Namespace": ns, "MetricName": "ConcurrentExecutions", "Dimensions": dims},
                "Period": 60, "Stat": "Maximum"}, "ReturnData": True},
            {"Id": "e1", "Expression": "m1", "Label": "copy"},
        ],
        "StartTime": minute(-10), "EndTime": minute(1), "ScanBy": "TimestampAscending",
    })
    results = {r["Id"]: r for r in doc["MetricDataResults"]}
    assert set(results) == {"m1", "e1"}
    for r in results.values():
        assert r["StatusCode"] == "Complete"
        assert r["Timestamps"] == [t1, t2, t3]
        assert r["Values"] == [5.0, 7.5, 12.0]
        assert all(type(v) is float for v in r["Values"])
    assert results["e1"]["Label"] == "copy"
    # Wire types the Rust decoders require: tag 1 timestamps, f64 values (12.0 not int 12).
    for t in (t1, t2, t3):
        assert tag1(t) in raw
    assert f64(12.0) in raw and f64(7.5) in raw

    # Default ScanBy is TimestampDescending.
    doc, _ = ok(standin, "GetMetricData", {
        "MetricDataQueries": [{"Id": "m1", "MetricStat": {
            "Metric": {"Namespace": ns, "MetricName": "ConcurrentExecutions", "Dimensions": dims},
            "Period": 300, "Stat": "Sum"}}],
        "StartTime": minute(-5), "EndTime": minute(1),
    })
    [r] = doc["MetricDataResults"]
    assert r["Values"] == [24.5] and r["Timestamps"] == [minute(-5)]


def test_timestamps_with_fractions_and_ints_are_accepted(standin, ns):
    # Tag 1 may also carry an integer or a fractional float (RFC 8949 3.4.2).
    t = minute(-2)
    raw = (b"\xbf" + cbor2.dumps("Namespace") + cbor2.dumps(ns) + cbor2.dumps("MetricData") + b"\x82"
           + b"\xbf" + cbor2.dumps("MetricName") + cbor2.dumps("M") + cbor2.dumps("Timestamp")
           + b"\xc1" + cbor2.dumps(int(t.timestamp())) + cbor2.dumps("Value") + f64(1) + b"\xff"
           + b"\xbf" + cbor2.dumps("MetricName") + cbor2.dumps("M") + cbor2.dumps("Timestamp")
           + b"\xc1" + f64(t.timestamp() + 0.25) + cbor2.dumps("Value") + f64(2) + b"\xff" + b"\xff")
    ok(standin, "PutMetricData", raw=raw)
    doc, _ = ok(standin, "GetMetricData", {
        "MetricDataQueries": [{"Id": "a", "MetricStat": {
            "Metric": {"Namespace": ns, "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}],
        "StartTime": minute(-3), "EndTime": minute(0),
    })
    assert doc["MetricDataResults"][0]["Values"] == [3.0]


def test_list_metrics_filters_and_paginates(standin, ns):
    t = minute(-1)
    ok(standin, "PutMetricData", {"Namespace": ns, "MetricData": [
        {"MetricName": "ConcurrentExecutions", "Dimensions": [{"Name": "FunctionName", "Value": f}],
         "Timestamp": t, "Value": 1.0} for f in ("fn-a", "fn-b")]})
    doc, _ = ok(standin, "ListMetrics", {
        "Namespace": ns, "MetricName": "ConcurrentExecutions", "RecentlyActive": "PT3H",
        "Dimensions": [{"Name": "FunctionName", "Value": "fn-b"}]})
    assert doc["Metrics"] == [{"Namespace": ns, "MetricName": "ConcurrentExecutions",
                               "Dimensions": [{"Name": "FunctionName", "Value": "fn-b"}]}]
    assert "NextToken" not in doc

    # moto pages ListMetrics at 500. Big PutMetricData bodies arrive gzipped from
    # the SDK (@requestCompression, > 10 KiB), so send this one that way too.
    body = enc({"Namespace": ns + "/many", "MetricData": [
        {"MetricName": f"m{i:03d}", "Timestamp": t, "Value": float(i)} for i in range(520)]})
    assert len(body) > 10240
    ok(standin, "PutMetricData", raw=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    doc, _ = ok(standin, "ListMetrics", {"Namespace": ns + "/many", "RecentlyActive": "PT3H"})
    assert len(doc["Metrics"]) == 500 and isinstance(doc["NextToken"], str)
    doc2, _ = ok(standin, "ListMetrics", {"Namespace": ns + "/many", "NextToken": doc["NextToken"]})
    assert len(doc2["Metrics"]) == 20 and "NextToken" not in doc2
    names = {m["MetricName"] for m in doc["Metrics"] + doc2["Metrics"]}
    assert names == {f"m{i:03d}" for i in range(520)}


def test_alarm_round_trip(standin, ns):
    name = f"cguard-test-{uuid.uuid4().hex[:8]}"
    ok(standin, "PutMetricAlarm", {
        "AlarmName": name, "AlarmDescription": "spike", "ActionsEnabled": True,
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:topic"],
        "MetricName": "ConcurrentExecutions", "Namespace": ns, "Statistic": "Maximum",
        "Dimensions": [{"Name": "FunctionName", "Value": "fn-a"}],
        "Period": 60, "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "Threshold": 100.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "Tags": [{"Key": "app", "Value": "cguard"}],
    })
    doc, raw = ok(standin, "DescribeAlarms", {"AlarmNames": [name]})
    [a] = doc["MetricAlarms"]
    assert a["AlarmName"] == name and a["Namespace"] == ns
    assert a["AlarmArn"].endswith(f":alarm:{name}")
    assert type(a["Threshold"]) is float and a["Threshold"] == 100.0 and f64(100) in raw
    assert a["Period"] == 60 and a["EvaluationPeriods"] == 2 and a["DatapointsToAlarm"] == 2
    assert a["Dimensions"] == [{"Name": "FunctionName", "Value": "fn-a"}]
    assert a["StateValue"] == "OK"
    for key in ("StateUpdatedTimestamp", "AlarmConfigurationUpdatedTimestamp"):
        assert isinstance(a[key], dt.datetime)
        assert tag1(a[key]) in raw  # tag 1 + f64 on the wire

    ok(standin, "SetAlarmState", {"AlarmName": name, "StateValue": "ALARM", "StateReason": "test"})
    doc, _ = ok(standin, "DescribeAlarms", {"AlarmNames": [name], "StateValue": "ALARM"})
    assert [a["StateReason"] for a in doc["MetricAlarms"]] == ["test"]

    # Empty input: the SDK may send an empty map or nothing at all.
    for raw_body in (b"\xbf\xff", b""):
        doc, _ = ok(standin, "DescribeAlarms", raw=raw_body)
        assert name in [a["AlarmName"] for a in doc["MetricAlarms"]]

    ok(standin, "DeleteAlarms", {"AlarmNames": [name]})
    doc, _ = ok(standin, "DescribeAlarms", {"AlarmNames": [name]})
    assert doc["MetricAlarms"] == []


def test_errors_are_cbor_with_type(standin):
    status, doc = err(standin, "SetAlarmState",
                      {"AlarmName": "no-such-alarm", "StateValue": "ALARM", "StateReason": "x"})
    assert (status, doc["__type"]) == (404, "ResourceNotFound")

    t = minute(0)
    status, doc = err(standin, "GetMetricData", {"MetricDataQueries": [], "StartTime": t, "EndTime": t})
    assert (status, doc["__type"]) == (400, "ValidationError")
    assert "StartTime" in doc["message"]

    status, doc = err(standin, "ListMetrics", {"NextToken": "bogus"})
    assert (status, doc["__type"]) == (400, "InvalidParameterValue")

    status, doc = err(standin, "PutMetricData", raw=b"\xff\x00garbage")
    assert (status, doc["__type"]) == (400, "SerializationException")

    status, doc = err(standin, "NoSuchOperation", {})
    assert (status, doc["__type"]) == (404, "UnknownOperationException")


def test_non_cbor_requests_pass_through(standin):
    import boto3

    kw = dict(endpoint_url=standin["proxy"], region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    # A POST with a JSON body (SQS JSON protocol) and a REST-JSON GET (Lambda).
    sqs = boto3.client("sqs", **kw)
    q = f"cguard-test-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=q)["QueueUrl"]
    assert url in sqs.list_queues(QueueNamePrefix=q)["QueueUrls"]

    def get(base):
        u = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("GET", "/2015-03-31/functions/?MaxItems=50", headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/"
                             "aws4_request, SignedHeaders=host, Signature=0"})
        r = conn.getresponse()
        out = r.status, r.getheader("Content-Type"), r.read()
        conn.close()
        return out

    via_proxy, direct = get(standin["proxy"]), get(standin["moto"])
    assert via_proxy == direct
    assert via_proxy[0] == 200 and "Functions" in json.loads(via_proxy[2])


def test_botocore_cbor_client_agrees(standin, ns, monkeypatch):
    """Cross-check with botocore's own RPCv2 CBOR serializer/parser."""
    import boto3
    import botocore.model

    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", ("smithy-rpc-v2-cbor",))
    cw = boto3.client("cloudwatch", endpoint_url=standin["proxy"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    assert cw.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    t = minute(-2)
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "M", "Timestamp": t, "Value": 4}])
    r = cw.get_metric_data(StartTime=minute(-3), EndTime=minute(0), MetricDataQueries=[
        {"Id": "a", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}])
    [res] = r["MetricDataResults"]
    assert res["Values"] == [4.0] and res["Timestamps"][0].timestamp() == t.timestamp()
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="OK", StateReason="x")


# ---------------------------------------------------------------- Metrics Insights

def _insights_seed(standin, ns):
    """Three functions (unique names: moto's MetricStat matching ignores the namespace when
    dimensions are given, so a name reused elsewhere would make the query refused), one alias
    series and the account series. Returns the function names and the three minutes."""
    tag = uuid.uuid4().hex[:8]
    names = [f"insights-{tag}-{x}" for x in "abc"]
    minutes = [minute(-4), minute(-3), minute(-2)]
    peaks = {names[0]: [3.0, 9.0, 4.0], names[1]: [20.0, 5.0, 1.0], names[2]: [7.0, 8.0, 15.0]}

    def datum(dims, t, v):
        return {"MetricName": "ConcurrentExecutions", "Dimensions": dims, "Timestamp": t,
                "Value": v, "Unit": "Count"}

    data = [datum([{"Name": "FunctionName", "Value": f}], t, v)
            for f, values in peaks.items() for t, v in zip(minutes, values)]
    # An alias series (FunctionName + Resource): SCHEMA(ns, FunctionName) must leave it out.
    data.append(datum([{"Name": "FunctionName", "Value": names[0]},
                       {"Name": "Resource", "Value": f"{names[0]}:live"}], minutes[1], 500.0))
    # The account series, above every function as on AWS (moto's dimensionless MetricStat
    # also takes in the namespace's dimensioned series; this keeps its Maximum right).
    data += [datum([], t, 600.0) for t in minutes]
    ok(standin, "PutMetricData", {"Namespace": ns, "MetricData": data})
    return names, minutes


def test_metrics_insights_top_n_through_the_proxy(standin, ns):
    names, (t1, t2, t3) = _insights_seed(standin, ns)
    # What the guard sends (shared/aws/src/cloudwatch.rs top_peaks), plus a MetricStat query
    # for the account in the same request, before it.
    doc, raw = ok(standin, "GetMetricData", {
        "MetricDataQueries": [
            {"Id": "m_account", "MetricStat": {
                "Metric": {"Namespace": ns, "MetricName": "ConcurrentExecutions"},
                "Period": 60, "Stat": "Maximum"}, "ReturnData": True},
            {"Id": "insights", "Expression":
                f'SELECT MAX(ConcurrentExecutions) FROM SCHEMA("{ns}", FunctionName) '
                "GROUP BY FunctionName ORDER BY MAX() DESC LIMIT 2",
             "Period": 60, "ReturnData": True},
        ],
        "StartTime": minute(-10), "EndTime": minute(1),
    })
    results = doc["MetricDataResults"]
    assert [(r["Id"], r.get("Label")) for r in results[1:]] == [("insights", names[1]),
                                                                ("insights", names[2])]
    account, first, second = results
    assert account["Id"] == "m_account" and account["Values"] == [600.0, 600.0, 600.0]
    # one series per function, labelled with its name, newest datapoint first
    assert first["Timestamps"] == [t3, t2, t1] and first["Values"] == [1.0, 5.0, 20.0]
    assert second["Timestamps"] == [t3, t2, t1] and second["Values"] == [15.0, 8.0, 7.0]
    assert all(r["StatusCode"] == "Complete" for r in results)
    assert "Messages" not in doc
    # the wire types the Rust decoders require
    assert tag1(t3) in raw and f64(15.0) in raw and f64(20.0) in raw

    # AVG per 3-minute period over the three functions, ungrouped: (sum of all nine) / 9
    doc, _ = ok(standin, "GetMetricData", {
        "MetricDataQueries": [{"Id": "avg", "Label": "mean", "Period": 180, "Expression":
                               f'SELECT AVG(ConcurrentExecutions) FROM SCHEMA("{ns}", FunctionName)'}],
        "StartTime": t1, "EndTime": minute(1),
    })
    [r] = doc["MetricDataResults"]
    assert (r["Label"], r["Timestamps"], r["Values"]) == ("mean", [t1], [72.0 / 9])


def test_the_moto_header_gets_motos_own_ungrouped_answer(standin, ns):
    """What the guard's end-to-end fallback test asks for: moto's own answer to the query, one
    series labelled with the query's id, not one per function."""
    names, _ = _insights_seed(standin, ns)
    query = {
        "MetricDataQueries": [{"Id": "insights", "Period": 60, "ReturnData": True, "Expression":
                               f'SELECT MAX(ConcurrentExecutions) FROM SCHEMA("{ns}", FunctionName) '
                               "GROUP BY FunctionName ORDER BY MAX() DESC LIMIT 2"}],
        "StartTime": minute(-10), "EndTime": minute(1),
    }
    evaluated, _ = ok(standin, "GetMetricData", query)
    assert [r.get("Label") for r in evaluated["MetricDataResults"]] == names[1:]
    raw, _ = ok(standin, "GetMetricData", query, headers={"x-standin-insights": "moto"})
    labels = [r.get("Label") for r in raw["MetricDataResults"]]
    assert labels == ["insights"], raw


def test_metrics_insights_bad_query_is_a_validation_error(standin, ns):
    for expr in ("SELECT MAX(Count) FROM SCHEMA(\"AWS/Lambda\", FunctionName)",
                 "SELECT PERCENTILE(ConcurrentExecutions) FROM \"AWS/Lambda\""):
        status, headers, body = call(standin, "GetMetricData", {
            "MetricDataQueries": [{"Id": "q", "Expression": expr, "Period": 60}],
            "StartTime": minute(-10), "EndTime": minute(0)})
        doc = cbor2.loads(body)
        assert (status, doc["__type"]) == (400, "ValidationError"), doc
        assert headers["x-amzn-query-error"] == "ValidationError;Sender"
        assert "Invalid syntax" in doc["message"]


def test_botocore_cbor_client_reads_insights(standin, ns, monkeypatch):
    """The same answer through botocore's own RPCv2 CBOR parser."""
    import boto3
    import botocore.model

    names, (t1, t2, t3) = _insights_seed(standin, ns)
    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", ("smithy-rpc-v2-cbor",))
    cw = boto3.client("cloudwatch", endpoint_url=standin["proxy"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    r = cw.get_metric_data(StartTime=minute(-10), EndTime=minute(1), MetricDataQueries=[{
        "Id": "q", "Period": 60, "Expression":
            f'SELECT SUM(ConcurrentExecutions) FROM SCHEMA("{ns}", FunctionName) GROUP BY FunctionName'}])
    got = {x["Label"]: x["Values"] for x in r["MetricDataResults"]}
    assert got == {names[0]: [4.0, 9.0, 3.0], names[1]: [1.0, 5.0, 20.0], names[2]: [15.0, 8.0, 7.0]}
    assert [x["Label"] for x in r["MetricDataResults"]] == sorted(names)  # alphabetical without ORDER BY
    with pytest.raises(cw.exceptions.ClientError) as e:
        cw.get_metric_data(StartTime=minute(-10), EndTime=minute(1), MetricDataQueries=[
            {"Id": "q", "Period": 60, "Expression": "SELECT MAX(m) FROM ns LIMIT 501"}])
    assert e.value.response["Error"]["Code"] == "ValidationError"


# ---------------------------------------------------------------- opt-in latency

def _latency_proxy(standin, tmp_path, args=(), env=None):
    """A second proxy in front of the same moto, started with `args` / `env`."""
    port = _free_port()
    log = tmp_path / f"proxy-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "cbor_proxy.py"), "--listen-port", str(port),
             "--upstream", standin["moto"], *args],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        _wait(f"http://127.0.0.1:{port}/moto-api/", proc, log)
    except Exception:
        proc.terminate()
        proc.wait(10)
        raise
    return proc, {"proxy": f"http://127.0.0.1:{port}", "moto": standin["moto"]}


def _timed(f):
    t = time.monotonic()
    out = f()
    return time.monotonic() - t, out


@pytest.mark.parametrize("how", ["flag", "env"])
def test_latency_delays_every_request_it_forwards_or_answers(standin, ns, tmp_path, how):
    # GIVEN a proxy with 300 ms of latency, set by the flag or by CBOR_PROXY_LATENCY_MS
    args, env = (["--latency-ms", "300"], None) if how == "flag" else ([], {"CBOR_PROXY_LATENCY_MS": "300"})
    proc, slow = _latency_proxy(standin, tmp_path, args, env)
    try:
        # WHEN a CBOR call it answers (PutMetricData) and a request it passes through (Lambda) are sent
        put = {"Namespace": ns, "MetricData": [
            {"MetricName": "ConcurrentExecutions", "Timestamp": minute(-1), "Value": 1.0}]}
        def lambda_get(base):
            return urllib.request.urlopen(urllib.request.Request(
                f"{base}/2015-03-31/functions/?MaxItems=1", headers={
                    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/"
                                     "aws4_request, SignedHeaders=host, Signature=0"}), timeout=30).read()

        cbor_wait, _ = _timed(lambda: ok(slow, "PutMetricData", put))
        pass_wait, body = _timed(lambda: lambda_get(slow["proxy"]))

        # THEN each waited at least the latency, and the answers are the ones without latency
        assert cbor_wait >= 0.3 and pass_wait >= 0.3, (cbor_wait, pass_wait)
        assert json.loads(body).keys() == json.loads(lambda_get(standin["proxy"])).keys()
        log = tmp_path / f"proxy-{urllib.parse.urlsplit(slow['proxy']).port}.log"
        assert "300 ms latency per request" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)


def test_latency_is_per_request_not_serialised(standin, tmp_path):
    # GIVEN a proxy with 500 ms of latency
    import concurrent.futures

    proc, slow = _latency_proxy(standin, tmp_path, ["--latency-ms", "500"])
    try:
        # WHEN four requests are in flight together
        def one(_):
            return urllib.request.urlopen(f"{slow['proxy']}/moto-api/", timeout=30).status

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            took, statuses = _timed(lambda: list(pool.map(one, range(4))))

        # THEN they wait together: about one latency, far from four in a row (2 s)
        assert statuses == [200] * 4
        assert 0.5 <= took < 1.5, took
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("bad", ["-1", "soon", "nan", "inf"])
def test_latency_must_be_a_number_of_milliseconds(bad):
    out = subprocess.run([sys.executable, str(HERE / "cbor_proxy.py"), "--listen-port", "1",
                          "--upstream", "http://127.0.0.1:1", "--latency-ms", bad],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--latency-ms" in out.stderr, out.stderr


# ---------------------------------------------------------------- DynamoDB one at a time

def test_dynamodb_requests_reach_moto_one_at_a_time(tmp_path):
    """moto checks a condition and writes without a lock: under load two conditional writes on
    one item can both pass (measured 10 of 300 rounds). DynamoDB's are atomic, and the guard's
    ledger rests on that, so the proxy passes DynamoDB requests on one at a time. An upstream
    that counts the requests it holds at once shows it: never more than one for DynamoDB, while
    other services still overlap."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    held = {"now": 0, "DynamoDB": 0, "SQS": 0}
    lock = threading.Lock()

    class Upstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):  # the proxy's readiness probe
            self._answer()

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = "DynamoDB" if self.headers.get("X-Amz-Target", "").startswith("DynamoDB_") else "SQS"
            with lock:
                held["now"] += 1
                held[kind] = max(held[kind], held["now"])
            time.sleep(0.05)
            with lock:
                held["now"] -= 1
            self._answer()

        def _answer(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = _free_port()
    log = tmp_path / "proxy.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "cbor_proxy.py"), "--listen-port", str(port),
             "--upstream", f"http://127.0.0.1:{upstream.server_port}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{port}/moto-api/", proc, log)

        def post(target):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/", body=b"{}", headers={
                "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
            conn.getresponse().read()
            conn.close()

        for target in ("DynamoDB_20120810.UpdateItem", "AmazonSQS.SendMessage"):
            threads = [threading.Thread(target=post, args=(target,)) for _ in range(8)]
            [t.start() for t in threads]
            [t.join() for t in threads]
    finally:
        proc.terminate()
        proc.wait(10)
        upstream.shutdown()
    assert held["DynamoDB"] == 1, held
    assert held["SQS"] > 1, held
