#!/usr/bin/env python3
"""Translating proxy in front of moto_server.

The Rust aws-sdk-cloudwatch only speaks Smithy RPC v2 CBOR, which moto does not
implement. This proxy turns those requests into CloudWatch JSON 1.0 calls to
moto and turns moto's JSON answers (success and error) back into CBOR, walking
the botocore CloudWatch model so timestamps and doubles get their wire types
from the shape, not from guessing. A GetMetricData request with a Metrics Insights
query (`SELECT ...`) is answered with metrics_insights.py, which reads moto's datapoints,
since moto's own answer to such a query is one ungrouped series (a request carrying the header
`x-standin-insights: moto` gets moto's own answer: the end-to-end test of the guard's fallback
asks for it). Every other request
(Lambda, API Gateway, SQS, SNS, STS, tagging, ...) is forwarded to moto unchanged.

Opt-in latency (--latency-ms, or CBOR_PROXY_LATENCY_MS in the environment; default 0): every
request the proxy receives waits that long before it is forwarded or answered, each in its own
thread, so requests in flight together wait together. scripts/bench uses it to count the guard's
sequential round trips: (wall time at L ms - wall time at 0) / L. The proxy's own calls to moto
(Metrics Insights) do not wait: one client request is one round trip, as on AWS.

Usage: cbor_proxy.py --listen-port 4566 --upstream http://127.0.0.1:5000 [--latency-ms 20]
"""

import argparse
import base64
import datetime
import gzip
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import cbor2

import metrics_insights

# A request with this header set to `moto` has its Metrics Insights query answered by moto itself
# (one ungrouped series), as the stand-in did before it evaluated queries: what the guard must
# not believe.
MOTO_INSIGHTS_HEADER = "x-standin-insights"

# Smithy service name in the CBOR path -> botocore service name.
CBOR_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

# Used when a CBOR request arrives unsigned: moto picks the backend (service and
# region) from the SigV4 credential scope.
FALLBACK_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20000101/us-east-1/{}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)

# Hop-by-hop headers are re-done by this proxy; the rest is passed as is.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length"}

_MODELS = {}


def service_model(name):
    if name not in _MODELS:
        _MODELS[name] = botocore.session.get_session().get_service_model(name)
    return _MODELS[name]


# ---------------------------------------------------------------- conversions

def _epoch(value):
    """CBOR/JSON timestamp value -> epoch seconds (float)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, cbor2.CBORTag):  # tag 1 that cbor2 did not decode itself
        value = value.value
    if isinstance(value, str):  # ISO-8601 or a number in a string
        try:
            return float(value)
        except ValueError:
            return _epoch(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
    return float(value)


def to_json(shape, value):
    """Decoded CBOR input -> JSON 1.0 value for moto, by shape."""
    if value is None or shape is None:
        return value
    t = shape.type_name
    if t == "structure":
        return {k: to_json(shape.members.get(k), v) for k, v in value.items()}
    if t == "list":
        return [to_json(shape.member, v) for v in value]
    if t == "map":
        return {k: to_json(shape.value, v) for k, v in value.items()}
    if t == "timestamp":
        return _epoch(value)
    if t == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value


def to_cbor(shape, value):
    """moto's JSON output value -> CBOR-ready Python value, by shape.

    Members not in the shape and JSON nulls are dropped (the SDK would skip or
    reject them anyway)."""
    t = shape.type_name
    if t == "structure":
        out = {}
        for k, v in value.items():
            if v is not None and k in shape.members:
                out[k] = to_cbor(shape.members[k], v)
        return out
    if t == "list":
        return [to_cbor(shape.member, v) for v in value if v is not None]
    if t == "map":
        return {k: to_cbor(shape.value, v) for k, v in value.items() if v is not None}
    if t == "timestamp":
        # Tag 1 + float64, exactly what the Rust SDK's own encoder emits.
        return cbor2.CBORTag(1, _epoch(value))
    if t in ("double", "float"):
        return float(value)  # cbor2 writes Python floats as float64, never as ints
    if t in ("integer", "long", "short", "byte"):
        return int(value)
    if t == "boolean":
        return bool(value)
    if t == "blob":
        return base64.b64decode(value) if isinstance(value, str) else value
    return value


def json_object(data):
    """moto's answer body as a dict, or None if it is not a JSON object."""
    try:
        doc = json.loads(data) if data.strip() else {}
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def passed_headers(up_headers):
    """The headers of moto's answer that the client gets too."""
    return [(k, v) for k, v in up_headers
            if k.lower() in ("x-amzn-requestid", "x-amz-request-id", "x-amzn-query-error")]


def upstream_error(status, up_headers, data):
    """moto's error answer -> (status, code, message, headers to pass on)."""
    passed = passed_headers(up_headers)
    doc = json_object(data)
    if doc is not None:
        code = str(doc.get("__type") or "InternalFailure").split("#")[-1]
        msg = doc.get("message") or doc.get("Message") or ""
        # CloudWatch is awsQueryCompatible: the SDK takes the error code from
        # x-amzn-query-error when present (moto: body "ValidationException",
        # header "ValidationError;Sender"). Make __type say the same thing.
        query_error = next((v for k, v in passed if k.lower() == "x-amzn-query-error"), "")
        if ";" in query_error:
            code = query_error.split(";")[0]
    else:  # moto crashed and answered HTML/text
        code, msg = "InternalFailure", data.decode("utf-8", "replace")[:2000]
        status = status if status >= 400 else 500
    return status, code, msg, passed


# ---------------------------------------------------------------- HTTP

DYNAMODB_ONE_AT_A_TIME = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for SDK clients; we always send Content-Length
    upstream = None  # urllib.parse.SplitResult, set in main()
    latency = 0.0  # seconds every request waits before it is handled (--latency-ms)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.reason, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _send(self, status, headers, body, reason=None):
        # send_response_only: upstream's own Server/Date headers are passed, not doubled.
        self.log_request(status)
        self.send_response_only(status, reason)
        if not any(k.lower() == "date" for k, _ in headers):
            self.send_header("Date", self.date_time_string())
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        length = len(body)
        if self.command == "HEAD":  # no body was read; keep the length upstream announced
            length = next((v for k, v in headers if k.lower() == "content-length"), 0)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        body = self._read_body()
        parts = self.path.split("?")[0].split("/")
        # /service/<ServiceName>/operation/<Operation>
        if (self.headers.get("smithy-protocol", "").lower() == "rpc-v2-cbor"
                and len(parts) == 5 and parts[1] == "service" and parts[3] == "operation"):
            self._handle_cbor(parts[2], parts[4], body)
        else:
            self._passthrough(body)

    def _passthrough(self, body):
        # DynamoDB promises that a conditional write is atomic; moto evaluates the condition and
        # writes without a lock, so under load two conditional writes on one item can both pass
        # (measured: 10 of 300 rounds of 8 racing `attribute_not_exists` updates, on a loaded
        # machine). The guard's ledger rests on that promise, so the stand-in keeps it: DynamoDB
        # requests reach moto one at a time.
        if self.headers.get("X-Amz-Target", "").startswith("DynamoDB_"):
            with DYNAMODB_ONE_AT_A_TIME:
                return self._forward(body)
        return self._forward(body)

    def _forward(self, body):
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP or k.lower() == "content-length"]
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            headers.append(("Content-Length", str(len(body))))
        # http.client would add its own Host/Content-Length; pass ours through instead.
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            self._send(resp.status, resp.getheaders(), data, resp.reason)
        finally:
            conn.close()

    def _cbor_error(self, status, code, message, extra_headers=()):
        body = cbor2.dumps({"__type": code, "message": message})
        headers = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor"),
                   *extra_headers]
        self._send(status, headers, body)

    def _handle_cbor(self, service, op_name, body):
        svc = CBOR_SERVICES.get(service)
        if svc is None:
            return self._cbor_error(404, "UnknownServiceException", f"unknown service {service}")
        model = service_model(svc)
        if op_name not in model.operation_names:
            return self._cbor_error(404, "UnknownOperationException", f"unknown operation {op_name}")
        op = model.operation_model(op_name)
        try:
            # The SDK gzips PutMetricData bodies over 10 KiB (@requestCompression).
            if "gzip" in self.headers.get("Content-Encoding", "").lower():
                body = gzip.decompress(body)
            params = cbor2.loads(body) if body else {}
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise ValueError("request body is not a CBOR map")
            payload = to_json(op.input_shape, params) if op.input_shape else {}
        except Exception as e:  # noqa: BLE001 - any decode problem is the client's fault
            return self._cbor_error(400, "SerializationException", f"bad CBOR request: {e}")

        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"{model.metadata['targetPrefix']}.{op_name}",
            "Authorization": self.headers.get("Authorization")
                             or FALLBACK_AUTH.format(model.metadata["endpointPrefix"]),
        }
        for h in ("X-Amz-Date", "X-Amz-Security-Token", "User-Agent", "amz-sdk-invocation-id"):
            if self.headers.get(h):
                headers[h] = self.headers[h]
        if (op_name == "GetMetricData" and metrics_insights.has_insights(payload)
                and self.headers.get(MOTO_INSIGHTS_HEADER, "").lower() != "moto"):
            return self._insights(model, op, headers, payload)
        status, _reason, up_headers, data = self._upstream(
            "POST", "/", headers, json.dumps(payload).encode())
        doc = json_object(data)
        if status >= 300 or doc is None:
            return self._cbor_error(*upstream_error(status, up_headers, data))
        self._cbor_ok(op, doc, passed_headers(up_headers))

    def _cbor_ok(self, op, doc, headers):
        out = to_cbor(op.output_shape, doc) if op.output_shape else {}
        self._send(200, [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor"),
                         *headers], cbor2.dumps(out))

    def _insights(self, model, op, headers, payload):
        """GetMetricData with a Metrics Insights query: evaluated by metrics_insights over
        moto's JSON API, called with the client's own headers (same account and region)."""
        def moto(operation, body):
            h = {**headers, "X-Amz-Target": f"{model.metadata['targetPrefix']}.{operation}"}
            status, _reason, up_headers, data = self._upstream("POST", "/", h, json.dumps(body).encode())
            doc = json_object(data)
            if status >= 300 or doc is None:
                raise metrics_insights.UpstreamError(*upstream_error(status, up_headers, data))
            return doc

        try:
            doc = metrics_insights.get_metric_data(payload, moto)
        except metrics_insights.QueryError as e:
            return self._cbor_error(e.status, e.code, str(e), [
                ("x-amzn-query-error", f"{e.code};Sender"), ("x-amzn-RequestId", str(uuid.uuid4()))])
        except metrics_insights.UpstreamError as e:
            return self._cbor_error(e.status, e.code, e.message, e.headers)
        self._cbor_ok(op, doc, [("x-amzn-RequestId", str(uuid.uuid4()))])

    def _dispatch(self):
        if self.latency > 0:
            time.sleep(self.latency)  # this request's thread only
        try:
            self._handle()
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            self.log_error("upstream failure: %r", e)
            try:
                self.send_error(502, f"upstream failure: {e}")
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


def _latency_ms(text):
    """--latency-ms: a finite number of milliseconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--upstream", required=True, help="moto_server base URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--latency-ms", type=_latency_ms, default=os.environ.get("CBOR_PROXY_LATENCY_MS", "0"),
                    help="wait this long before handling each request (default: $CBOR_PROXY_LATENCY_MS or 0)")
    args = ap.parse_args(argv)
    Handler.upstream = urllib.parse.urlsplit(args.upstream)
    Handler.latency = args.latency_ms / 1000.0
    for svc in CBOR_SERVICES.values():
        service_model(svc)  # load the model up front, not on the first request
    server = ThreadingHTTPServer((args.listen_host, args.listen_port), Handler)
    server.daemon_threads = True
    latency = f", {args.latency_ms:g} ms latency per request" if args.latency_ms else ""
    print(f"cbor_proxy listening on {args.listen_host}:{args.listen_port} -> {args.upstream}{latency}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
