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
* the role of any function in the template lacks an unconditional Deny of
  the mutating Lambda actions in ``REQUIRED_DENY_ACTIONS`` on every function
  of the template (the guard must not be able to change itself).

When aws-sam-translator is importable (it comes with aws-sam-cli) the same
checks also run on the SAM-expanded template, so that roles SAM would
generate are held to the same rules.

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
from typing import Any, Iterable, Iterator

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
)

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
FUNCTION_ARN_PREFIX = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


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

    def check(self) -> list[str]:
        return self.problems + self.wildcard_problems() + self.deny_problems()


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


def check_template(template: dict) -> list[str]:
    problems = Policies(template).check()
    try:
        expanded = sam_expand(template)
    except Exception as err:  # noqa: BLE001 - reported, not raised
        return problems + [f"SAM transform failed: {err}"]
    if expanded is not None:
        seen = set(problems)
        for problem in Policies(expanded).check():
            if problem not in seen:
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
        f"check_iam: {path}: OK: {len(policies.all_statements)} statements, no wildcard actions; "
        f"self-protection Deny present in {', '.join(roles)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
