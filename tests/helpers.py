"""Matching that fails when nothing matched.

A test that loops over "the resources of type X" or "the scripts whose name ends in Y" passes by
itself when the program stops creating them (a type token renamed, a resource dropped, an artifact
moved): the loop runs zero times. Take the set through `some` (at least one) or `named` (exactly
these names) first, then loop over what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def some(items: Iterable[T], what: str) -> list[T]:
    """`items` as a list; the test fails naming `what` when there is none."""
    found = list(items)
    assert found, f"nothing matched: {what} (did the program stop creating it, or was it renamed?)"
    return found


def named(items: Iterable[T], names: Iterable[str], what: str,
          key: Callable[[T], str] = lambda r: r["name"]) -> list[T]:
    """`items` as a list; the test fails unless their names (by `key`) are exactly `names`."""
    found = some(items, what)
    got, expected = sorted(key(item) for item in found), sorted(names)
    assert got == expected, f"{what}: got {got}, expected {expected}"
    return found


def of_type(resources: Iterable[dict[str, Any]], type_: str, what: str | None = None) -> list[dict[str, Any]]:
    """The resources of `type_`; at least one."""
    return some((r for r in resources if r["type"] == type_), what or f"resources of type {type_}")
