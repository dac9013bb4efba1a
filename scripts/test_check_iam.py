"""Tests for scripts/check_iam.py:  python3 -m pytest scripts/test_check_iam.py"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

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


def deny_statement(template: dict, role: str) -> dict:
    (deny,) = [s for s in statements(template, role) if s["Effect"] == "Deny"]
    return deny


def write_json(tmp_path: Path, template: dict) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


# ------------------------------------------------------------------------- the real template


def test_repository_template_passes(template: dict) -> None:
    assert check_iam.check_template(template) == []


def test_repository_template_passes_on_the_command_line() -> None:
    result = run_cli(TEMPLATE)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "RemediatorRole" in result.stdout and "AuditorRole" in result.stdout


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
