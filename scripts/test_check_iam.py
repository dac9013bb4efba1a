"""Tests for scripts/check_iam.py:  python3 -m pytest scripts/test_check_iam.py"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
TEMPLATE = REPO / "template.yaml"
CHECK_IAM = SCRIPTS / "check_iam.py"

_spec = importlib.util.spec_from_file_location("check_iam", CHECK_IAM)
assert _spec is not None and _spec.loader is not None
check_iam = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_iam)


def run_cli(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECK_IAM), str(path)], capture_output=True, text=True, check=False, cwd=REPO
    )


@pytest.fixture()
def template() -> dict:
    return check_iam.load_template(TEMPLATE)


def statements(template: dict, role: str) -> list[dict]:
    return template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def statement(template: dict, role: str, sid: str) -> dict:
    (found,) = [s for s in statements(template, role) if s.get("Sid") == sid]
    return found


def deny_statement(template: dict, role: str) -> dict:
    return statement(template, role, "NeverChangeTheGuardItself")


def resources(template: dict) -> dict:
    return template["Resources"]


def props(template: dict, name: str) -> dict:
    return template["Resources"][name]["Properties"]


def apigw(path: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::" + path}


def problems_of(template: dict) -> list[str]:
    return check_iam.check_template(template)


def write_json(tmp_path: Path, template: dict) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


# ------------------------------------------------------------------------- the real template


def test_repository_template_passes(template: dict) -> None:
    assert check_iam.check_template(template) == []


def test_repository_template_passes_after_the_sam_transform(template: dict) -> None:
    expanded = check_iam.sam_expand(template)
    if expanded is None:
        pytest.skip("aws-sam-translator is not installed")
    assert check_iam.Policies(expanded).check() == []
    assert check_iam.Template(expanded).check() == []
    assert check_iam.Ledger(expanded).check() == []
    assert check_iam.Ledger(expanded).tables == {"Ledger"}


def test_repository_template_passes_on_the_command_line() -> None:
    result = run_cli(TEMPLATE)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "RemediatorRole" in result.stdout and "AuditorRole" in result.stdout
    assert "ledger Ledger protected" in result.stdout


def test_fallback_yaml_loader_reads_short_form_tags_like_cfn_lint(template: dict) -> None:
    fallback = check_iam._yaml_fallback_load(TEMPLATE.read_text(encoding="utf-8"))
    assert json.loads(json.dumps(fallback)) == template
    role = fallback["Resources"]["RemediatorFunction"]["Properties"]["Role"]
    assert role == {"Fn::GetAtt": ["RemediatorRole", "Arn"]}


# ------------------------------------------------------------------------- wildcard actions


def test_wildcard_action_in_the_yaml_fails(tmp_path: Path) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    needle = "                  - lambda:GetFunction\n"
    assert needle in text
    bad = tmp_path / "template.yaml"
    bad.write_text(text.replace(needle, "                  - lambda:Get*\n", 1), encoding="utf-8")

    result = run_cli(bad)

    assert result.returncode == 1
    assert "RemediatorRole" in result.stderr
    assert "wildcard action 'lambda:Get*'" in result.stderr


@pytest.mark.parametrize("action", ["lambda:*", "*", ["sns:Publish", "sqs:*"]])
def test_any_wildcard_action_fails(template: dict, action: object) -> None:
    statements(template, "AuditorRole")[0]["Action"] = action
    problems = check_iam.check_template(template)
    assert any("AuditorRole" in p and "wildcard action" in p for p in problems), problems


def test_allow_with_not_action_fails(template: dict) -> None:
    statements(template, "AuditorRole").append(
        {"Effect": "Allow", "NotAction": "iam:CreateUser", "Resource": "*"}
    )
    problems = check_iam.check_template(template)
    assert any("NotAction" in p for p in problems), problems


def test_wildcard_in_sam_function_policies_fails(template: dict) -> None:
    props = template["Resources"]["AuditorFunction"]["Properties"]
    props["Policies"] = [{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
    problems = check_iam.check_template(template)
    assert any("AuditorFunction Policies[0]" in p and "'s3:*'" in p for p in problems), problems


def test_managed_policies_and_sam_policy_templates_fail(template: dict) -> None:
    template["Resources"]["AuditorRole"]["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/AWSLambda_FullAccess"
    ]
    template["Resources"]["RemediatorFunction"]["Properties"]["Policies"] = [
        {"SQSSendMessagePolicy": {"QueueName": "q"}}
    ]
    problems = check_iam.Policies(template).check()
    assert any("AuditorRole" in p and "AWSLambda_FullAccess" in p for p in problems), problems
    assert any("SQSSendMessagePolicy" in p for p in problems), problems


# ------------------------------------------------------------------------- the self-protection Deny


@pytest.mark.parametrize(
    "action", ["lambda:PutFunctionEventInvokeConfig", "lambda:UpdateAlias", "lambda:PublishVersion", "lambda:TagResource"]
)
def test_deny_missing_any_mutating_action_fails(template: dict, action: str) -> None:
    deny_statement(template, "AuditorRole")["Action"].remove(action)
    problems = problems_of(template)
    assert any("AuditorRole lacks an unconditional Deny" in p and action in p for p in problems), problems


def test_missing_mapping_deny_fails(template: dict) -> None:
    policy = statements(template, "RemediatorRole")
    policy.remove(statement(template, "RemediatorRole", "NeverChangeTheGuardsMappings"))
    problems = problems_of(template)
    assert any(
        p.startswith("RemediatorFunction: role RemediatorRole lacks a Deny of lambda:UpdateEventSourceMapping")
        for p in problems
    ), problems


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnLike": {"lambda:EventSourceArn": "arn:aws:sqs:*"}},  # another key: not the guard's functions
        {
            "ArnLike": {"lambda:FunctionArn": "arn:aws:lambda:*:*:function:x"},
            "Bool": {"aws:ViaAWSService": "false"},  # a second test narrows the Deny
        },
    ],
)
def test_mapping_deny_that_does_not_name_the_guard_fails(template: dict, condition: dict) -> None:
    statement(template, "AuditorRole", "NeverChangeTheGuardsMappings")["Condition"] = condition
    problems = problems_of(template)
    assert any("AuditorRole lacks a Deny of lambda:UpdateEventSourceMapping" in p for p in problems), problems


def test_missing_deny_fails(template: dict, tmp_path: Path) -> None:
    policy = statements(template, "AuditorRole")
    policy.remove(deny_statement(template, "AuditorRole"))

    result = run_cli(write_json(tmp_path, template))

    assert result.returncode == 1
    assert "AuditorFunction: role AuditorRole lacks an unconditional Deny" in result.stderr
    assert "RemediatorRole lacks" not in result.stderr


def test_deny_missing_one_action_fails(template: dict) -> None:
    deny_statement(template, "RemediatorRole")["Action"].remove("lambda:UpdateFunctionCode")
    problems = check_iam.check_template(template)
    assert any(
        "RemediatorRole lacks" in p and "lambda:UpdateFunctionCode" in p and "lambda:DeleteFunction," not in p
        for p in problems
    ), problems


def test_deny_covering_only_its_own_function_fails(template: dict) -> None:
    deny = deny_statement(template, "RemediatorRole")
    deny["Resource"] = [r for r in deny["Resource"] if "auditor" not in json.dumps(r)]
    problems = check_iam.check_template(template)
    assert any("RemediatorRole lacks" in p and p.rstrip().endswith("on AuditorFunction") for p in problems)


def test_conditional_deny_does_not_count(template: dict) -> None:
    deny_statement(template, "AuditorRole")["Condition"] = {"Bool": {"aws:ViaAWSService": "false"}}
    problems = check_iam.check_template(template)
    assert any("AuditorRole lacks" in p for p in problems), problems


def test_deny_turned_into_allow_fails(template: dict) -> None:
    deny_statement(template, "AuditorRole")["Effect"] = "Allow"
    problems = check_iam.check_template(template)
    assert any("AuditorRole lacks" in p for p in problems), problems


def test_deny_may_name_functions_by_getatt_or_by_pattern(template: dict) -> None:
    remediator = deny_statement(template, "RemediatorRole")
    remediator["Resource"] = [
        {"Fn::GetAtt": ["RemediatorFunction", "Arn"]},
        {"Fn::GetAtt": ["AuditorFunction", "Arn"]},
    ]
    auditor = deny_statement(template, "AuditorRole")
    auditor["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-*"}
    assert check_iam.Policies(template).check() == []


def test_function_without_fixed_name_fails(template: dict) -> None:
    del template["Resources"]["AuditorFunction"]["Properties"]["FunctionName"]
    problems = check_iam.Policies(template).check()
    assert any("AuditorFunction: no literal FunctionName" in p for p in problems), problems


def test_sam_generated_role_needs_the_deny_too(template: dict) -> None:
    props = template["Resources"]["AuditorFunction"]["Properties"]
    del props["Role"]
    props["Policies"] = [{"Statement": copy.deepcopy(statements(template, "AuditorRole"))}]
    del template["Resources"]["AuditorRole"]
    # Inline statements in the function's Policies carry the Deny, but the role SAM
    # generates also attaches the AWSLambdaBasicExecutionRole managed policy.
    assert check_iam.Policies(template).check() == []
    expanded_problems = check_iam.check_template(template)
    if check_iam.sam_expand(template) is not None:
        assert any(p.startswith("after SAM transform") and "managed policy" in p for p in expanded_problems)


def test_unreadable_template_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("Resources: [unclosed\n", encoding="utf-8")
    assert run_cli(bad).returncode == 2


# ------------------------------------------------------------------------- API Gateway: stages only


@pytest.mark.parametrize(
    "path", ["/restapis/*", "/restapis/*/authorizers/*", "/restapis/*/policy", "/apis/*", "/apis/*/routes/*", "/*"]
)
def test_patch_wider_than_stages_fails(template: dict, path: str) -> None:
    statement(template, "RemediatorRole", "ThrottleApiStages")["Resource"].append(apigw(path))
    problems = problems_of(template)
    assert any(
        "RemediatorRole" in p and "'ThrottleApiStages': apigateway:PATCH" in p and path in p and "is wider" in p
        for p in problems
    ), problems


def test_patch_on_every_resource_fails(template: dict) -> None:
    statement(template, "AuditorRole", "ThrottleApiStages")["Resource"] = "*"
    problems = problems_of(template)
    assert any("apigateway:PATCH on \"*\" is wider" in p for p in problems), problems


@pytest.mark.parametrize("path", ["/apis/*/stages/*", "/apis/*", "/restapis/*/stages/*"])
def test_delete_wider_than_route_settings_fails(template: dict, path: str) -> None:
    statement(template, "AuditorRole", "RemoveRouteThrottles")["Resource"] = apigw(path)
    problems = problems_of(template)
    assert any("apigateway:DELETE on" in p and path in p and "is wider" in p for p in problems), problems


def test_delete_for_the_remediator_fails(template: dict) -> None:
    # The remediator only limits; restoring (and so deleting route settings) is the auditor's.
    statements(template, "RemediatorRole").append(
        copy.deepcopy(statement(template, "AuditorRole", "RemoveRouteThrottles"))
    )
    problems = problems_of(template)
    assert any("apigateway:DELETE is granted but the remediator never calls it" in p for p in problems), problems


def test_missing_route_settings_delete_fails(template: dict) -> None:
    statements(template, "AuditorRole").remove(statement(template, "AuditorRole", "RemoveRouteThrottles"))
    problems = problems_of(template)
    assert (
        "role AuditorRole: the auditor calls apigatewayv2:DeleteRouteSettings but apigateway:DELETE on "
        "/apis/*/stages/*/routesettings/* is not granted" in problems
    ), problems


def test_get_wider_than_what_is_read_fails(template: dict) -> None:
    statement(template, "AuditorRole", "ReadApis")["Resource"].append(apigw("/restapis/*/authorizers"))
    problems = problems_of(template)
    assert any("apigateway:GET on" in p and "/restapis/*/authorizers" in p for p in problems), problems


# ------------------------------------------------------------------------- grants match the code


@pytest.mark.parametrize(
    ("role", "action"),
    [
        ("RemediatorRole", "lambda:ListFunctions"),
        ("RemediatorRole", "lambda:DeleteFunctionConcurrency"),  # the remediator never restores
        ("RemediatorRole", "lambda:GetEventSourceMapping"),
        ("RemediatorRole", "tag:GetResources"),  # finding open records is the auditor's
        ("RemediatorRole", "cloudwatch:PutMetricData"),  # only the auditor publishes a datapoint
        ("AuditorRole", "sns:Publish"),  # the auditor drops the report topic
        ("AuditorRole", "lambda:InvokeFunction"),
        ("AuditorRole", "iam:PassRole"),
    ],
)
def test_action_not_called_by_the_code_fails(template: dict, role: str, action: str) -> None:
    statements(template, role).append({"Sid": "Extra", "Effect": "Allow", "Action": action, "Resource": "*"})
    problems = problems_of(template)
    binary = "remediator" if role == "RemediatorRole" else "auditor"
    assert any(
        f"{role} policy" in p and "'Extra'" in p and f"{action} is granted but the {binary} never calls it" in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("role", "sid", "action"),
    [
        ("AuditorRole", "ReadFunctions", "lambda:GetPolicy"),
        # GetFunction only returns a tagged function's tags with ListTags: the opt-out tag
        # would go unseen, so ListTags is a call of the code, not an extra.
        ("RemediatorRole", "ReadFunctions", "lambda:ListTags"),
        ("AuditorRole", "QueueMappings", "lambda:GetEventSourceMapping"),
    ],
)
def test_operation_called_but_not_granted_fails(template: dict, role: str, sid: str, action: str) -> None:
    statement(template, role, sid)["Action"].remove(action)
    problems = problems_of(template)
    assert any(p.startswith(f"role {role}: the ") and f"but {action} is not granted" in p for p in problems), problems


def test_function_without_binary_metadata_fails(template: dict) -> None:
    del resources(template)["AuditorFunction"]["Metadata"]
    problems = check_iam.Policies(template).check()
    assert any(p.startswith("AuditorFunction: no Metadata.BuildProperties.Binary") for p in problems), problems


RUST_CLIENTS = {
    "lambda": "lambda",
    "apigateway": "apigateway",
    "apigatewayv2": "apigatewayv2",
    "cloudwatch": "cloudwatch",
    "tagging": "tag",
    "dynamodb": "dynamodb",  # ledger.rs and ledger/table.rs
    "client": "sns",  # notify.rs: the report topic's SNS client
}


def sdk_calls() -> set[str]:
    """Every SDK operation the adapters call, read from shared/aws/src (e.g. self.lambda.get_policy())."""
    calls = set()
    for source in sorted((REPO / "shared" / "aws" / "src").rglob("*.rs")):
        text = source.read_text(encoding="utf-8")
        for client, method in re.findall(r"self\s*\.\s*(\w+)\s*\.\s*([a-z_]+)\(\)", text):
            if client in RUST_CLIENTS and method != "config":
                operation = "".join(part.capitalize() for part in method.split("_"))
                calls.add(f"{RUST_CLIENTS[client]}:{operation}")
    return calls


def test_code_operations_list_every_sdk_call_of_the_adapters() -> None:
    # "lambda:GetFunction (tags)" is GetFunction's second IAM action; "dynamodb:TransactWriteItems
    # (Put)" and "(Delete)" are the per-item actions one transaction is authorised as.
    listed = {op.call.split(" (")[0] for op in check_iam.CODE_OPERATIONS}
    operator = {op.call for op in check_iam.OPERATOR_OPERATIONS}
    calls = sdk_calls()
    assert calls, "no SDK call found under shared/aws/src"
    assert calls - listed - operator == set(), "add these to CODE_OPERATIONS (and grant them) or OPERATOR_OPERATIONS"
    assert listed - calls == set(), "CODE_OPERATIONS lists calls the code no longer makes"
    assert operator - calls == set(), "OPERATOR_OPERATIONS lists calls the code no longer makes"
    assert listed & operator == set(), "a call is either a function's or only `cguard init`'s"


def test_transact_write_items_is_authorised_per_item() -> None:
    actions = {op.action for op in check_iam.CODE_OPERATIONS if op.call.startswith("dynamodb:TransactWriteItems")}
    assert actions == {"dynamodb:PutItem", "dynamodb:DeleteItem"}


# ------------------------------------------------------------------------- tag writes


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"ForAllValues:StringLike": {"aws:TagKeys": "*"}},
        {"ForAllValues:StringLike": {"aws:TagKeys": ["concurrency-guard:*", "owner"]}},
        {"ForAnyValue:StringLike": {"aws:TagKeys": "concurrency-guard:*"}},
        {"StringLike": {"aws:ResourceTag/concurrency-guard:incident": "*"}},
        # The records moved to the ledger: every guard key is now too wide...
        {"ForAllValues:StringLike": {"aws:TagKeys": "concurrency-guard:*"}},
        # ...and the opt-outs are the owners' to set, never the guard's.
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["concurrency-guard:incident", "concurrency-guard:protected"]}},
        {"ForAllValues:StringEquals": {"aws:TagKeys": "concurrency-guard:kill-switch"}},
        {"ForAllValues:StringLike": {"aws:TagKeys": "concurrency-guard:incident*"}},
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "concurrency-guard:incident"}},
    ],
)
def test_tag_writes_not_limited_to_the_pointer_key_fail(template: dict, condition: dict | None) -> None:
    tags = statement(template, "AuditorRole", "PointToIncident")
    if condition is None:
        del tags["Condition"]
    else:
        tags["Condition"] = condition
    problems = problems_of(template)
    assert any(
        "AuditorRole" in p
        and "'PointToIncident': lambda:TagResource, lambda:UntagResource without Condition "
        "ForAllValues:StringEquals aws:TagKeys = 'concurrency-guard:incident'" in p
        for p in problems
    ), problems


def test_tag_writes_limited_to_the_pointer_key_pass(template: dict) -> None:
    for role in ("RemediatorRole", "AuditorRole"):
        condition = statement(template, role, "PointToIncident")["Condition"]
        assert condition == {"ForAllValues:StringEquals": {"aws:TagKeys": "concurrency-guard:incident"}}
    statement(template, "RemediatorRole", "PointToIncident")["Condition"] = {
        "ForAllValues:StringEquals": {"aws:TagKeys": ["concurrency-guard:incident"]}
    }
    assert problems_of(template) == []


def test_tag_write_in_another_statement_fails(template: dict) -> None:
    statement(template, "RemediatorRole", "LimitFunctions")["Action"] = [
        "lambda:PutFunctionConcurrency",
        "lambda:UntagResource",
    ]
    problems = problems_of(template)
    assert any("'LimitFunctions': lambda:UntagResource without Condition" in p for p in problems), problems


# ------------------------------------------------------------------------- the ledger

LEDGER_ARN = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${LedgerTableName}"}


def ledger(template: dict) -> dict:
    return props(template, "Ledger")


def ledger_deny(template: dict) -> dict:
    document = ledger(template)["ResourcePolicy"]["PolicyDocument"]
    (found,) = [s for s in document["Statement"] if s.get("Sid") == "OnlyTheGuardWritesRecords"]
    return found


def exempted(template: dict) -> dict:
    """The Fn::If of principals the ledger's Deny exempts: [condition, with operators, without]."""
    return ledger_deny(template)["Condition"]["StringNotEquals"]["aws:PrincipalArn"]


def ledger_problems(template: dict, start: str = "Ledger: ") -> list[str]:
    return [p for p in problems_of(template) if p.startswith(start)]


def test_repository_template_has_the_protected_ledger(template: dict) -> None:
    checks = check_iam.Ledger(template)
    assert checks.tables == {"Ledger"}
    assert checks.guard_roles() == {"RemediatorRole", "AuditorRole"}
    assert checks.check() == []
    assert resources(template)["Ledger"]["DeletionPolicy"] == "Retain"
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["CGUARD_LEDGER_TABLE"] == {"Ref": "Ledger"}
    assert variables["CGUARD_HISTORY_DAYS"] == {"Ref": "HistoryDays"}


def test_roles_name_the_ledger_by_a_constructed_arn(template: dict) -> None:
    # GetAtt Ledger.Arn in a role would be a circular dependency: the Ledger's policy names the roles.
    for role, sid in [("RemediatorRole", "RecordInLedger"), ("AuditorRole", "ReadLedger"), ("AuditorRole", "CloseRecords")]:
        assert statement(template, role, sid)["Resource"] == LEDGER_ARN


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/other-table"},
        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${LedgerTableName}*"},
        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${LedgerTableName}/index/*"},
        "arn:aws:dynamodb:us-east-1:111122223333:table/concurrency-guard-ledger",
    ],
)
def test_dynamodb_grant_beyond_the_ledger_fails(template: dict, resource: object) -> None:
    statement(template, "AuditorRole", "ReadLedger")["Resource"] = [LEDGER_ARN, resource]
    problems = problems_of(template)
    assert any(
        "'ReadLedger': dynamodb:GetItem, dynamodb:Query on " in p
        and json.dumps(resource) in p
        and "DynamoDB is granted only on the ledger table itself" in p
        for p in problems
    ), problems


def test_dynamodb_grant_in_another_statement_on_every_table_fails(template: dict) -> None:
    statements(template, "RemediatorRole").append(
        {"Sid": "Extra", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": "*"}
    )
    problems = problems_of(template)
    assert any("'Extra': dynamodb:UpdateItem on \"*\": DynamoDB is granted only on the ledger" in p for p in problems), problems


@pytest.mark.parametrize(
    "resource",
    [
        {"Fn::GetAtt": ["Ledger", "Arn"]},
        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Ledger}"},
    ],
)
def test_dynamodb_grant_naming_the_ledger_otherwise_passes(template: dict, resource: object) -> None:
    statement(template, "AuditorRole", "CloseRecords")["Resource"] = resource
    assert check_iam.Ledger(template).check() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda l: l.pop("PointInTimeRecoverySpecification"), "Ledger: no point-in-time recovery"),
        (
            lambda l: l.__setitem__("PointInTimeRecoverySpecification", {"PointInTimeRecoveryEnabled": False}),
            "Ledger: no point-in-time recovery",
        ),
        (lambda l: l.pop("DeletionProtectionEnabled"), "Ledger: no deletion protection"),
        (lambda l: l.__setitem__("DeletionProtectionEnabled", False), "Ledger: no deletion protection"),
        (lambda l: l.pop("TimeToLiveSpecification"), "Ledger: TimeToLiveSpecification must be enabled on 'expires_at'"),
        (
            lambda l: l.__setitem__("TimeToLiveSpecification", {"AttributeName": "ttl", "Enabled": True}),
            "Ledger: TimeToLiveSpecification must be enabled on 'expires_at'",
        ),
        (
            lambda l: l.__setitem__("TimeToLiveSpecification", {"AttributeName": "expires_at", "Enabled": False}),
            "Ledger: TimeToLiveSpecification must be enabled on 'expires_at'",
        ),
        (lambda l: l.__setitem__("BillingMode", "PROVISIONED"), "Ledger: BillingMode is \"PROVISIONED\", not PAY_PER_REQUEST"),
        (lambda l: l.pop("BillingMode"), "Ledger: BillingMode is null, not PAY_PER_REQUEST"),
        (lambda l: l["KeySchema"].pop(), "Ledger: keys are [('pk', 'HASH')], not the ledger's"),
        (lambda l: l["AttributeDefinitions"][1].__setitem__("AttributeType", "N"), "Ledger: keys are"),
    ],
)
def test_unprotected_ledger_fails(template: dict, change: Any, expected: str) -> None:
    change(ledger(template))
    problems = ledger_problems(template)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("attribute", ["DeletionPolicy", "UpdateReplacePolicy"])
def test_ledger_not_retained_fails(template: dict, attribute: str) -> None:
    resources(template)["Ledger"][attribute] = "Delete"
    problems = ledger_problems(template)
    assert any(p.startswith(f"Ledger: {attribute} is \"Delete\", not Retain") for p in problems), problems


def test_missing_ledger_resource_policy_fails(template: dict, tmp_path: Path) -> None:
    del ledger(template)["ResourcePolicy"]

    result = run_cli(write_json(tmp_path, template))

    assert result.returncode == 1
    assert "Ledger: its ResourcePolicy lacks a Deny of dynamodb:PutItem, dynamodb:UpdateItem" in result.stderr


@pytest.mark.parametrize(
    "change",
    [
        {"Effect": "Allow"},
        {"Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}},
        {"Resource": {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/other"}},
        {"Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]},  # no batch, no PartiQL
        {"Condition": None},  # a Deny of everyone: the guard itself could not record (and no condition to check)
        {"Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/concurrency-guard/*"}}},
        {"Condition": {"StringNotLike": {"aws:PrincipalArn": "*"}}},
        {"Condition": {"StringNotEquals": {"aws:userid": "AROAEXAMPLE"}}},
    ],
)
def test_weakened_ledger_deny_fails(template: dict, change: dict) -> None:
    deny = ledger_deny(template)
    for key, value in change.items():
        if value is None:
            deny.pop(key)
        else:
            deny[key] = value
    problems = ledger_problems(template)
    assert any(p.startswith("Ledger: its ResourcePolicy lacks a Deny of ") for p in problems), problems


def test_ledger_deny_with_a_second_test_fails(template: dict) -> None:
    # A second test narrows the Deny: it would hold only for requests that also pass it.
    ledger_deny(template)["Condition"]["Bool"] = {"aws:SecureTransport": "false"}
    problems = ledger_problems(template)
    assert any("Condition is not one StringNotEquals (or ArnNotEquals) aws:PrincipalArn test" in p for p in problems), problems


def test_ledger_deny_missing_one_write_action_names_it(template: dict) -> None:
    ledger_deny(template)["Action"].remove("dynamodb:PartiQLUpdate")
    problems = ledger_problems(template)
    assert any(
        p.startswith("Ledger: its ResourcePolicy lacks a Deny of dynamodb:PartiQLUpdate to every principal")
        for p in problems
    ), problems


@pytest.mark.parametrize("branch", [1, 2])
def test_ledger_deny_leaving_out_a_guard_role_fails(template: dict, branch: int) -> None:
    # Without the auditor's role among the exempted, the auditor could not close a record.
    text = json.dumps(exempted(template)["Fn::If"][branch])
    assert "AuditorRole" in text
    value = json.loads(text.replace('"AuditorRole"', '"RemediatorRole"'))
    exempted(template)["Fn::If"][branch] = value
    problems = ledger_problems(template)
    assert any("leaves out the guard's role AuditorRole" in p for p in problems), problems


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("arn:aws:iam::111122223333:role/admin", "exempts arn:aws:iam::111122223333:role/admin"),
        ({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"}, "exempts {\"Fn::Sub\""),
        ({"Fn::GetAtt": ["FailedAlarmsQueue", "Arn"]}, "exempts FailedAlarmsQueue, which is not a role of the guard"),
        ({"Ref": "AWS::AccountId"}, "exempts AWS::AccountId, which is not an operator parameter"),
        ({"Ref": "Ledger"}, "exempts Ledger, which is not an operator parameter"),
    ],
)
def test_ledger_deny_exempting_others_fails(template: dict, extra: object, expected: str) -> None:
    exempted(template)["Fn::If"][2].append(extra)
    problems = ledger_problems(template)
    assert any(expected in p for p in problems), problems


def test_operator_parameter_admitting_wildcards_fails(template: dict) -> None:
    parameters(template)["OperatorPrincipalArns"]["AllowedPattern"] = "^(arn:aws:iam::[0-9*]{1,12}:(role|user)/.+)?$"
    problems = ledger_problems(template)
    assert any(
        "exempts parameter OperatorPrincipalArns, which admits 'arn:aws:iam::*:role/operator'" in p for p in problems
    ), problems


@pytest.mark.parametrize(
    ("value", "admitted"),
    [
        ("", True),
        ("arn:aws:iam::123456789012:role/concurrency-guard-operators", True),
        ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd", True),
        ("arn:aws:iam::123456789012:user/alice", True),
        ("arn:aws-us-gov:iam::123456789012:role/ops", True),
        ("arn:aws:iam::123456789012:root", False),
        ("arn:aws:sts::123456789012:assumed-role/ops/alice", False),  # aws:PrincipalArn is the role's
        ("arn:aws:iam::123456789012:role/*", False),
        ("arn:aws:iam::*:role/ops", False),
        ("*", False),
    ],
)
def test_operator_parameter_takes_exact_role_or_user_arns(template: dict, value: str, admitted: bool) -> None:
    assert check_iam.parameter_admits(parameters(template)["OperatorPrincipalArns"], value) is admitted


def test_ledger_deny_without_operators_or_on_every_resource_passes(template: dict) -> None:
    deny = ledger_deny(template)
    deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"] = [
        {"Fn::GetAtt": ["RemediatorRole", "Arn"]},
        {"Fn::GetAtt": ["AuditorRole", "Arn"]},
    ]
    deny["Resource"] = "*"
    assert check_iam.Ledger(template).check() == []


@pytest.mark.parametrize(
    ("role", "action"),
    [
        ("AuditorRole", "dynamodb:Scan"),
        ("RemediatorRole", "dynamodb:Scan"),
        ("AuditorRole", "dynamodb:BatchWriteItem"),
        ("RemediatorRole", "dynamodb:Query"),  # listing open records is the auditor's
        ("RemediatorRole", "dynamodb:PutItem"),  # closing a record is the auditor's
        ("RemediatorRole", "dynamodb:DeleteItem"),
    ],
)
def test_unused_dynamodb_grant_fails(template: dict, role: str, action: str) -> None:
    sid = "RecordInLedger" if role == "RemediatorRole" else "ReadLedger"
    statement(template, role, sid)["Action"].append(action)
    binary = "remediator" if role == "RemediatorRole" else "auditor"
    problems = problems_of(template)
    assert any(f"'{sid}': {action} is granted but the {binary} never calls it" in p for p in problems), problems


@pytest.mark.parametrize(
    "action", ["dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTable"]
)
def test_cguard_init_calls_are_never_a_functions(template: dict, action: str) -> None:
    statement(template, "AuditorRole", "ReadLedger")["Action"].append(action)
    problems = problems_of(template)
    assert any(
        f"{action} is granted but the auditor never calls it (only `cguard init` calls it" in p for p in problems
    ), problems


def test_cguard_backtest_reads_are_never_a_functions(template: dict) -> None:
    # The alarms' history is read only by an operator's `cguard backtest`, never by a Lambda.
    statement(template, "RemediatorRole", "ConfirmAlarms")["Action"] = [
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DescribeAlarmHistory",
    ]
    problems = problems_of(template)
    assert any(
        "cloudwatch:DescribeAlarmHistory is granted but the remediator never calls it (only `cguard backtest` calls it"
        in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("role", "sid", "action", "call"),
    [
        ("RemediatorRole", "RecordInLedger", "dynamodb:UpdateItem", "dynamodb:UpdateItem"),
        ("RemediatorRole", "RecordInLedger", "dynamodb:GetItem", "dynamodb:GetItem"),
        ("AuditorRole", "ReadLedger", "dynamodb:Query", "dynamodb:Query"),
        ("AuditorRole", "CloseRecords", "dynamodb:PutItem", "dynamodb:TransactWriteItems (Put)"),
        ("AuditorRole", "CloseRecords", "dynamodb:DeleteItem", "dynamodb:TransactWriteItems (Delete)"),
    ],
)
def test_ledger_call_not_granted_fails(template: dict, role: str, sid: str, action: str, call: str) -> None:
    statement(template, role, sid)["Action"].remove(action)
    binary = "remediator" if role == "RemediatorRole" else "auditor"
    problems = problems_of(template)
    assert f"role {role}: the {binary} calls {call} but {action} is not granted" in problems, problems


def test_remediator_without_update_item_fails_on_the_command_line(template: dict, tmp_path: Path) -> None:
    statement(template, "RemediatorRole", "RecordInLedger")["Action"] = "dynamodb:GetItem"

    result = run_cli(write_json(tmp_path, template))

    assert result.returncode == 1
    assert "role RemediatorRole: the remediator calls dynamodb:UpdateItem but dynamodb:UpdateItem is not granted" in result.stderr


@pytest.mark.parametrize("value", [None, "concurrency-guard-ledger", {"Ref": "LedgerTableName"}, {"Ref": "ReportTopic"}])
def test_functions_not_pointed_at_the_ledger_fail(template: dict, value: object) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    if value is None:
        del variables["CGUARD_LEDGER_TABLE"]
    else:
        variables["CGUARD_LEDGER_TABLE"] = value
    problems = problems_of(template)
    for function in ("RemediatorFunction", "AuditorFunction"):
        assert any(p.startswith(f"{function}: CGUARD_LEDGER_TABLE is ") for p in problems), problems


def test_without_a_ledger_every_dynamodb_grant_fails(template: dict) -> None:
    del resources(template)["Ledger"]
    del template["Globals"]["Function"]["Environment"]["Variables"]["CGUARD_LEDGER_TABLE"]
    del template["Outputs"]["LedgerTableName"], template["Outputs"]["LedgerTableArn"]
    problems = check_iam.Ledger(template).check()
    assert any("'RecordInLedger'" in p and "(none in this template)" in p for p in problems), problems


# ------------------------------------------------------------------------- the alarm topic


def topic_statements(template: dict) -> list[dict]:
    return props(template, "AlarmTopicPolicy")["PolicyDocument"]["Statement"]


def topic_statement(template: dict, sid: str) -> dict:
    (found,) = [s for s in topic_statements(template) if s.get("Sid") == sid]
    return found


def test_topic_without_publisher_denies_fails(template: dict) -> None:
    document = props(template, "AlarmTopicPolicy")["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] != "Deny"]
    problems = problems_of(template)
    assert any(p.startswith("AlarmTopic: its topic policy lacks a Deny") and "aws:SourceAccount" in p for p in problems)
    assert any(p.startswith("AlarmTopic: its topic policy lacks a Deny") and "aws:SourceArn" in p for p in problems)


def test_topic_without_any_policy_fails(template: dict) -> None:
    del resources(template)["AlarmTopicPolicy"]
    problems = problems_of(template)
    assert sum(p.startswith("AlarmTopic: its topic policy lacks a Deny") for p in problems) == 2, problems


@pytest.mark.parametrize(
    ("sid", "change"),
    [
        ("DenyPublishNotFromThisAccountsServices", {"Principal": {"Service": "sns.amazonaws.com"}}),
        ("DenyPublishNotFromThisAccountsServices", {"Effect": "Allow"}),
        ("DenyPublishNotFromThisAccountsServices", {"Action": "sns:Subscribe"}),
        (
            "DenyPublishNotFromThisAccountsServices",
            {"Condition": {"StringNotEquals": {"aws:SourceAccount": "111122223333"}}},
        ),
        (
            "DenyPublishNotFromThisAccountsAlarms",
            {"Condition": {"ArnNotLike": {"aws:SourceArn": "arn:aws:*"}}},
        ),
        (
            "DenyPublishNotFromThisAccountsAlarms",  # a second test narrows the Deny
            {
                "Condition": {
                    "ArnNotLike": {
                        "aws:SourceArn": {
                            "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
                        }
                    },
                    "Bool": {"aws:SecureTransport": "false"},
                }
            },
        ),
    ],
)
def test_topic_with_a_weakened_publisher_deny_fails(template: dict, sid: str, change: dict) -> None:
    topic_statement(template, sid).update(change)
    problems = problems_of(template)
    key = "aws:SourceAccount" if "Services" in sid else "aws:SourceArn"
    assert any(p.startswith("AlarmTopic: its topic policy lacks a Deny") and key in p for p in problems), problems


def test_topic_found_through_the_subscription_too(template: dict) -> None:
    # Not an alarm action any more, but still the topic the remediator listens to.
    for alarm in ("AccountConcurrencyAlarm", "ClaimedConcurrencyAlarm"):
        props(template, alarm)["AlarmActions"] = []
        props(template, alarm)["OKActions"] = []
    document = props(template, "AlarmTopicPolicy")["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] != "Deny"]
    problems = problems_of(template)
    assert any(p.startswith("AlarmTopic: its topic policy lacks a Deny") for p in problems), problems


# ------------------------------------------------------------------------- direct invocation, EventBridge


@pytest.mark.parametrize(
    "source_arn",
    [
        {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"},
        {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}*"},
        "arn:aws:cloudwatch:us-east-1:111122223333:alarm:*",
    ],
)
def test_alarm_invoke_permission_beyond_the_stacks_alarms_fails(template: dict, source_arn: object) -> None:
    props(template, "RemediatorAlarmInvokePermission")["SourceArn"] = source_arn
    problems = problems_of(template)
    assert any(
        p.startswith("RemediatorAlarmInvokePermission: alarm actions may invoke RemediatorFunction") for p in problems
    ), problems


def test_alarm_invoke_permission_without_source_fails(template: dict) -> None:
    del props(template, "RemediatorAlarmInvokePermission")["SourceArn"]
    del props(template, "RemediatorAlarmInvokePermission")["SourceAccount"]
    problems = problems_of(template)
    assert any("without SourceArn" in p for p in problems), problems
    assert any("without SourceAccount" in p for p in problems), problems


def alarm_rule_pattern(template: dict) -> dict:
    return props(template, "RemediatorFunction")["Events"]["AlarmStateChange"]["Properties"]["Pattern"]


@pytest.mark.parametrize(
    "change",
    [
        "drop both",
        {"resources": [{"prefix": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"}}]},
        {"resources": [{"prefix": "arn:aws:cloudwatch:"}], "detail": {"alarmName": [{"prefix": ""}]}},
        {"detail": {"alarmName": [{"anything-but": "x"}]}},
    ],
)
def test_alarm_rule_beyond_the_stacks_alarms_fails(template: dict, change: object) -> None:
    pattern = alarm_rule_pattern(template)
    del pattern["resources"]
    del pattern["detail"]
    if isinstance(change, dict):
        pattern.update(change)
    problems = problems_of(template)
    assert any(p.startswith("RemediatorFunction event AlarmStateChange: ") for p in problems), problems


def test_alarm_rule_with_one_limited_field_or_exact_names_passes(template: dict) -> None:
    pattern = alarm_rule_pattern(template)
    del pattern["resources"]  # detail.alarmName alone limits it
    assert problems_of(template) == []
    pattern["detail"]["alarmName"] = [{"Ref": "AccountConcurrencyAlarm"}, {"Ref": "ClaimedConcurrencyAlarm"}]
    assert problems_of(template) == []


def test_alarm_not_named_for_the_stack_fails(template: dict) -> None:
    props(template, "ClaimedConcurrencyAlarm")["AlarmName"] = "claimed-concurrency"
    problems = problems_of(template)
    assert any(p.startswith("ClaimedConcurrencyAlarm: AlarmName") for p in problems), problems


# ------------------------------------------------------------------------- parameters


def parameters(template: dict) -> dict:
    return template["Parameters"]


@pytest.mark.parametrize("name", ["AuditSchedule", "ReportEmail", "ProtectedFunctions", "ApplicationLogLevel"])
def test_string_parameter_without_constraint_fails(template: dict, name: str) -> None:
    param = parameters(template)[name]
    param.pop("AllowedPattern", None)
    param.pop("AllowedValues", None)
    problems = problems_of(template)
    assert f"parameter {name}: no AllowedValues or AllowedPattern; any value deploys" in problems, problems


@pytest.mark.parametrize(("name", "bound"), [("AlarmEvaluationPeriods", "MaxValue"), ("AccountConcurrencyThreshold", "MinValue")])
def test_number_parameter_without_bounds_fails(template: dict, name: str, bound: str) -> None:
    del parameters(template)[name][bound]
    problems = problems_of(template)
    assert f"parameter {name}: a Number needs AllowedValues, or MinValue and MaxValue" in problems, problems


@pytest.mark.parametrize(
    ("name", "param", "refused"),
    [
        # A Number admits fractions and exponents, which u32 parsing refuses.
        ("TargetConcurrency", {"Type": "Number", "Default": 100, "MinValue": 1, "MaxValue": 10000}, "'1.5'"),
        ("MaxActions", {"Type": "String", "Default": "10", "AllowedPattern": "^[0-9]+$"}, "'0'"),
        ("MaxOffenders", {"Type": "String", "Default": "3", "AllowedPattern": "^[0-9]{1,2}$"}, "'21'"),
        ("WindowMinutes", {"Type": "String", "Default": "10", "AllowedPattern": "^[0-9]{1,4}$"}, "'181'"),
        ("GraceMinutes", {"Type": "String", "Default": "10", "AllowedPattern": "^[0-9]+$"}, "'0'"),
        ("CooldownMinutes", {"Type": "String", "Default": "30", "AllowedPattern": "^[1-9][0-9]*$"}, "'10081'"),
        ("UnreservedMinimum", {"Type": "String", "Default": "", "AllowedPattern": "^[0-9]*$"}, "'100001'"),
        ("EmergencyUtilization", {"Type": "Number", "Default": 0.95, "MinValue": 0, "MaxValue": 1}, "'0'"),
        ("DryRun", {"Type": "String", "Default": "false", "AllowedValues": ["true", "false", "maybe"]}, "'maybe'"),
        ("KillSwitchAllowed", {"Type": "String", "Default": "false", "AllowedPattern": "^.*$"}, "'on'"),
        ("HistoryDays", {"Type": "String", "Default": "90", "AllowedPattern": "^[0-9]{1,4}$"}, "'3651'"),
        ("HistoryDays", {"Type": "Number", "Default": 90, "MinValue": 1, "MaxValue": 3650}, "'1.5'"),
        # The ledger's name reaches CGUARD_LEDGER_TABLE through !Ref Ledger (its TableName).
        (
            "LedgerTableName",
            {"Type": "String", "Default": "concurrency-guard-ledger", "AllowedPattern": "^[A-Za-z0-9_.:-]{1,255}$"},
            "'ab'",
        ),
        (
            "LedgerTableName",
            {"Type": "String", "Default": "concurrency-guard-ledger", "AllowedPattern": "^[^ ]{3,255}$"},
            "'table/x'",
        ),
    ],
)
def test_parameter_admitting_what_the_binaries_refuse_fails(
    template: dict, name: str, param: dict, refused: str
) -> None:
    parameters(template)[name] = param
    problems = problems_of(template)
    assert any(p.startswith(f"parameter {name} admits ") and refused in p for p in problems), problems


def test_parameter_feeding_an_unknown_setting_fails(template: dict) -> None:
    template["Globals"]["Function"]["Environment"]["Variables"]["CGUARD_SOMETHING_NEW"] = {"Ref": "MaxActions"}
    problems = problems_of(template)
    assert any("feeds CGUARD_SOMETHING_NEW, which SETTINGS" in p for p in problems), problems


def test_settings_mirror_config_rs() -> None:
    text = (REPO / "shared" / "core" / "src" / "config.rs").read_text(encoding="utf-8")
    ranges = {
        name: (int(low.replace("_", "")), int(high.replace("_", "")))
        for name, low, high in re.findall(
            r'(?:parse_num|\.num)\(\s*"(CGUARD_\w+)",.*?([0-9][0-9_]*)\.\.=([0-9][0-9_]*)', text, re.S
        )
    }
    booleans = set(re.findall(r'(?:parse_bool|\.bool)\(\s*"(CGUARD_\w+)"', text))
    fractions = set(re.findall(r'(?:parse_fraction|\.fraction)\(\s*"(CGUARD_\w+)"', text))
    assert ranges and booleans and fractions
    settings = check_iam.SETTINGS
    for name, (low, high) in ranges.items():
        assert settings[name] == check_iam.Setting("int", low, high), name
    for name in booleans:
        assert settings[name].kind == "bool", name
    for name in fractions:
        assert settings[name].kind == "fraction", name


def test_ledger_table_rule_and_default_mirror_config_rs(template: dict) -> None:
    text = (REPO / "shared" / "core" / "src" / "config.rs").read_text(encoding="utf-8")
    (default,) = re.findall(r'DEFAULT_LEDGER_TABLE:\s*&str\s*=\s*"([^"]*)"', text)
    (low, high) = re.findall(r"\((\d+)\.\.=(\d+)\)\.contains\(&name\.len\(\)\)", text)[0]
    assert '"_.-".contains(c)' in text and "is_ascii_alphanumeric" in text
    # The template's default is what the binaries and `cguard init` use when nothing is set.
    assert parameters(template)["LedgerTableName"]["Default"] == default
    table = check_iam.SETTINGS["CGUARD_LEDGER_TABLE"]
    assert check_iam.binary_accepts(table, "a" * int(low)) and not check_iam.binary_accepts(table, "a" * (int(low) - 1))
    assert check_iam.binary_accepts(table, "a" * int(high)) and not check_iam.binary_accepts(table, "a" * (int(high) + 1))
    assert check_iam.binary_accepts(table, default)


@pytest.mark.parametrize(
    ("kind", "value", "accepted"),
    [
        (check_iam.Setting("int", 1, 100), " 100 ", True),
        (check_iam.Setting("int", 1, 100), "+7", True),
        (check_iam.Setting("int", 1, 100), "7.0", False),
        (check_iam.Setting("int", 1, 100), "", True),  # empty: the default
        (check_iam.Setting("fraction"), ".5", True),
        (check_iam.Setting("fraction"), "1e-1", True),
        (check_iam.Setting("fraction"), "0", False),
        (check_iam.Setting("fraction"), "nan", False),
        (check_iam.Setting("bool"), "YES", True),
        (check_iam.Setting("bool"), "on", False),
        (check_iam.Setting("table"), "concurrency-guard-ledger", True),
        (check_iam.Setting("table"), " my.table_1 ", True),  # trimmed
        (check_iam.Setting("table"), "ab", False),
        (check_iam.Setting("table"), "my:table", False),
        (check_iam.Setting("table"), "", True),  # empty: the default
    ],
)
def test_binary_accepts_follows_config_rs(kind: object, value: str, accepted: bool) -> None:
    assert check_iam.binary_accepts(kind, value) is accepted


def test_samconfig_overrides_fit_the_parameters(template: dict) -> None:
    import shlex
    import tomllib

    config = tomllib.loads((REPO / "samconfig.toml").read_text(encoding="utf-8"))
    checked = 0
    for env, commands in config.items():
        if not isinstance(commands, dict):
            continue
        overrides = ((commands.get("deploy") or {}).get("parameters") or {}).get("parameter_overrides", [])
        if isinstance(overrides, str):
            overrides = shlex.split(overrides)
        for override in overrides:
            name, value = override.split("=", 1)
            value = shlex.split(value)[0] if value else value
            assert name in parameters(template), f"[{env}] {name}"
            assert check_iam.parameter_admits(parameters(template)[name], value), f"[{env}] {override}"
            checked += 1
    assert checked
