#!/usr/bin/env python3
"""Least-privilege gate for Concurrency Guard's CloudFormation/SAM template.

    python3 scripts/check_iam.py [template.yaml]

Fails (exit 1, one line per problem) when

* an identity policy statement -- in an AWS::IAM::Role (inline policies and
  trust policy), AWS::IAM::Policy, AWS::IAM::ManagedPolicy, or the
  ``Policies`` of an AWS::Serverless::Function -- has an ``Action`` containing
  ``*``, or is an Allow with ``NotAction`` (which grants everything else);
* a role or function attaches a managed policy (its actions cannot be
  checked here, and the guard's roles are meant to be inline-only);
* a role grants an action that the binary it runs (Metadata.BuildProperties.
  Binary) never needs, or lacks one it calls: ``CODE_OPERATIONS`` lists every
  AWS call of the adapters (shared/aws/src/**/*.rs) and which binary makes it,
  DynamoDB's included (the ledger); the calls only the CLI makes
  (``OPERATOR_OPERATIONS``: ``cguard init``'s CreateTable, UpdateTimeToLive,
  ...; ``cguard backtest``'s DescribeAlarmHistory) are never granted to a
  function's role;
* an API Gateway verb (GET, PATCH, DELETE) is granted on a resource wider
  than the paths the code touches (``CODE_OPERATIONS``: stages, and route
  settings for the DELETE that restores an HTTP API route);
* a DynamoDB action is allowed on ``*``, on another table, or on anything but
  the ledger table itself (its ARN, built from its name, or its GetAtt Arn);
* the ledger is missing or unprotected: every function's CGUARD_LEDGER_TABLE
  must be ``!Ref`` of an AWS::DynamoDB::Table of the template that has the
  ledger's keys (``pk`` HASH, ``sk`` RANGE, strings), PAY_PER_REQUEST billing,
  point-in-time recovery, deletion protection, TTL on ``expires_at``,
  DeletionPolicy and UpdateReplacePolicy Retain, and a ``ResourcePolicy``
  that Denies every item write (``LEDGER_WRITE_ACTIONS``: PutItem, UpdateItem,
  DeleteItem, BatchWriteItem and the PartiQL writes) to every principal whose
  ``aws:PrincipalArn`` (StringNotEquals/ArnNotEquals, the condition's only
  test) is not one of the guard's roles or an operator ARN from a parameter
  that admits no wildcard -- in every Fn::If branch, each branch keeping both
  roles;
* ``lambda:TagResource``/``UntagResource`` is allowed without a
  ``ForAllValues:StringEquals`` condition limiting ``aws:TagKeys`` to exactly
  the pointer key ``concurrency-guard:incident`` (records live in the ledger;
  the tag only points people at an incident, and the opt-out tags
  ``concurrency-guard:protected``/``:kill-switch`` stay the owners');
* the role of any function in the template lacks an unconditional Deny of
  the mutating Lambda actions in ``REQUIRED_DENY_ACTIONS`` on every function
  of the template, or a Deny of ``REQUIRED_MAPPING_DENY_ACTIONS`` on event
  source mappings whose ``lambda:FunctionArn`` is one of them (the guard must
  not be able to change itself);
* a topic that the template's alarms publish to, or that a function
  subscribes to, has no topic-policy Deny of ``sns:Publish`` for every
  request that is not from this account (``aws:SourceAccount``) and from one
  of its CloudWatch alarms (``aws:SourceArn``);
* a Lambda permission lets a service invoke a function without
  ``SourceArn``, or lets CloudWatch alarm actions
  (lambda.alarms.cloudwatch.amazonaws.com) invoke it from alarms other than
  this stack's (``${AWS::StackName}-*``, with ``SourceAccount``); an
  EventBridge rule for alarm state changes matches alarms other than this
  stack's (``resources`` / ``detail.alarmName``); an alarm of the template is
  not named ``${AWS::StackName}-...``;
* a parameter has no constraint (String: AllowedValues or AllowedPattern;
  Number: AllowedValues, or MinValue and MaxValue), or a parameter that
  feeds a CGUARD_* setting admits a value the binaries refuse at start-up
  (``SETTINGS`` mirrors shared/core/src/config.rs; boundary values are
  probed).

When aws-sam-translator is importable (it comes with aws-sam-cli) the same
checks also run on the SAM-expanded template, so that roles, permissions and
rules SAM would generate are held to the same rules.

Exit status: 0 clean, 1 problems found, 2 the template could not be read.
The short-form tags (!Ref, !Sub, !GetAtt, ...) are read with cfn-lint's
decoder when it is installed, else with a PyYAML loader that maps them to
their long form.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

# ------------------------------------------------------------------- what the code calls
#
# Every AWS operation the deployed binaries make, as the adapters name it (the first argument
# of `classify("<call>", ...)` in shared/aws/src/lambda.rs, apigateway.rs, cloudwatch.rs,
# alarms.rs, posture.rs, notify.rs and ledger.rs), the IAM action it needs, and which binary
# reaches it:
#
#   remediator: functions/remediator -> engine::run::remediate_all -> Guard::remediate
#               (Metrics, Inventory, Ledger::record/withdraw/settle, Pointers::point,
#               Actuator::apply with new limits only)
#   auditor:    functions/auditor -> engine::run::audit_pass -> Guard::audit (Ledger::
#               open_records/open_record/record/settle/close/history, Pointers, Metrics::
#               alarm_state, Actuator::current + apply to restore or escalate) and Guard::posture
#               (the Posture port, PutMetricData)
#
# For API Gateway, whose IAM actions are HTTP verbs, `paths` are the resources the call
# touches (arn:<partition>:apigateway:<region>::<path>, see the API Gateway ARN reference).
# When the code calls a new operation, add it here and grant it in template.yaml: the check
# fails on a grant that no listed operation needs and on a listed operation not granted.


class Operation(NamedTuple):
    call: str
    action: str
    binaries: frozenset
    paths: tuple = ()


REMEDIATOR = frozenset({"remediator"})
AUDITOR = frozenset({"auditor"})
BOTH = REMEDIATOR | AUDITOR

CODE_OPERATIONS: tuple[Operation, ...] = (
    # shared/aws/src/lambda.rs
    Operation("lambda:GetAccountSettings", "lambda:GetAccountSettings", BOTH),
    Operation("lambda:GetFunction", "lambda:GetFunction", BOTH),
    # GetFunction returns a tagged function's tags only with lambda:ListTags (Lambda developer
    # guide, "Using tags on Lambda functions"); the guard reads only its opt-outs from them
    # (concurrency-guard:protected, concurrency-guard:kill-switch), never a record.
    Operation("lambda:GetFunction (tags)", "lambda:ListTags", BOTH),
    Operation("lambda:GetFunctionConcurrency", "lambda:GetFunctionConcurrency", BOTH),
    Operation("lambda:GetPolicy", "lambda:GetPolicy", BOTH),
    Operation("lambda:ListEventSourceMappings", "lambda:ListEventSourceMappings", BOTH),
    Operation("lambda:PutFunctionConcurrency", "lambda:PutFunctionConcurrency", BOTH),
    Operation("lambda:DeleteFunctionConcurrency", "lambda:DeleteFunctionConcurrency", AUDITOR),
    Operation("lambda:GetEventSourceMapping", "lambda:GetEventSourceMapping", AUDITOR),
    Operation("lambda:UpdateEventSourceMapping", "lambda:UpdateEventSourceMapping", BOTH),
    # The pointer tag (concurrency-guard:incident) for people: set when a change is recorded,
    # removed when the record is closed, listed by the auditor to report a pointer without a
    # record. Never obeyed: the records are in the ledger.
    Operation("lambda:TagResource", "lambda:TagResource", BOTH),
    Operation("lambda:UntagResource", "lambda:UntagResource", BOTH),
    Operation("tag:GetResources", "tag:GetResources", AUDITOR),
    # shared/aws/src/ledger.rs: the guard's DynamoDB ledger. Recording (open or extend a
    # function's open record, withdraw or settle an action) is a conditional UpdateItem, and a
    # refused one is followed by a consistent GetItem; the auditor also lists the open records
    # and the history (Query) and closes a record with one TransactWriteItems of a Put (the
    # history item) and a Delete (the open item), which DynamoDB authorises per item as
    # PutItem and DeleteItem (there is no dynamodb:TransactWriteItems action).
    Operation("dynamodb:GetItem", "dynamodb:GetItem", BOTH),
    Operation("dynamodb:UpdateItem", "dynamodb:UpdateItem", BOTH),
    Operation("dynamodb:Query", "dynamodb:Query", AUDITOR),
    Operation("dynamodb:TransactWriteItems (Put)", "dynamodb:PutItem", AUDITOR),
    Operation("dynamodb:TransactWriteItems (Delete)", "dynamodb:DeleteItem", AUDITOR),
    # shared/aws/src/apigateway.rs
    Operation("apigateway:GetStages", "apigateway:GET", BOTH, ("/restapis/*/stages",)),
    Operation("apigateway:GetStage", "apigateway:GET", AUDITOR, ("/restapis/*/stages/*",)),
    Operation("apigateway:UpdateStage", "apigateway:PATCH", BOTH, ("/restapis/*/stages/*",)),
    Operation("apigatewayv2:GetStages", "apigateway:GET", BOTH, ("/apis/*/stages",)),
    Operation("apigatewayv2:GetStage", "apigateway:GET", AUDITOR, ("/apis/*/stages/*",)),
    Operation("apigatewayv2:GetRoutes", "apigateway:GET", BOTH, ("/apis/*/routes",)),
    Operation("apigatewayv2:GetIntegrations", "apigateway:GET", BOTH, ("/apis/*/integrations",)),
    Operation("apigatewayv2:UpdateStage", "apigateway:PATCH", BOTH, ("/apis/*/stages/*",)),
    Operation(
        "apigatewayv2:DeleteRouteSettings", "apigateway:DELETE", AUDITOR, ("/apis/*/stages/*/routesettings/*",)
    ),
    # shared/aws/src/posture.rs
    Operation("apigateway:GetRestApis", "apigateway:GET", AUDITOR, ("/restapis",)),
    Operation("apigateway:GetResources", "apigateway:GET", AUDITOR, ("/restapis/*/resources",)),
    Operation("cloudwatch:PutMetricData", "cloudwatch:PutMetricData", AUDITOR),
    # shared/aws/src/cloudwatch.rs and alarms.rs (DescribeAlarms: the remediator confirms an
    # alarm before acting, Metrics::alarm_evidence; the auditor reads states and posture)
    Operation("cloudwatch:GetMetricData", "cloudwatch:GetMetricData", BOTH),
    Operation("cloudwatch:ListMetrics", "cloudwatch:ListMetrics", BOTH),
    Operation("cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarms", BOTH),
    # shared/aws/src/notify.rs: only the remediator announces (the auditor drops the topic)
    Operation("sns:Publish", "sns:Publish", REMEDIATOR),
)

# What only the CLI calls, at an operator's terminal, with the command that calls it (in
# `binaries`): `cguard init` creates the ledger's table and turns on what protects it, or reads
# an existing one (shared/aws/src/ledger/table.rs) -- the template creates the table itself;
# `cguard backtest` reads the alarms' history (shared/aws/src/history.rs). No function's role
# may hold these.
OPERATOR_OPERATIONS: tuple[Operation, ...] = tuple(
    Operation(call, call, frozenset({"cguard init"}))
    for call in (
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:DescribeContinuousBackups",
    )
) + (
    Operation("cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarmHistory", frozenset({"cguard backtest"})),
)

# What Lambda itself does with a function's role (not calls in the code): these may be
# granted, and are not required (they depend on the template's logging and destinations).
PLATFORM_OPERATIONS: tuple[Operation, ...] = (
    Operation("Lambda: function logs", "logs:CreateLogStream", BOTH),
    Operation("Lambda: function logs", "logs:PutLogEvents", BOTH),
    Operation("Lambda: OnFailure destination of asynchronous invocations", "sqs:SendMessage", REMEDIATOR),
)

APIGATEWAY_ARN_PREFIX = "arn:${AWS::Partition}:apigateway:${AWS::Region}::"

# Every Lambda action that changes a function (Service Authorization Reference: the write,
# tagging and permissions-management actions on the "function" resource type).
REQUIRED_DENY_ACTIONS = (
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:UpdateFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:DeleteFunction",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:PutFunctionEventInvokeConfig",
    "lambda:UpdateFunctionEventInvokeConfig",
    "lambda:DeleteFunctionEventInvokeConfig",
    "lambda:PutProvisionedConcurrencyConfig",
    "lambda:DeleteProvisionedConcurrencyConfig",
    "lambda:PutFunctionScalingConfig",
    "lambda:PutFunctionRecursionConfig",
    "lambda:PutRuntimeManagementConfig",
    "lambda:PublishVersion",
    "lambda:CreateAlias",
    "lambda:UpdateAlias",
    "lambda:DeleteAlias",
    "lambda:CreateFunctionUrlConfig",
    "lambda:UpdateFunctionUrlConfig",
    "lambda:DeleteFunctionUrlConfig",
    "lambda:PutFunctionCodeSigningConfig",
    "lambda:DeleteFunctionCodeSigningConfig",
)
# Event source mappings are authorised on the mapping: their Deny names the guard's
# functions through the lambda:FunctionArn condition key.
REQUIRED_MAPPING_DENY_ACTIONS = ("lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping")
MAPPING_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:event-source-mapping:00000000-0000-0000-0000-000000000000"

TAG_WRITE_ACTIONS = ("lambda:TagResource", "lambda:UntagResource")
# The one tag the guard writes: a pointer for people from a limited function to its incident.
POINTER_TAG_KEY = "concurrency-guard:incident"

# The ledger: the table every function's CGUARD_LEDGER_TABLE names (shared/aws/src/ledger).
LEDGER_VARIABLE = "CGUARD_LEDGER_TABLE"
LEDGER_KEYS = (("pk", "HASH"), ("sk", "RANGE"))
LEDGER_TTL_ATTRIBUTE = "expires_at"
TABLE_ARN_PREFIX = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
# Every action that writes items (Service Authorization Reference: DynamoDB's item-level write
# actions; ExecuteStatement, BatchExecuteStatement and ExecuteTransaction are authorised as
# the PartiQL ones).
LEDGER_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)
# Principal ARNs an operator parameter must refuse: the ledger's Deny compares exact ARNs.
WILDCARD_PRINCIPALS = (
    "*",
    "arn:aws:iam::*:role/operator",
    "arn:aws:iam::123456789012:role/*",
    "arn:aws:iam::123456789012:*",
    "arn:aws:iam::123456789012:role/operator?",
)

# The stack's alarms are named "<stack>-...": the only alarms that may invoke the remediator
# directly or through the EventBridge rule.
ALARM_NAME_PREFIX = "${AWS::StackName}-"
ACCOUNT_ALARM_ARN_PREFIX = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
STACK_ALARM_ARN_PREFIX = ACCOUNT_ALARM_ARN_PREFIX + ALARM_NAME_PREFIX
ALARM_ACTION_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
FUNCTION_ARN_PREFIX = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


# ------------------------------------------------------------------- the binaries' settings
#
# The CGUARD_* settings as shared/core/src/config.rs parses them (Policy::from_lookup and
# Settings::from_lookup: values trimmed, empty means the default; booleans true/false/1/0/
# yes/no in any case; whole numbers as u32 within the ranges below; fractions in (0, 1]).
# Keep in step with config.rs: a parameter feeding a setting may admit only what it accepts.


class Setting(NamedTuple):
    kind: str  # "bool" | "int" | "fraction" | "table" | "text"
    low: int = 0
    high: int = 0

    def describe(self) -> str:
        return {
            "bool": "true/false/1/0/yes/no",
            "int": f"a whole number {self.low}..={self.high}",
            "fraction": "a number in (0, 1]",
            "table": "a DynamoDB table name, 3 to 255 of letters, digits, '_', '.', '-'",
            "text": "any text",
        }[self.kind]


SETTINGS: dict[str, Setting] = {
    "CGUARD_DRY_RUN": Setting("bool"),
    "CGUARD_KILL_SWITCH_ALLOWED": Setting("bool"),
    "CGUARD_METRICS_INSIGHTS": Setting("bool"),
    "CGUARD_TARGET_CONCURRENCY": Setting("int", 1, 10_000),
    "CGUARD_EMERGENCY_UTILIZATION": Setting("fraction"),
    "CGUARD_OFFENDER_SHARE": Setting("fraction"),
    "CGUARD_MAX_ACTIONS": Setting("int", 1, 100),
    "CGUARD_MAX_OFFENDERS": Setting("int", 1, 20),
    "CGUARD_WINDOW_MINUTES": Setting("int", 1, 180),
    "CGUARD_GRACE_MINUTES": Setting("int", 1, 1440),
    "CGUARD_COOLDOWN_MINUTES": Setting("int", 1, 10_080),
    "CGUARD_UNRESERVED_MINIMUM": Setting("int", 0, 100_000),  # empty: derived
    "CGUARD_HISTORY_DAYS": Setting("int", 1, 3650),
    "CGUARD_LEDGER_TABLE": Setting("table"),  # empty: concurrency-guard-ledger
    "CGUARD_PROTECTED_FUNCTIONS": Setting("text"),
    "CGUARD_GUARD_FUNCTIONS": Setting("text"),
    "CGUARD_REMEDIATOR_FUNCTION": Setting("text"),
    "CGUARD_ALARM_TOPIC_ARN": Setting("text"),
    "CGUARD_REPORT_TOPIC_ARN": Setting("text"),
    "CGUARD_METRICS_NAMESPACE": Setting("text"),
}

_RUST_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.I)
_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
# config.rs table_name: 3..=255 bytes, each ASCII alphanumeric or one of "_.-".
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def binary_accepts(setting: Setting, value: str) -> bool:
    """Whether config.rs accepts this value for the setting (an empty value means the default)."""
    value = value.strip()
    if not value or setting.kind == "text":
        return True
    if setting.kind == "bool":
        return value.lower() in ("true", "1", "yes", "false", "0", "no")
    if setting.kind == "int":  # u32::from_str: an optional '+', ASCII digits
        return re.fullmatch(r"\+?[0-9]+", value) is not None and setting.low <= int(value) <= setting.high
    if setting.kind == "fraction":  # f64::from_str, then 0 < x <= 1
        return _RUST_FLOAT.fullmatch(value) is not None and 0.0 < float(value) <= 1.0
    if setting.kind == "table":
        return _TABLE_NAME.fullmatch(value) is not None
    raise ValueError(setting.kind)


def probes(setting: Setting) -> list[str]:
    """Values around the edges of what the binaries accept."""
    common = ["", " ", "abc", "-1", "0", "1", "1.5", "1e2", "+1", "true"]
    if setting.kind == "bool":
        return common + ["false", "TRUE", "False", "yes", "no", "on", "off", "maybe"]
    if setting.kind == "int":
        lo, hi = setting.low, setting.high
        edges = [lo - 1, lo, lo + 1, (lo + hi) // 2, hi - 1, hi, hi + 1, 2**32]
        return common + [str(n) for n in edges] + [f"{lo}.0", f"{hi}.5", f"{hi}e0", f" {hi} "]
    if setting.kind == "fraction":
        return common + ["0.0", "-0.5", "0.5", ".5", "0.95", "1.0", "1.", "1.01", "2", "1e-1", "inf", "nan"]
    if setting.kind == "table":
        return common + [
            "ab", "a.b", "concurrency-guard-ledger", "a" * 255, "a" * 256, "my table", "table/x",
            "ledger:1", "ledger*", "l\u00e9dger", " abc ",
        ]
    return []


def parameter_admits(param: dict, value: str) -> bool:
    """Whether CloudFormation would accept this value for the parameter (conservatively)."""
    ptype = param.get("Type", "String")
    allowed = param.get("AllowedValues")
    if ptype == "Number":
        if _NUMBER.fullmatch(value) is None:
            return False
        number = float(value)
        if isinstance(allowed, list) and not any(_same_number(number, v) for v in allowed):
            return False
        low, high = param.get("MinValue"), param.get("MaxValue")
        if low is not None and number < float(low):
            return False
        return not (high is not None and number > float(high))
    if ptype not in ("String", "CommaDelimitedList"):
        return True  # an AWS-specific type: not a setting's value
    if isinstance(allowed, list) and value not in [str(v) for v in allowed]:
        return False
    pattern = param.get("AllowedPattern")
    if isinstance(pattern, str) and re.fullmatch(pattern, value) is None:
        return False
    if "MinLength" in param and len(value) < int(param["MinLength"]):
        return False
    return not ("MaxLength" in param and len(value) > int(param["MaxLength"]))


def _same_number(number: float, allowed: Any) -> bool:
    try:
        return float(allowed) == number
    except (TypeError, ValueError):
        return False


class TemplateError(Exception):
    """The template could not be read or has an unexpected shape."""


# --------------------------------------------------------------------------- loading


def _yaml_fallback_load(text: str) -> dict:
    """Parse CloudFormation YAML with PyYAML, mapping short-form tags to long form."""
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    def construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        if suffix == "Condition":
            return {"Condition": value}
        return {f"Fn::{suffix}": value}

    CfnLoader.add_multi_constructor("!", construct_tag)
    # CloudFormation keeps "on"/"yes"/"off"/"no" as strings (YAML 1.2 booleans only).
    CfnLoader.yaml_implicit_resolvers = {
        key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    CfnLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def load_template(path: str | Path) -> dict:
    """Load a JSON or YAML CloudFormation template into plain dicts and lists."""
    path = Path(path)
    try:
        from cfnlint.decode import decode  # type: ignore[import-not-found]
    except ImportError:
        decode = None

    if decode is not None:
        template, matches = decode(str(path))
        if matches:
            raise TemplateError("; ".join(str(m) for m in matches))
        # cfn-lint returns str/dict subclasses that carry line marks; normalise.
        return json.loads(json.dumps(template, default=str))

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TemplateError(str(err)) from err
    try:
        template = json.loads(text)
    except ValueError:
        try:
            template = _yaml_fallback_load(text)
        except Exception as err:  # noqa: BLE001 - any parse error is a TemplateError
            raise TemplateError(f"cannot parse {path}: {err}") from err
    if not isinstance(template, dict):
        raise TemplateError(f"{path} is not a CloudFormation template")
    return template


# --------------------------------------------------------------------------- helpers


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a (possibly intrinsic-function) value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _glob_match(pattern: str, value: str) -> bool:
    """IAM-style glob: '*' any run of characters, '?' one character, case-sensitive."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value) is not None


def _sub_string(value: Any) -> str | None:
    """A resource/ARN expression as a Fn::Sub-style string, when it is one."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1 and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        if isinstance(sub, str):
            return sub
        if isinstance(sub, list) and sub and isinstance(sub[0], str) and not (sub[1:] and sub[1]):
            return sub[0]
    return None


def _getatt(value: Any) -> tuple[str, str] | None:
    if isinstance(value, dict) and len(value) == 1 and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        if isinstance(att, str):
            att = att.split(".", 1)
        if isinstance(att, list) and len(att) == 2 and all(isinstance(a, str) for a in att):
            return att[0], att[1]
    sub = _sub_string(value)
    if sub is not None:
        m = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}", sub)
        if m:
            return m.group(1), m.group(2)
    return None


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Ref"), str):
        return value["Ref"]
    return None


class Statement:
    def __init__(self, where: str, index: int, body: dict):
        self.where = where
        self.index = index
        self.body = body

    @property
    def label(self) -> str:
        sid = self.body.get("Sid")
        return f"{self.where} statement {sid!r}" if isinstance(sid, str) else f"{self.where} statement #{self.index}"


def _statements(where: str, document: Any) -> Iterator[Statement]:
    if not isinstance(document, dict):
        return
    for index, body in enumerate(_as_list(document.get("Statement"))):
        if isinstance(body, dict):
            yield Statement(where, index, body)


# --------------------------------------------------------------------------- policies


class Policies:
    """Identity policies of a template, grouped by the role that carries them."""

    def __init__(self, template: dict):
        resources = template.get("Resources")
        if not isinstance(resources, dict):
            raise TemplateError("template has no Resources")
        self.resources: dict[str, dict] = {k: v for k, v in resources.items() if isinstance(v, dict)}
        self.problems: list[str] = []
        # role key -> statements; role keys are "role <LogicalId>" or "function <LogicalId>"
        # (the role SAM generates for a function without Role).
        self.by_role: dict[str, list[Statement]] = {}
        self.all_statements: list[Statement] = []
        self._collect()

    def _add(self, role_key: str | None, statements: Iterable[Statement]) -> None:
        for st in statements:
            self.all_statements.append(st)
            if role_key is not None:
                self.by_role.setdefault(role_key, []).append(st)

    def _collect(self) -> None:
        attached: list[tuple[str, str]] = []  # (role, in-template managed policy) pairs
        for name, res in self.resources.items():
            rtype = res.get("Type")
            props = res.get("Properties") or {}
            if not isinstance(props, dict):
                continue
            if rtype == "AWS::IAM::Role":
                self._add(None, _statements(f"{name} trust policy", props.get("AssumeRolePolicyDocument")))
                for policy in _as_list(props.get("Policies")):
                    if isinstance(policy, dict):
                        pname = policy.get("PolicyName")
                        where = f"{name} policy {pname!r}" if isinstance(pname, str) else f"{name} policy"
                        self._add(f"role {name}", _statements(where, policy.get("PolicyDocument")))
                for arn in _as_list(props.get("ManagedPolicyArns")):
                    local = _ref(arn)
                    if local is not None and self.resources.get(local, {}).get("Type") == "AWS::IAM::ManagedPolicy":
                        attached.append((name, local))  # defined here: its statements are checked
                        continue
                    self.problems.append(
                        f"{name}: attaches managed policy {json.dumps(arn)}; use inline policies "
                        "whose actions can be checked"
                    )
            elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                statements = list(_statements(name, props.get("PolicyDocument")))
                self._add(None, statements)
                for role in _as_list(props.get("Roles")):
                    role_name = _ref(role)
                    if role_name is not None:
                        self.by_role.setdefault(f"role {role_name}", []).extend(statements)
            elif rtype == "AWS::Serverless::Function":
                for index, policy in enumerate(_as_list(props.get("Policies"))):
                    where = f"{name} Policies[{index}]"
                    if isinstance(policy, dict) and "Statement" in policy:
                        self._add(f"function {name}", _statements(where, policy))
                    elif isinstance(policy, dict) and len(policy) == 1:
                        self.problems.append(
                            f"{where}: SAM policy template {next(iter(policy))!r} expands to actions "
                            "not checked here; write the statements inline"
                        )
                    else:
                        self.problems.append(
                            f"{where}: managed policy {json.dumps(policy)}; use inline statements "
                            "whose actions can be checked"
                        )
        for role, policy in attached:
            props = self.resources[policy].get("Properties") or {}
            statements = list(_statements(policy, props.get("PolicyDocument")))
            self.by_role.setdefault(f"role {role}", []).extend(statements)

    # -- wildcard actions -------------------------------------------------------------

    def wildcard_problems(self) -> list[str]:
        problems = []
        for st in self.all_statements:
            for action in _strings(st.body.get("Action")):
                if "*" in action:
                    problems.append(f"{st.label}: wildcard action {action!r}")
            if "NotAction" in st.body and st.body.get("Effect") != "Deny":
                problems.append(f"{st.label}: Allow with NotAction grants every other action")
            for action in _strings(st.body.get("NotAction")):
                if "*" in action:
                    problems.append(f"{st.label}: wildcard NotAction {action!r}")
        return problems

    # -- the guard must not change itself ----------------------------------------------

    def function_arns(self) -> dict[str, str | None]:
        """Each function's ARN as a Fn::Sub-style string (None when it has no fixed name)."""
        arns: dict[str, str | None] = {}
        for name, res in self.resources.items():
            if res.get("Type") in FUNCTION_TYPES:
                fname = _sub_string((res.get("Properties") or {}).get("FunctionName"))
                arns[name] = None if fname is None else FUNCTION_ARN_PREFIX + fname
        return arns

    def role_of(self, function: str) -> str | None:
        props = self.resources[function].get("Properties") or {}
        role = props.get("Role")
        if role is None:
            if self.resources[function].get("Type") == "AWS::Serverless::Function":
                return f"function {function}"
            return None
        att = _getatt(role)
        if att is not None and att[1] == "Arn":
            return f"role {att[0]}"
        ref = _ref(role)
        if ref is not None and ref in self.resources:
            return f"role {ref}"
        return None

    @staticmethod
    def _covers(resource: Any, function: str, arn: str | None) -> bool:
        att = _getatt(resource)
        if att is not None:
            return att == (function, "Arn")
        pattern = _sub_string(resource)
        return pattern is not None and arn is not None and _glob_match(pattern, arn)

    def deny_problems(self) -> list[str]:
        problems = []
        functions = self.function_arns()
        if not functions:
            return ["no Lambda function in the template: nothing to guard"]
        for function, arn in functions.items():
            if arn is None:
                problems.append(
                    f"{function}: no literal FunctionName, so its role's Deny cannot name it; "
                    "set FunctionName (e.g. !Sub '${AWS::StackName}-name')"
                )
        for function in functions:
            role = self.role_of(function)
            if role is None:
                problems.append(f"{function}: its role is not defined in this template; cannot check its Deny")
                continue
            denies = [
                st
                for st in self.by_role.get(role, [])
                if st.body.get("Effect") == "Deny" and "Condition" not in st.body
            ]
            missing = []
            for target, arn in functions.items():
                for action in REQUIRED_DENY_ACTIONS:
                    covered = any(
                        any(_glob_match(a.lower(), action.lower()) for a in _strings(st.body.get("Action")))
                        and any(self._covers(r, target, arn) for r in _as_list(st.body.get("Resource")))
                        for st in denies
                    )
                    if not covered:
                        missing.append((target, action))
            if missing:
                targets = sorted({t for t, _ in missing})
                actions = sorted({a for _, a in missing}, key=REQUIRED_DENY_ACTIONS.index)
                problems.append(
                    f"{function}: {role} lacks an unconditional Deny of {', '.join(actions)} "
                    f"on {', '.join(targets)}"
                )
        return problems

    def mapping_deny_problems(self) -> list[str]:
        problems = []
        functions = {f: arn for f, arn in self.function_arns().items() if arn is not None}
        for function in functions:
            role = self.role_of(function)
            if role is None:
                continue  # reported by deny_problems
            missing = []
            for target, arn in functions.items():
                for action in REQUIRED_MAPPING_DENY_ACTIONS:
                    covered = any(
                        any(_glob_match(a.lower(), action.lower()) for a in _strings(st.body.get("Action")))
                        and any(
                            (p := _sub_string(r)) is not None and _glob_match(p, MAPPING_ARN)
                            for r in _as_list(st.body.get("Resource"))
                        )
                        and _names_function(st.body.get("Condition"), arn)
                        for st in self.by_role.get(role, [])
                        if st.body.get("Effect") == "Deny"
                    )
                    if not covered:
                        missing.append((target, action))
            if missing:
                targets = sorted({t for t, _ in missing})
                actions = sorted({a for _, a in missing}, key=REQUIRED_MAPPING_DENY_ACTIONS.index)
                problems.append(
                    f"{function}: {role} lacks a Deny of {', '.join(actions)} on event source mappings "
                    f"whose lambda:FunctionArn is {', '.join(targets)}"
                )
        return problems

    # -- grants match the code -----------------------------------------------------------

    def binary_of(self, function: str) -> str | None:
        metadata = self.resources[function].get("Metadata") or {}
        binary = (metadata.get("BuildProperties") or {}).get("Binary") if isinstance(metadata, dict) else None
        return binary if isinstance(binary, str) else None

    def binaries_by_role(self) -> tuple[dict[str, frozenset], list[str]]:
        known = frozenset().union(*(op.binaries for op in CODE_OPERATIONS))
        by_role: dict[str, frozenset] = {}
        problems = []
        for function in self.function_arns():
            binary = self.binary_of(function)
            if binary is None:
                problems.append(
                    f"{function}: no Metadata.BuildProperties.Binary, so its role's grants cannot be "
                    "checked against the calls of the code"
                )
                continue
            if binary not in known:
                problems.append(f"{function}: binary {binary!r} has no entry in CODE_OPERATIONS (check_iam.py)")
                continue
            role = self.role_of(function)
            if role is not None:
                by_role[role] = by_role.get(role, frozenset()) | {binary}
        return by_role, problems

    def code_problems(self) -> list[str]:
        by_role, problems = self.binaries_by_role()
        for role, binaries in sorted(by_role.items()):
            who = " and ".join(sorted(binaries))
            operations = [op for op in CODE_OPERATIONS + PLATFORM_OPERATIONS if op.binaries & binaries]
            needed = {op.action.lower(): op for op in operations}
            allows = [st for st in self.by_role.get(role, []) if st.body.get("Effect") == "Allow"]
            for st in allows:
                for action in _strings(st.body.get("Action")):
                    if "*" in action:
                        continue  # reported as a wildcard
                    if action.lower() not in needed:
                        operator = next(
                            (op for op in OPERATOR_OPERATIONS if op.action.lower() == action.lower()), None
                        )
                        why = (
                            f"only `{' and '.join(sorted(operator.binaries))}` calls it, at an operator's "
                            "terminal (OPERATOR_OPERATIONS)"
                            if operator
                            else "CODE_OPERATIONS in scripts/check_iam.py lists what shared/aws/src calls"
                        )
                        problems.append(f"{st.label}: {action} is granted but the {who} never calls it ({why})")
                        continue
                    paths = [
                        APIGATEWAY_ARN_PREFIX + path
                        for op in operations
                        if op.action.lower() == action.lower()
                        for path in op.paths
                    ]
                    if not paths:
                        continue
                    for resource in _as_list(st.body.get("Resource")):
                        granted = _sub_string(resource)
                        if granted is None or not any(_glob_match(path, granted) for path in paths):
                            problems.append(
                                f"{st.label}: {action} on {json.dumps(resource)} is wider than what the {who} "
                                f"touches: {', '.join(p[len(APIGATEWAY_ARN_PREFIX):] for p in paths)}"
                            )
            for op in CODE_OPERATIONS:
                if not op.binaries & binaries:
                    continue
                targets = [APIGATEWAY_ARN_PREFIX + path for path in op.paths] or [None]
                for target in targets:
                    granted = any(
                        any(_glob_match(a.lower(), op.action.lower()) for a in _strings(st.body.get("Action")))
                        and (
                            target is None
                            or any(
                                (g := _sub_string(r)) is not None and _glob_match(g, target)
                                for r in _as_list(st.body.get("Resource"))
                            )
                        )
                        for st in allows
                    )
                    if not granted:
                        where = "" if target is None else f" on {target[len(APIGATEWAY_ARN_PREFIX):]}"
                        problems.append(f"{role}: the {who} calls {op.call} but {op.action}{where} is not granted")
        return problems

    # -- tag writes only on the guard's keys -----------------------------------------------

    def tag_problems(self) -> list[str]:
        problems = []
        for st in self.all_statements:
            if st.body.get("Effect") != "Allow":
                continue
            actions = [
                t for t in TAG_WRITE_ACTIONS if any(_glob_match(a.lower(), t.lower()) for a in _strings(st.body.get("Action")))
            ]
            if actions and not _limits_tag_keys(st.body.get("Condition")):
                problems.append(
                    f"{st.label}: {', '.join(actions)} without Condition ForAllValues:StringEquals "
                    f"aws:TagKeys = '{POINTER_TAG_KEY}' (exactly that key): the guard could write or "
                    "erase other tags, the owners' opt-outs included"
                )
        return problems

    def check(self) -> list[str]:
        return (
            self.problems
            + self.wildcard_problems()
            + self.code_problems()
            + self.tag_problems()
            + self.deny_problems()
            + self.mapping_deny_problems()
        )


def _condition_values(condition: Any, operators: Iterable[str], key: str) -> list | None:
    """The values of `key` under one of `operators`, when that is the condition's only test."""
    if not isinstance(condition, dict) or len(condition) != 1:
        return None
    (operator, block), = condition.items()
    if operator.lower() not in {o.lower() for o in operators} or not isinstance(block, dict) or len(block) != 1:
        return None
    (name, values), = block.items()
    if name.lower() != key.lower():
        return None
    values = _as_list(values)
    return values or None


def _names_function(condition: Any, arn: str) -> bool:
    """A Deny condition that holds when lambda:FunctionArn is this function (or no condition)."""
    if condition is None:
        return True
    values = _condition_values(condition, ("ArnLike", "ArnEquals", "StringLike", "StringEquals"), "lambda:FunctionArn")
    return values is not None and any((p := _sub_string(v)) is not None and _glob_match(p, arn) for v in values)


def _limits_tag_keys(condition: Any) -> bool:
    """ForAllValues:StringEquals aws:TagKeys is exactly the pointer key (other tests only narrow an Allow)."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if operator.lower() != "forallvalues:stringequals" or not isinstance(block, dict):
            continue
        for key, values in block.items():
            if key.lower() == "aws:tagkeys" and _as_list(values) == [POINTER_TAG_KEY]:
                return True
    return False


# --------------------------------------------------------------------------- resource policies


class Template:
    """The template's resource policies, triggers and parameters."""

    def __init__(self, template: dict):
        resources = template.get("Resources")
        if not isinstance(resources, dict):
            raise TemplateError("template has no Resources")
        self.template = template
        self.resources: dict[str, dict] = {k: v for k, v in resources.items() if isinstance(v, dict)}
        self.functions = {k for k, v in self.resources.items() if v.get("Type") in FUNCTION_TYPES}

    def props(self, name: str) -> dict:
        props = self.resources[name].get("Properties")
        return props if isinstance(props, dict) else {}

    def of_type(self, *types: str) -> list[str]:
        return [k for k, v in self.resources.items() if v.get("Type") in types]

    def function_named(self, value: Any) -> str | None:
        """The template function a FunctionName/Arn/Endpoint value refers to."""
        att = _getatt(value)
        if att is not None and att[0] in self.functions:
            return att[0]
        ref = _ref(value)
        if ref in self.functions:
            return ref
        name = _sub_string(value)
        if name is None:
            return None
        for function in self.functions:
            fname = _sub_string(self.props(function).get("FunctionName"))
            if fname is not None and name in (fname, FUNCTION_ARN_PREFIX + fname):
                return function
        return None

    # -- the alarm topic -------------------------------------------------------------------

    def alarm_topics(self) -> set[str]:
        """Topics the template's alarms publish to, or that its functions subscribe to."""
        topics = set()
        for alarm in self.of_type(*ALARM_TYPES):
            props = self.props(alarm)
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                for action in _as_list(props.get(key)):
                    if self.resources.get(_ref(action) or "", {}).get("Type") == "AWS::SNS::Topic":
                        topics.add(_ref(action))
        for function in self.functions:
            for event in (self.props(function).get("Events") or {}).values():
                if isinstance(event, dict) and event.get("Type") == "SNS":
                    topic = _ref((event.get("Properties") or {}).get("Topic"))
                    if topic in self.resources:
                        topics.add(topic)
        for sub in self.of_type("AWS::SNS::Subscription"):
            props = self.props(sub)
            topic = _ref(props.get("TopicArn"))
            if topic in self.resources and self.function_named(props.get("Endpoint")) is not None:
                topics.add(topic)
        return topics

    def topic_statements(self, topic: str) -> list[dict]:
        statements = []
        for policy in self.of_type("AWS::SNS::TopicPolicy"):
            props = self.props(policy)
            if any(_ref(t) == topic for t in _as_list(props.get("Topics"))):
                document = props.get("PolicyDocument") or {}
                statements += [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]
        return statements

    def topic_problems(self) -> list[str]:
        problems = []
        for topic in sorted(self.alarm_topics()):
            denies = [
                st
                for st in self.topic_statements(topic)
                if st.get("Effect") == "Deny"
                and _everyone(st.get("Principal"))
                and any(_glob_match(a.lower(), "sns:publish") for a in _strings(st.get("Action")))
                and any(_ref(r) == topic or r == "*" for r in _as_list(st.get("Resource")))
            ]
            other_accounts = any(
                (values := _condition_values(st.get("Condition"), ("StringNotEquals",), "aws:SourceAccount"))
                and all(_ref(v) == "AWS::AccountId" for v in values)
                for st in denies
            )
            other_sources = any(
                (values := _condition_values(st.get("Condition"), ("ArnNotLike", "ArnNotEquals"), "aws:SourceArn"))
                and all(
                    (p := _sub_string(v)) is not None and _glob_match(ACCOUNT_ALARM_ARN_PREFIX + "*", p)
                    for v in values
                )
                for st in denies
            )
            if not other_accounts:
                problems.append(
                    f"{topic}: its topic policy lacks a Deny of sns:Publish to every principal with "
                    "Condition StringNotEquals aws:SourceAccount = AWS::AccountId (any identity allowed "
                    "sns:Publish by its own policy could publish a forged alarm)"
                )
            if not other_sources:
                problems.append(
                    f"{topic}: its topic policy lacks a Deny of sns:Publish to every principal with "
                    f"Condition ArnNotLike aws:SourceArn = {ACCOUNT_ALARM_ARN_PREFIX}* (only this "
                    "account's CloudWatch alarms may publish)"
                )
        return problems

    # -- who may invoke the functions --------------------------------------------------------

    def permission_problems(self) -> list[str]:
        problems = []
        for permission in self.of_type("AWS::Lambda::Permission"):
            props = self.props(permission)
            function = self.function_named(props.get("FunctionName"))
            if function is None:
                continue
            principal = props.get("Principal")
            source_arn = props.get("SourceArn")
            if isinstance(principal, str) and "*" in principal:
                problems.append(f"{permission}: lets any principal invoke {function}")
                continue
            if isinstance(principal, str) and principal.endswith(".amazonaws.com") and source_arn is None:
                problems.append(
                    f"{permission}: lets {principal} invoke {function} without SourceArn "
                    "(any such resource, of any account, could)"
                )
            if principal == ALARM_ACTION_PRINCIPAL:
                arn = _sub_string(source_arn)
                if arn is None or not _glob_match(STACK_ALARM_ARN_PREFIX + "*", arn):
                    problems.append(
                        f"{permission}: alarm actions may invoke {function} from {json.dumps(source_arn)}; "
                        f"limit SourceArn to this stack's alarms ({STACK_ALARM_ARN_PREFIX}*)"
                    )
                if _ref(props.get("SourceAccount")) != "AWS::AccountId":
                    problems.append(f"{permission}: alarm-action permission without SourceAccount = AWS::AccountId")
        return problems

    def event_patterns(self) -> Iterator[tuple[str, dict]]:
        for rule in self.of_type("AWS::Events::Rule"):
            pattern = self.props(rule).get("EventPattern")
            if isinstance(pattern, dict):
                yield rule, pattern
        for function in sorted(self.functions):
            for name, event in (self.props(function).get("Events") or {}).items():
                if isinstance(event, dict) and event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                    pattern = (event.get("Properties") or {}).get("Pattern")
                    if isinstance(pattern, dict):
                        yield f"{function} event {name}", pattern

    def rule_problems(self) -> list[str]:
        problems = []
        for where, pattern in self.event_patterns():
            sources = [s for s in _as_list(pattern.get("source")) if isinstance(s, str)]
            if sources and "aws.cloudwatch" not in sources:
                continue  # not alarm state changes
            detail = pattern.get("detail") if isinstance(pattern.get("detail"), dict) else {}
            fields = {
                "resources": (pattern.get("resources"), self._stack_alarm_arn),
                "detail.alarmName": (detail.get("alarmName"), self._stack_alarm_name),
            }
            # The fields of a pattern must all match: one limited to this stack's alarms is enough.
            wider = {}
            restricted = False
            for field, (entries, within) in fields.items():
                if entries is None:
                    continue
                outside = [e for e in _as_list(entries) if not within(e)]
                if outside or not _as_list(entries):
                    wider[field] = outside or entries
                else:
                    restricted = True
            if restricted:
                continue
            if wider:
                found = "; ".join(f"{field} {json.dumps(entries)}" for field, entries in wider.items())
                problems.append(f"{where}: {found} reaches beyond this stack's alarms ({ALARM_NAME_PREFIX}*)")
            else:
                problems.append(
                    f"{where}: matches the state changes of every alarm; limit resources or "
                    f"detail.alarmName to this stack's alarms ({ALARM_NAME_PREFIX}*)"
                )
        return problems

    def _alarm_name(self, alarm: str) -> str | None:
        if self.resources.get(alarm, {}).get("Type") not in ALARM_TYPES:
            return None
        return _sub_string(self.props(alarm).get("AlarmName"))

    def _stack_alarm_name(self, entry: Any) -> bool:
        if isinstance(entry, dict) and set(entry) == {"prefix"}:
            entry = entry["prefix"]
        ref = _ref(entry)
        name = self._alarm_name(ref) if ref is not None else _sub_string(entry)
        return name is not None and name.startswith(ALARM_NAME_PREFIX)

    def _stack_alarm_arn(self, entry: Any) -> bool:
        if isinstance(entry, dict) and set(entry) == {"prefix"}:
            entry = entry["prefix"]
        att = _getatt(entry)
        if att is not None:
            name = self._alarm_name(att[0]) if att[1] == "Arn" else None
            return name is not None and name.startswith(ALARM_NAME_PREFIX)
        arn = _sub_string(entry)
        return arn is not None and arn.startswith(STACK_ALARM_ARN_PREFIX)

    def alarm_name_problems(self) -> list[str]:
        return [
            f"{alarm}: AlarmName {json.dumps(self.props(alarm).get('AlarmName'))} does not start with "
            f"{ALARM_NAME_PREFIX!r}; the remediator accepts only this stack's alarms"
            for alarm in self.of_type(*ALARM_TYPES)
            if not (self._alarm_name(alarm) or "").startswith(ALARM_NAME_PREFIX)
        ]

    # -- parameters --------------------------------------------------------------------------

    @staticmethod
    def _variables(environment: Any) -> dict:
        variables = environment.get("Variables") if isinstance(environment, dict) else None
        return variables if isinstance(variables, dict) else {}

    def function_variables(self, function: str) -> dict:
        """A function's environment variables, the Globals' included (the function's win)."""
        globals_ = ((self.template.get("Globals") or {}).get("Function") or {}).get("Environment")
        serverless = self.resources[function].get("Type") == "AWS::Serverless::Function"
        variables = dict(self._variables(globals_)) if serverless else {}
        variables.update(self._variables(self.props(function).get("Environment")))
        return variables

    def settings_fed(self) -> dict[str, set[str]]:
        """Parameter -> the environment variables it feeds (Globals included), directly or as
        the name of a table the variable refers to (CGUARD_LEDGER_TABLE: !Ref Ledger)."""
        parameters = self.template.get("Parameters") or {}
        environments = [((self.template.get("Globals") or {}).get("Function") or {}).get("Environment")]
        environments += [self.props(f).get("Environment") for f in self.functions]
        fed: dict[str, set[str]] = {}
        for environment in environments:
            for name, value in self._variables(environment).items():
                ref = _ref(value)
                if ref in self.resources and self.resources[ref].get("Type") == "AWS::DynamoDB::Table":
                    ref = _ref(self.props(ref).get("TableName"))
                if ref in parameters:
                    fed.setdefault(ref, set()).add(name)
        return fed

    def parameter_problems(self) -> list[str]:
        problems = []
        parameters = self.template.get("Parameters") or {}
        fed = self.settings_fed()
        for name, param in parameters.items():
            if not isinstance(param, dict):
                continue
            ptype = param.get("Type", "String")
            if ptype in ("String", "CommaDelimitedList") and not ("AllowedValues" in param or "AllowedPattern" in param):
                problems.append(f"parameter {name}: no AllowedValues or AllowedPattern; any value deploys")
            elif ptype == "Number" and "AllowedValues" not in param and not ("MinValue" in param and "MaxValue" in param):
                problems.append(f"parameter {name}: a Number needs AllowedValues, or MinValue and MaxValue")
            for variable in sorted(fed.get(name, ())):
                if not variable.startswith("CGUARD_"):
                    continue
                setting = SETTINGS.get(variable)
                if setting is None:
                    problems.append(
                        f"parameter {name} feeds {variable}, which SETTINGS (check_iam.py, from "
                        "shared/core/src/config.rs) does not know"
                    )
                    continue
                values = probes(setting) + [str(v) for v in _as_list(param.get("AllowedValues"))]
                if "Default" in param:
                    values.append(str(param["Default"]))
                refused = sorted(
                    {v for v in values if parameter_admits(param, v) and not binary_accepts(setting, v)}, key=values.index
                )
                if refused:
                    problems.append(
                        f"parameter {name} admits {', '.join(repr(v) for v in refused)} for {variable}, which "
                        f"the functions refuse at start-up (config.rs: {setting.describe()})"
                    )
        return problems

    def check(self) -> list[str]:
        return (
            self.topic_problems()
            + self.permission_problems()
            + self.rule_problems()
            + self.alarm_name_problems()
            + self.parameter_problems()
        )


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and set(principal) == {"AWS"} and _as_list(principal["AWS"]) == ["*"]


# --------------------------------------------------------------------------- the ledger


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Atom(NamedTuple):
    """One principal in a condition's values: a role's GetAtt Arn, a parameter, a literal."""

    kind: str  # "getatt" | "param" | "literal" | "unknown"
    value: str


def _principal_branches(value: Any) -> list[list[Atom]]:
    """The lists of principals a condition value can be, one per Fn::If branch.

    Understands GetAtt X.Arn (or "${X.Arn}"), Ref of a (list) parameter, literals, lists, Fn::If,
    and the list concatenation !Split [",", !Join [",", [..., !Join [",", !Ref List]]]].
    """
    if isinstance(value, list):
        branches: list[list[Atom]] = [[]]
        for item in value:
            branches = [b + more for b in branches for more in _principal_branches(item)]
        return branches
    if isinstance(value, dict) and len(value) == 1:
        (fn, args), = value.items()
        if fn == "Fn::If" and isinstance(args, list) and len(args) == 3:
            return _principal_branches(args[1]) + _principal_branches(args[2])
        if fn == "Ref" and args == "AWS::NoValue":
            return [[]]
        if fn == "Ref" and isinstance(args, str):
            return [[Atom("param", args)]]
        if fn in ("Fn::Split", "Fn::Join") and isinstance(args, list) and len(args) == 2 and args[0] == ",":
            return _principal_branches(args[1])
    att = _getatt(value)
    if att is not None and att[1] == "Arn":
        return [[Atom("getatt", att[0])]]
    if isinstance(value, str):
        return [[Atom("literal", value)]]
    return [[Atom("unknown", json.dumps(value, sort_keys=True))]]


class Ledger:
    """The guard's DynamoDB ledger: present, protected, and the only table the roles reach."""

    def __init__(self, template: dict):
        self.template = template
        self.parameters = template.get("Parameters") or {}
        self.policies = Policies(template)
        self.stack = Template(template)
        self.problems: list[str] = []
        self.tables = self._find()

    def _find(self) -> set[str]:
        """The tables the functions' CGUARD_LEDGER_TABLE name; a function naming none is a problem."""
        tables = set()
        res = self.stack
        for function in sorted(res.functions):
            value = res.function_variables(function).get(LEDGER_VARIABLE)
            ref = _ref(value)
            if ref in res.resources and res.resources[ref].get("Type") == "AWS::DynamoDB::Table":
                tables.add(ref)
            else:
                found = "is not set" if value is None else f"is {json.dumps(value)}"
                self.problems.append(
                    f"{function}: {LEDGER_VARIABLE} {found}; it must be !Ref of the ledger, an "
                    "AWS::DynamoDB::Table of this template that only the guard may write (the "
                    "binaries would otherwise use a table nobody protects)"
                )
        if len(tables) > 1:
            self.problems.append(f"the functions name different ledger tables: {', '.join(sorted(tables))}")
        return tables

    def arn(self, table: str) -> str | None:
        """The table's ARN as the roles must write it (a Fn::Sub-style string)."""
        name = self.stack.props(table).get("TableName")
        ref = _ref(name)
        if ref is not None:
            return TABLE_ARN_PREFIX + "${" + ref + "}"
        if isinstance(name, str) and "*" not in name and "?" not in name:
            return TABLE_ARN_PREFIX + name
        return None

    def _names_table(self, resource: Any, table: str) -> bool:
        """The resource is exactly the table (no wildcard, no index, no other table)."""
        if _getatt(resource) == (table, "Arn"):
            return True
        granted = _sub_string(resource)
        return granted is not None and granted in (self.arn(table), TABLE_ARN_PREFIX + "${" + table + "}")

    def _covers_table(self, resource: Any, table: str) -> bool:
        """The resource includes the table (a Deny may be wider)."""
        if self._names_table(resource, table):
            return True
        pattern, arn = _sub_string(resource), self.arn(table)
        return pattern is not None and arn is not None and _glob_match(pattern, arn)

    # -- the table itself --------------------------------------------------------------------

    def table_problems(self, table: str) -> list[str]:
        problems = []
        props = self.stack.props(table)
        resource = self.stack.resources[table]
        if props.get("BillingMode") != "PAY_PER_REQUEST":
            problems.append(
                f"{table}: BillingMode is {json.dumps(props.get('BillingMode'))}, not PAY_PER_REQUEST "
                "(provisioned capacity throttles the guard's writes during an incident)"
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if not (isinstance(pitr, dict) and _true(pitr.get("PointInTimeRecoveryEnabled"))):
            problems.append(
                f"{table}: no point-in-time recovery (PointInTimeRecoverySpecification."
                "PointInTimeRecoveryEnabled: true); a lost or overwritten record could not be recovered"
            )
        if not _true(props.get("DeletionProtectionEnabled")):
            problems.append(
                f"{table}: no deletion protection (DeletionProtectionEnabled: true); deleting the "
                "table loses every previous value the guard would restore"
            )
        ttl = props.get("TimeToLiveSpecification")
        if not (
            isinstance(ttl, dict) and ttl.get("AttributeName") == LEDGER_TTL_ATTRIBUTE and _true(ttl.get("Enabled"))
        ):
            problems.append(
                f"{table}: TimeToLiveSpecification must be enabled on {LEDGER_TTL_ATTRIBUTE!r} "
                f"(found {json.dumps(ttl)}): closed records would never expire"
            )
        keys = [
            (k.get("AttributeName"), k.get("KeyType")) for k in _as_list(props.get("KeySchema")) if isinstance(k, dict)
        ]
        types = {
            d.get("AttributeName"): d.get("AttributeType")
            for d in _as_list(props.get("AttributeDefinitions"))
            if isinstance(d, dict)
        }
        if keys != list(LEDGER_KEYS) or any(types.get(name) != "S" for name, _ in LEDGER_KEYS):
            problems.append(
                f"{table}: keys are {keys}, not the ledger's pk (S, HASH) and sk (S, RANGE) "
                "(shared/aws/src/ledger writes those)"
            )
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(attribute) != "Retain":
                problems.append(
                    f"{table}: {attribute} is {json.dumps(resource.get(attribute))}, not Retain; the "
                    "ledger holds the state the guard restores"
                )
        return problems + self.resource_policy_problems(table)

    # -- who may write items -----------------------------------------------------------------

    def guard_roles(self) -> set[str]:
        """Logical ids of the roles of the functions that use the ledger."""
        roles = set()
        for function in self.stack.functions:
            role = self.policies.role_of(function)
            if role is not None and role.startswith("role "):
                roles.add(role[len("role ") :])
            elif role is not None:
                roles.add(role[len("function ") :] + "Role")  # the role SAM generates
        return roles

    def _admits_wildcards(self, name: str) -> list[str]:
        return [v for v in WILDCARD_PRINCIPALS if parameter_admits(self.parameters[name], v)]

    def _branch_problems(self, branch: list[Atom], roles: set[str]) -> list[str]:
        problems = []
        named = {a.value for a in branch if a.kind == "getatt"}
        if not roles <= named:
            left_out = ", ".join(sorted(roles - named))
            problems.append(f"leaves out the guard's role {left_out} (the guard could not record)")
        for atom in branch:
            if atom.kind == "getatt" and atom.value not in roles:
                problems.append(f"exempts {atom.value}, which is not a role of the guard's functions")
            elif atom.kind == "param" and not isinstance(self.parameters.get(atom.value), dict):
                problems.append(f"exempts {atom.value}, which is not an operator parameter of this template")
            elif atom.kind == "param":
                wild = self._admits_wildcards(atom.value)
                if wild:
                    problems.append(
                        f"exempts parameter {atom.value}, which admits {', '.join(repr(w) for w in wild)}; "
                        "give it an AllowedPattern of exact IAM role or user ARNs"
                    )
            elif atom.kind in ("literal", "unknown"):
                problems.append(
                    f"exempts {atom.value}; principals besides the guard's roles come from an "
                    "operator parameter with exact ARNs"
                )
        return problems

    def _exemption_problems(self, condition: Any, roles: set[str]) -> list[str] | None:
        """None when the condition is not one StringNotEquals/ArnNotEquals aws:PrincipalArn test."""
        if _condition_values(condition, ("StringNotEquals", "ArnNotEquals"), "aws:PrincipalArn") is None:
            return None
        # The values whole (Fn::If, Fn::Split, ...), not as _condition_values lists them.
        (block,) = condition.values()
        (raw,) = block.values()
        problems = []
        for branch in _principal_branches(raw):
            problems += self._branch_problems(branch, roles)
        return sorted(set(problems), key=problems.index)

    def resource_policy_problems(self, table: str) -> list[str]:
        policy = self.stack.props(table).get("ResourcePolicy")
        document = policy.get("PolicyDocument") if isinstance(policy, dict) else None
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                document = None
        statements = [s for s in _as_list((document or {}).get("Statement")) if isinstance(s, dict)]
        roles = self.guard_roles()
        missing = set(LEDGER_WRITE_ACTIONS)
        why: list[str] = []
        for st in statements:
            if st.get("Effect") != "Deny" or not _everyone(st.get("Principal")):
                continue
            if not any(r == "*" or self._covers_table(r, table) for r in _as_list(st.get("Resource"))):
                continue
            covered = {
                a for a in missing if any(_glob_match(g.lower(), a.lower()) for g in _strings(st.get("Action")))
            }
            if not covered:
                continue
            exemptions = self._exemption_problems(st.get("Condition"), roles)
            label = f"statement {st.get('Sid')!r}" if isinstance(st.get("Sid"), str) else "a statement"
            if exemptions is None:
                why.append(
                    f"{label}'s Condition is not one StringNotEquals (or ArnNotEquals) aws:PrincipalArn test "
                    f"(found {json.dumps(st.get('Condition'), sort_keys=True)})"
                )
            elif exemptions:
                why += [f"{label} {e}" for e in exemptions]
            else:
                missing -= covered
        if not missing:
            return []
        ordered = [a for a in LEDGER_WRITE_ACTIONS if a in missing]
        found = f"; {'; '.join(why)}" if why else ""
        return [
            f"{table}: its ResourcePolicy lacks a Deny of {', '.join(ordered)} to every principal "
            "(Principal '*') whose aws:PrincipalArn is not one of the guard's roles "
            f"({', '.join(sorted(roles))}) or an operator parameter's exact ARNs: anyone allowed "
            f"by their own policies could forge or erase a record{found}"
        ]

    # -- DynamoDB grants ---------------------------------------------------------------------

    def grant_problems(self) -> list[str]:
        problems = []
        for st in self.policies.all_statements:
            if st.body.get("Effect") != "Allow":
                continue
            actions = [a for a in _strings(st.body.get("Action")) if a.lower().startswith("dynamodb:")]
            if not actions:
                continue
            for resource in _as_list(st.body.get("Resource")):
                if any(self._names_table(resource, table) for table in self.tables):
                    continue
                ledger = ", ".join(str(self.arn(t)) for t in sorted(self.tables)) or "none in this template"
                problems.append(
                    f"{st.label}: {', '.join(actions)} on {json.dumps(resource)}: DynamoDB is granted "
                    f"only on the ledger table itself ({ledger})"
                )
        return problems

    def check(self) -> list[str]:
        problems = list(self.problems)
        for table in sorted(self.tables):
            problems += self.table_problems(table)
        return problems + self.grant_problems()


# --------------------------------------------------------------------------- SAM expansion


def sam_expand(template: dict) -> dict | None:
    """The template after the SAM transform, or None when the translator is unavailable."""
    if "AWS::Serverless-2016-10-31" not in _as_list(template.get("Transform")):
        return None
    try:
        import boto3  # type: ignore[import-not-found]
        from samtranslator.parser.parser import Parser  # type: ignore[import-not-found]
        from samtranslator.translator.translator import Translator  # type: ignore[import-not-found]
    except ImportError:
        return None

    fragment = copy.deepcopy(template)
    for res in (fragment.get("Resources") or {}).values():
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function":
            props = res.setdefault("Properties", {})
            if "InlineCode" not in props and "ImageUri" not in props:
                props["CodeUri"] = "s3://bucket/key"  # local paths are for `sam build`
    # An explicit session: offline, whatever AWS_* variables the caller has.
    session = boto3.session.Session(region_name="us-east-1")
    translator = Translator(None, Parser(), boto_session=session)
    return translator.translate(fragment, parameter_values={}, get_managed_policy_map=lambda: {})


def _all_checks(template: dict) -> list[str]:
    return Policies(template).check() + Template(template).check() + Ledger(template).check()


def check_template(template: dict) -> list[str]:
    problems = _all_checks(template)
    try:
        expanded = sam_expand(template)
    except Exception as err:  # noqa: BLE001 - reported, not raised
        return problems + [f"SAM transform failed: {err}"]
    if expanded is not None:
        seen = set(problems)
        for problem in _all_checks(expanded):
            if problem not in seen:
                seen.add(problem)
                problems.append(f"after SAM transform: {problem}")
    return problems


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "template.yaml"
    try:
        template = load_template(path)
        policies = Policies(template)
    except TemplateError as err:
        print(f"check_iam: cannot read {path}: {err}", file=sys.stderr)
        return 2
    problems = check_template(template)
    if problems:
        print(f"check_iam: {path}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    roles = sorted({policies.role_of(f) or "?" for f in policies.function_arns()})
    print(
        f"check_iam: {path}: OK: {len(policies.all_statements)} statements, no wildcard actions, "
        f"grants match the code's calls; self-protection Deny present in {', '.join(roles)}; "
        f"ledger {', '.join(sorted(Ledger(template).tables))} protected and the only table granted; "
        "alarm topic, invoke permissions, rules and parameters constrained"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
