"""Resolving CloudFormation intrinsic functions locally: Ref, GetAtt, Sub, Join, If, Select, Split, ...

Used for what moto does not resolve for us: function environments, API bodies, event source mappings, rules.
Resources resolve through a lookup the caller provides (physical ids and attributes from moto). Not the SAM
translator's IntrinsicsResolver: it resolves Ref, Sub and GetAtt to parameters and SAM's own references
only, not conditions (Fn::If), Join, Select or Split, nor the attributes of resources moto created.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["IntrinsicError", "Resolver"]


class IntrinsicError(Exception):
    """An intrinsic function that cannot be resolved locally."""


class Resolver:
    """Resolves intrinsics against parameter values, conditions and a resource lookup.

    `ref(logical_id)` gives a resource's Ref value, `get_att(logical_id, attribute)` one of its attributes.
    """

    def __init__(
        self,
        parameters: dict[str, Any],
        conditions: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        mappings: dict[str, Any] | None = None,
    ) -> None:
        self.parameters = parameters
        self._conditions = conditions
        self._condition_values: dict[str, bool] = {}
        self._ref = ref
        self._get_att = get_att
        self._mappings = mappings or {}

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise IntrinsicError(f"no condition named {name}")
            self._condition_values[name] = bool(self.resolve(self._conditions[name]))
        return self._condition_values[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._functions.get(key)
            if handler is not None:
                return handler(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _do_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _do_get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        else:
            logical_id, attribute = argument[0], self.resolve(argument[1])
        return self._get_att(logical_id, attribute)

    def _do_sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], {key: self.resolve(item) for key, item in argument[1].items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".")[0] not in self.parameters:
                logical_id, _, attribute = name.partition(".")
                return str(self._get_att(logical_id, attribute))
            return str(self._do_ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _do_join(self, argument: Any) -> str:
        separator, items = argument
        return separator.join(str(item) for item in self.resolve(items))

    def _do_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _do_select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _do_split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.resolve(text)).split(separator)

    def _do_equals(self, argument: Any) -> bool:
        left, right = (self.resolve(item) for item in argument)
        return str(left) == str(right)

    def _do_not(self, argument: Any) -> bool:
        return not self.resolve(argument[0])

    def _do_and(self, argument: Any) -> bool:
        return all(self.resolve(item) for item in argument)

    def _do_or(self, argument: Any) -> bool:
        return any(self.resolve(item) for item in argument)

    def _do_condition(self, name: str) -> bool:
        return self.condition(name)

    def _do_find_in_map(self, argument: Any) -> Any:
        name, top, second = (self.resolve(item) for item in argument[:3])
        return self._mappings[name][top][second]

    def _do_get_azs(self, argument: Any) -> list[str]:
        region = self.parameters.get("AWS::Region", "eu-west-1")
        return [f"{region}a", f"{region}b", f"{region}c"]

    def _do_import_value(self, argument: Any) -> Any:
        raise IntrinsicError(f"Fn::ImportValue {argument!r}: other stacks do not exist locally")

    _functions: dict[str, Callable[[Resolver, Any], Any]] = {
        "Ref": _do_ref,
        "Fn::GetAtt": _do_get_att,
        "Fn::Sub": _do_sub,
        "Fn::Join": _do_join,
        "Fn::If": _do_if,
        "Fn::Select": _do_select,
        "Fn::Split": _do_split,
        "Fn::Equals": _do_equals,
        "Fn::Not": _do_not,
        "Fn::And": _do_and,
        "Fn::Or": _do_or,
        "Condition": _do_condition,
        "Fn::FindInMap": _do_find_in_map,
        "Fn::GetAZs": _do_get_azs,
        "Fn::ImportValue": _do_import_value,
    }


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()
