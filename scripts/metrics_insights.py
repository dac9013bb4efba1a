"""CloudWatch Metrics Insights (`SELECT ...` in GetMetricData) for the local stand-in.

moto answers a Metrics Insights `Expression` with one ungrouped series that sums every
datapoint it holds. cbor_proxy.py hands GetMetricData requests that carry such a query to
`get_metric_data` here instead: the `SELECT` query is parsed and evaluated over moto's stored
datapoints, the other queries (MetricStat, metric math) still go to moto, and both answers are
merged in request order into one GetMetricData response.

Supported subset (keywords case-insensitive, identifiers case-sensitive):

    SELECT AVG|COUNT|MAX|MIN|SUM(metric)
    FROM "Namespace" | SCHEMA("Namespace"[, LabelKey ...])
    [WHERE LabelKey =|!= 'value' [AND|OR ...], parentheses allowed, AND before OR]
    [GROUP BY LabelKey[, LabelKey ...]]
    [ORDER BY AVG()|COUNT()|MAX()|MIN()|SUM() [ASC|DESC]]
    [LIMIT 1..500]

Anything else is answered with 400 ValidationError (the error AWS gives a bad query, e.g.
"ValidationError: SELECT is not available in this region", grafana/grafana#57562), never with
a guess. Semantics, from the CloudWatch User Guide:

- query language: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html
  (SCHEMA = exact dimension set; GROUP BY: one series per value combination, alphabetical by
  default, `Other` for a missing key; ORDER BY + LIMIT = top N; LIMIT at most 500)
- SQL inference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-inference.html
  (period buckets [start, start + period) stamped with their start; each series labelled
  after its GROUP BY value; ORDER BY aggregates all matched datapoints of the series over the
  whole time window)
- limits: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-limits.html
  (two weeks of data for GetMetricData, three hours only for alarm evaluation; 10,000
  metrics processed; 500 series returned; one Insights query per GetMetricData call)

Reading moto: `ListMetrics` by metric name (pages of 500), then `GetMetricData` with one
MetricStat query per metric and needed statistic (500 queries a call): every matched metric
over the whole window as one period to rank the groups, then only the kept groups' metrics
at the query's period (per minute where the lookback cuts the oldest period). Per-metric
Sum/SampleCount/Maximum/Minimum recombine exactly into any of the five functions and any
grouping. moto's MetricStat matching has two gaps this module refuses to paper over (see
`_check_readable`).
"""

import datetime
import math
import re
import time
from dataclasses import dataclass

FUNCTIONS = ("AVG", "COUNT", "MAX", "MIN", "SUM")
# The statistics moto must return, per metric and step, to recombine a function exactly.
NEEDS = {"AVG": ("Sum", "SampleCount"), "COUNT": ("SampleCount",), "MAX": ("Maximum",),
         "MIN": ("Minimum",), "SUM": ("Sum",)}
LOOKBACK_SECONDS = 14 * 86400  # GetMetricData (not alarms): "the most recent two weeks"
MAX_METRICS = 10_000
MAX_SERIES = 500
BATCH = 500  # GetMetricData takes at most 500 queries
OTHER = "Other"  # the null group's value for a GROUP BY key a metric lacks

# Keywords of this grammar and the SQL words closest to it. AWS reserves far more (see
# cloudwatch-metrics-insights-reserved-keywords.html) but its own examples use some of those
# bare as label keys (Type, Class, Operation), so only these are enforced here.
RESERVED = frozenset("""SELECT FROM WHERE GROUP BY ORDER LIMIT ASC DESC AND OR NOT SCHEMA
    AVG COUNT MAX MIN SUM IN LIKE IS NULL AS BETWEEN HAVING JOIN ON DISTINCT TRUE FALSE""".split())


class QueryError(Exception):
    """A query AWS rejects, or one this stand-in cannot answer faithfully: 400 ValidationError."""

    status = 400
    code = "ValidationError"


class UpstreamError(Exception):
    """moto failed an internal call; the proxy passes its status, code and message on."""

    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, list(headers)


# ---------------------------------------------------------------- parsing

@dataclass(frozen=True)
class Query:
    func: str
    metric: str
    namespace: str
    schema: frozenset | None  # None: plain FROM "Namespace", any dimensions
    where: tuple | None  # ("and"|"or", left, right) or ("cmp", key, "="|"!=", value)
    group_by: tuple = ()
    order_by: tuple | None = None  # (function, descending)
    limit: int | None = None


_TOKEN = re.compile(r"""\s+|(?P<dq>"(?:[^"\\]|\\.)*")|(?P<sq>'(?:[^'\\]|\\.)*')
                        |(?P<word>[A-Za-z0-9_]+)|(?P<op>!=|[=(),])""", re.X)


def _unquote(text):
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _tokens(text):
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise QueryError(f"Invalid syntax. Unexpected character {text[pos]!r} at position {pos}.")
        if m.lastgroup:
            out.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    """Recursive descent over the token list; clauses in the documented order only."""

    def __init__(self, text):
        self.toks, self.i = _tokens(text), 0

    def peek(self):
        return self.toks[self.i]

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, what):
        kind, text, pos = self.peek()
        found = "end of query" if kind == "end" else repr(text)
        raise QueryError(f"Invalid syntax. Expected {what} but found {found} at position {pos}.")

    def at_kw(self, *words):
        kind, text, _ = self.peek()
        return kind == "word" and text.upper() in words

    def kw(self, word):
        if not self.at_kw(word):
            self.fail(word)
        return self.take()[1].upper()

    def op(self, sym):
        if self.peek()[:2] != ("op", sym):
            self.fail(repr(sym))
        self.take()

    def ident(self, what):
        kind, text, _ = self.peek()
        if kind == "dq":
            self.take()
            return _unquote(text)
        if kind != "word":
            self.fail(what)
        if text.upper() in RESERVED:
            raise QueryError(f"Invalid syntax. Reserved keyword '{text}' must be surrounded by "
                             "double quotes.")
        self.take()
        return text

    def function(self):
        if not self.at_kw(*FUNCTIONS):
            self.fail("one of " + ", ".join(FUNCTIONS))
        return self.take()[1].upper()

    def query(self):
        self.kw("SELECT")
        func = self.function()
        self.op("(")
        metric = self.ident("a metric name")
        self.op(")")
        self.kw("FROM")
        namespace, schema = self.source()
        where = None
        if self.at_kw("WHERE"):
            self.take()
            where = self.condition()
        group_by = self.group_by()
        order_by = self.order_by()
        limit = self.limit()
        if self.peek()[0] != "end":
            self.fail("end of query")
        return Query(func, metric, namespace, schema, where, group_by, order_by, limit)

    def source(self):
        if not (self.at_kw("SCHEMA") and self.toks[self.i + 1][:2] == ("op", "(")):
            return self.ident("a namespace"), None
        self.take()
        self.op("(")
        namespace, keys = self.ident("a namespace"), []
        while self.peek()[:2] == ("op", ","):
            self.take()
            keys.append(self.ident("a label key"))
        self.op(")")
        return namespace, frozenset(keys)

    def condition(self):
        left = self.conjunction()
        while self.at_kw("OR"):
            self.take()
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.comparison()
        while self.at_kw("AND"):
            self.take()
            left = ("and", left, self.comparison())
        return left

    def comparison(self):
        if self.peek()[:2] == ("op", "("):
            self.take()
            inner = self.condition()
            self.op(")")
            return inner
        key = self.ident("a label key")
        kind, text, _ = self.peek()
        if kind != "op" or text not in ("=", "!="):
            self.fail("= or != (the only WHERE operators this stand-in supports)")
        self.take()
        if self.peek()[0] != "sq":
            self.fail("a label value in single quotes")
        return ("cmp", key, text, _unquote(self.take()[1]))

    def group_by(self):
        if not self.at_kw("GROUP"):
            return ()
        self.take()
        self.kw("BY")
        keys = [self.ident("a label key")]
        while self.peek()[:2] == ("op", ","):
            self.take()
            keys.append(self.ident("a label key"))
        return tuple(keys)

    def order_by(self):
        if not self.at_kw("ORDER"):
            return None
        self.take()
        self.kw("BY")
        func = self.function()
        self.op("(")
        self.op(")")
        descending = self.at_kw("ASC", "DESC") and self.take()[1].upper() == "DESC"
        return (func, bool(descending))  # ASC is the documented default

    def limit(self):
        if not self.at_kw("LIMIT"):
            return None
        self.take()
        kind, text, _ = self.peek()
        if kind != "word" or not text.isdigit():
            self.fail("a number")
        self.take()
        if not 1 <= int(text) <= MAX_SERIES:
            raise QueryError(f"LIMIT must be between 1 and {MAX_SERIES}, got {text}.")
        return int(text)


def parse(text):
    """Query text -> Query; QueryError for anything outside the supported subset."""
    return _Parser(text).query()


# ---------------------------------------------------------------- evaluation (pure)

def where_matches(cond, dims):
    """WHERE over one metric's dimensions. `!=` also holds where the key is absent (the
    metric's value for it is not the given one); the docs do not say otherwise."""
    if cond is None:
        return True
    kind = cond[0]
    if kind == "and":
        return where_matches(cond[1], dims) and where_matches(cond[2], dims)
    if kind == "or":
        return where_matches(cond[1], dims) or where_matches(cond[2], dims)
    _, key, op, value = cond
    return (dims.get(key) == value) == (op == "=")


def select_metrics(query, metrics):
    """The metrics FROM/SCHEMA and WHERE match, in the order given: (namespace, dims) pairs,
    dims a tuple of (Name, Value). SCHEMA keys must be the metric's exact dimension set."""
    out = []
    for namespace, dims in metrics:
        names = frozenset(n for n, _ in dims)
        if namespace != query.namespace or (query.schema is not None and names != query.schema):
            continue
        if where_matches(query.where, dict(dims)):
            out.append((namespace, dims))
    return out


class Acc:
    """Running Sum / SampleCount / Maximum / Minimum; holds whatever statistics it is fed."""

    __slots__ = ("sum", "count", "max", "min")

    def __init__(self):
        self.sum = self.count = 0.0
        self.max, self.min = -math.inf, math.inf

    def add(self, stats):
        self.sum += stats.get("Sum", 0.0)
        self.count += stats.get("SampleCount", 0.0)
        self.max = max(self.max, stats.get("Maximum", -math.inf))
        self.min = min(self.min, stats.get("Minimum", math.inf))

    def value(self, func):
        if func == "AVG":
            return self.sum / self.count if self.count else math.nan
        return {"SUM": self.sum, "COUNT": self.count, "MAX": self.max, "MIN": self.min}[func]


@dataclass
class Group:
    key: tuple
    buckets: dict  # bucket start (epoch s) -> Acc
    total: Acc  # every datapoint of the group in the window: what ORDER BY ranks on


def group_key(query, dims):
    """A metric's GROUP BY values; `Other` for a key it does not have."""
    values = dict(dims)
    return tuple(values.get(k, OTHER) for k in query.group_by)


def group_samples(query, samples, start, period):
    """samples: (dims, [(epoch seconds, {statistic: value}), ...]) per matched metric, as read
    from moto (per minute or per period, on the StartTime grid). -> groups keyed by their
    GROUP BY values; a group without a datapoint in the window does not exist."""
    groups = {}
    for dims, points in samples:
        if not points:
            continue
        key = group_key(query, dims)
        group = groups.setdefault(key, Group(key, {}, Acc()))
        for t, stats in points:
            bucket = start + (int(t) - start) // period * period
            group.buckets.setdefault(bucket, Acc()).add(stats)
            group.total.add(stats)
    return list(groups.values())


def rank(query, groups):
    """Alphabetical by GROUP BY values unless ORDER BY; then the first LIMIT (at most 500).
    Returns (kept groups, whether some were cut without a LIMIT asking for it)."""
    groups = sorted(groups, key=lambda g: g.key)
    if query.order_by:
        func, descending = query.order_by
        # Stable sort: ties keep the alphabetical order. NaN (AVG of nothing) cannot occur:
        # every group has at least one datapoint.
        groups.sort(key=lambda g: g.total.value(func), reverse=descending)
    limit = query.limit or MAX_SERIES
    return groups[:limit], query.limit is None and len(groups) > MAX_SERIES


def label_of(query, key, qid, label):
    """GROUP BY values joined by a space (one key: just its value); a static Label goes in
    front, as CloudWatch appends the dimensions to a non-dynamic label. Ungrouped: the
    query's Label, else its Id."""
    if not query.group_by:
        return label or qid
    return " ".join(([label] if label else []) + list(key))


def series(query, groups, qid, label=None, ascending=False):
    """One MetricDataResult (JSON shape, epoch timestamps) per group, newest first unless
    `ascending` (ScanBy TimestampAscending). No group at all: one empty result."""
    if not groups:
        return [{"Id": qid, "Label": label or qid, "Timestamps": [], "Values": [],
                 "StatusCode": "Complete"}]
    out = []
    for g in groups:
        times = sorted(g.buckets, reverse=not ascending)
        out.append({"Id": qid, "Label": label_of(query, g.key, qid, label),
                    "Timestamps": times, "Values": [g.buckets[t].value(query.func) for t in times],
                    "StatusCode": "Complete"})
    return out


# ---------------------------------------------------------------- the request

def is_insights(q):
    expr = q.get("Expression")
    return isinstance(expr, str) and expr.lstrip()[:6].upper() == "SELECT"


def has_insights(payload):
    return any(is_insights(q) for q in payload.get("MetricDataQueries") or [])


def _epoch(value):
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _round_start(start, now):
    """GetMetricData's documented StartTime rounding: to the minute under 15 days of age, to
    5 minutes under 63 days, else to the hour."""
    age = now - start
    step = 60 if age < 15 * 86400 else 300 if age < 63 * 86400 else 3600
    return int(start // step * step)


def _time_range(payload, now):
    if payload.get("StartTime") is None or payload.get("EndTime") is None:
        raise QueryError("The parameters StartTime and EndTime are required.")
    start, end = _epoch(payload["StartTime"]), _epoch(payload["EndTime"])
    if start == end:
        raise QueryError("The parameter StartTime must not equal parameter EndTime.")
    if start > end:
        raise QueryError("The parameter EndTime must be greater than StartTime.")
    return _round_start(start, now), int(end)


def _period(q):
    """Insights has one-minute resolution: high-resolution periods come back per minute."""
    period = q.get("Period")
    if period is None:
        raise QueryError("The stand-in needs a Period on a Metrics Insights query.")
    if period in (1, 5, 10, 20, 30):
        return 60
    if period < 60 or period % 60:
        raise QueryError(f"The Period {period} is invalid: use 1, 5, 10, 20, 30 or a multiple of 60.")
    return int(period)


def _check_request(queries, q):
    """One Insights query per call (limits page); fields this stand-in does not evaluate."""
    if sum(1 for x in queries if is_insights(x)) > 1:
        raise QueryError("A GetMetricData request can include only one Metrics Insights query.")
    if "MetricStat" in q:
        raise QueryError(f"Query {q.get('Id')}: specify either Expression or MetricStat, not both.")
    if q.get("AccountId"):
        raise QueryError("The stand-in does not evaluate cross-account Metrics Insights queries.")
    if "${" in (q.get("Label") or ""):
        raise QueryError("The stand-in does not evaluate dynamic labels on Metrics Insights queries.")
    for other in queries:
        expr = other.get("Expression")
        if other is not q and expr and q.get("Id") in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr):
            raise QueryError("The stand-in does not evaluate metric math over a Metrics Insights result.")


def _list_metrics(moto, name):
    """Every (namespace, dims) with this metric name, all namespaces (for _check_readable).
    moto repeats a dimensionless metric once per datapoint: deduplicated here."""
    seen, out, token = set(), [], None
    while True:
        page = moto("ListMetrics", {"MetricName": name, **({"NextToken": token} if token else {})})
        for m in page.get("Metrics") or []:
            dims = tuple((d["Name"], d["Value"]) for d in m.get("Dimensions") or [])
            key = (m["Namespace"], frozenset(dims))
            if key not in seen:
                seen.add(key)
                out.append((m["Namespace"], dims))
        token = page.get("NextToken")
        if not token:
            return out


def _check_readable(matched, catalog, metric):
    """moto's MetricStat matching (moto 5.2 cloudwatch/models.py get_metric_data) ignores the
    namespace when dimensions are given, and takes every dimension set of the namespace when
    none are. A matched metric whose MetricStat would pick up another metric's datapoints
    cannot be read faithfully: refuse rather than answer wrong."""
    by_dims = {}
    for namespace, dims in catalog:
        by_dims.setdefault(frozenset(dims), set()).add(namespace)
    for namespace, dims in matched:
        if dims and len(by_dims[frozenset(dims)]) > 1:
            others = sorted(by_dims[frozenset(dims)] - {namespace})
            raise QueryError(f"The stand-in cannot read {metric} {dict(dims)} in {namespace}: moto mixes "
                             f"in the same metric of namespace(s) {others}.")
        if not dims and any(ns == namespace and d for ns, d in catalog):
            raise QueryError(f"The stand-in cannot read the dimensionless {metric} in {namespace}: moto "
                             "mixes in the namespace's dimensioned series of that metric.")


def _fetch(moto, query, matched, start, end, step, stats):
    """`stats` of each matched metric from moto per `step` seconds from `start`, 500
    MetricStat queries a call. -> [(dims, [(epoch s, {statistic: value})])], `matched` order."""
    wanted = [(j, s) for j in range(len(matched)) for s in stats]
    points = [dict() for _ in matched]  # per metric: step start -> {statistic: value}
    for b in range(0, len(wanted), BATCH):
        batch = wanted[b:b + BATCH]
        queries = [{"Id": f"m{j}_{s}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": query.namespace, "MetricName": query.metric,
                       "Dimensions": [{"Name": n, "Value": v} for n, v in matched[j][1]]},
            "Period": step, "Stat": s}} for j, s in batch]
        doc = moto("GetMetricData", {"MetricDataQueries": queries, "StartTime": start,
                                     "EndTime": end, "ScanBy": "TimestampAscending"})
        for r in doc.get("MetricDataResults") or []:
            j, s = r["Id"][1:].split("_", 1)
            for t, v in zip(r.get("Timestamps") or [], r.get("Values") or []):
                points[int(j)].setdefault(int(_epoch(t)), {})[s] = float(v)
    return [(dims, sorted(p.items())) for (_, dims), p in zip(matched, points)]


def _read(query, matched, first, start, end, period, moto):
    """Two passes over moto, which scans every datapoint of the window for each query (and
    once more per step): every matched metric over the whole window as one step, enough to
    rank the groups; then, per period, only the metrics of the groups kept.
    -> (kept groups, whether the 500-series cap cut some)."""
    span = (math.ceil((end - first) / 60) + 1) * 60  # one step from `first` past `end`
    ranking = NEEDS[query.order_by[0]] if query.order_by else ("SampleCount",)
    whole = _fetch(moto, query, matched, first, end, span, ranking)
    ranked, cut = rank(query, group_samples(query, whole, first, span))
    keys = {g.key for g in ranked}
    chosen = [m for m in matched if group_key(query, m[1]) in keys]
    # Whole periods when they line up with the grid, minutes when the lookback cut the
    # oldest one short.
    step = period if first == start else 60
    detail = _fetch(moto, query, chosen, first, end, step, NEEDS[query.func]) if chosen else []
    groups = {g.key: g for g in group_samples(query, detail, start, period)}
    return [groups[g.key] for g in ranked if g.key in groups], cut


def evaluate(query, q, start, end, ascending, moto, now):
    """The Insights query's results and any GetMetricData-level Messages."""
    qid, period, messages, kept, cut = q.get("Id"), _period(q), [], [], False
    # Only the lookback's datapoints count; the bucket grid stays anchored at StartTime, so
    # the oldest bucket may hold part of its period (as the troubleshooting page describes).
    first = max(start, start + math.ceil((now - LOOKBACK_SECONDS - start) / 60) * 60)
    if first < end:
        catalog = _list_metrics(moto, query.metric)
        matched = select_metrics(query, catalog)
        if len(matched) > MAX_METRICS:
            matched = matched[:MAX_METRICS]
            messages.append({"Code": "MaxMetricsExceeded",
                             "Value": "Maximum number of allowed metrics exceeded"})
        _check_readable(matched, catalog, query.metric)
        if matched:
            kept, cut = _read(query, matched, first, start, end, period, moto)
    if cut:
        messages.append({"Code": "MaxQueryResultsExceeded",
                         "Value": f"Only {MAX_SERIES} time series were returned"})
    return series(query, kept, qid, q.get("Label"), ascending), messages


def merge(queries, q, results, forwarded, messages):
    """moto's results for the other queries and ours, in request order."""
    by_id = {}
    for r in forwarded.get("MetricDataResults") or []:
        by_id.setdefault(r.get("Id"), []).append(r)
    out = []
    for x in queries:
        if x is q:
            out.extend(results if q.get("ReturnData", True) else [])
        else:
            out.extend(by_id.pop(x.get("Id"), []))
    for rest in by_id.values():  # not expected; never drop data moto returned
        out.extend(rest)
    doc = {"MetricDataResults": out}
    if forwarded.get("Messages") or messages:
        doc["Messages"] = list(forwarded.get("Messages") or []) + messages
    if forwarded.get("NextToken"):
        doc["NextToken"] = forwarded["NextToken"]
    return doc


def get_metric_data(payload, moto, now=None):
    """GetMetricData (JSON 1.0 input shape) with one Metrics Insights query. `moto(operation,
    payload) -> dict` calls moto's CloudWatch JSON API and raises UpstreamError on failure."""
    now = time.time() if now is None else now
    queries = payload.get("MetricDataQueries") or []
    q = next(x for x in queries if is_insights(x))
    _check_request(queries, q)
    query = parse(q["Expression"])
    _period(q)
    start, end = _time_range(payload, now)
    rest = [x for x in queries if x is not q]
    forwarded = moto("GetMetricData", {**payload, "MetricDataQueries": rest}) if rest else {}
    ascending = payload.get("ScanBy") == "TimestampAscending"
    results, messages = evaluate(query, q, start, end, ascending, moto, now)
    return merge(queries, q, results, forwarded, messages)
