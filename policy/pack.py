"""The rules of `policy/rules.py` as a Pulumi policy pack (pulumi_policy).

Imported by `policy/__main__.py` (which serves the pack to the Pulumi CLI) and by the offline
runner, which calls the very same policy objects' `validate(args, report)` on the synth output.
Needs `pulumi_policy`, which lives in its own virtualenv (`.venv-policy`, `make policy-venv`):
its wheel pins an older protobuf than the program's SDKs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi_policy
from pulumi_policy import (
    EnforcementLevel,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import deserialize as _deserialize
from pulumi_policy import policy as _policy
from pulumi_policy import proxy as _proxy

from policy import rules

PACK_NAME = "homelab"
LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
_UNKNOWNS = frozenset({
    _proxy.UNKNOWN_BOOLEAN_VALUE, _proxy.UNKNOWN_NUMBER_VALUE, _proxy.UNKNOWN_STRING_VALUE,
    _proxy.UNKNOWN_ARRAY_VALUE, _proxy.UNKNOWN_ASSET_VALUE, _proxy.UNKNOWN_ARCHIVE_VALUE,
    _proxy.UNKNOWN_OBJECT_VALUE,
})


def _mask(value: Any) -> Any:
    """An engine property value with secrets masked and unknowns marked, as the synth writes them."""
    if isinstance(value, dict):
        if value.get(_deserialize.SPECIAL_SIG_KEY) == _deserialize.SPECIAL_SECRET_SIG:
            return rules.SECRET
        if _deserialize.SPECIAL_SIG_KEY in value:
            return _deserialize._deserialize_property(value)  # noqa: SLF001 - assets and archives as the SDK reads them
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str) and value in _UNKNOWNS:
        return rules.UNKNOWN
    return value


def masked_deserialize_properties(props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:  # noqa: ARG001
    return {key: _mask(value) for key, value in props.items()}


def install_secret_masking() -> None:
    """The SDK hands policies secret values in clear text with no mark (pulumi/pulumi-policy#241),
    which would make "is this credential a secret?" unanswerable and put secrets within reach of
    a violation message. The engine does send the mark: keep it, as the string "[secret]", and mark
    unknowns "[unknown]" so that one unknown input does not stop every rule on that resource."""
    _policy.deserialize_properties = masked_deserialize_properties


def plain(value: Any) -> Any:
    """The SDK's proxies (or any mapping/sequence) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in value}
    if isinstance(value, (list, tuple)) or (hasattr(value, "__len__") and hasattr(value, "__getitem__")
                                            and not isinstance(value, (str, bytes))):
        return [plain(value[index]) for index in range(len(value))]
    return value


def _options(opts: PolicyResourceOptions | None) -> rules.Options:
    if opts is None:
        return rules.Options()
    return rules.Options(
        protect=bool(opts.protect),
        ignore_changes=tuple(opts.ignore_changes or ()),
        delete_before_replace=bool(opts.delete_before_replace),
        additional_secret_outputs=tuple(opts.additional_secret_outputs or ()),
    )


def resource_of(args: ResourceValidationArgs) -> rules.Resource:
    return rules.Resource(type=args.resource_type, name=args.name, urn=args.urn, props=plain(args.props),
                          options=_options(args.opts), parent=getattr(args.opts, "parent", None))


def _resource_validation(rule: rules.Rule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(resource_of(args)):
            report_violation(message, None)

    return validate


def _stack_validation(rule: rules.StackRule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            rules.Resource(type=r.resource_type, name=r.name, urn=r.urn, props=plain(r.props),
                           options=_options(r.opts),
                           parent=r.parent.urn if r.parent is not None else getattr(r.opts, "parent", None))
            for r in args.resources
        ]
        for urn, message in rule.check(resources):
            report_violation(message, urn)

    return validate


def policies() -> list[pulumi_policy.Policy]:
    """One pulumi_policy policy per rule, with the rule's enforcement level."""
    made: list[pulumi_policy.Policy] = []
    for rule in rules.RESOURCE_RULES:
        made.append(ResourceValidationPolicy(name=rule.name, description=rule.description,
                                             enforcement_level=LEVELS[rule.enforcement],
                                             validate=_resource_validation(rule)))
    for stack_rule in rules.STACK_RULES:
        made.append(StackValidationPolicy(name=stack_rule.name, description=stack_rule.description,
                                          enforcement_level=LEVELS[stack_rule.enforcement],
                                          validate=_stack_validation(stack_rule)))
    return made
