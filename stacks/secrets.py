"""Access to the stack's secret config keys, always as secret Outputs."""

from __future__ import annotations

import pulumi

from .config.loader import NAMESPACE


class Secrets:
    """Reads secret config keys; every value stays a secret Output end to end."""

    def __init__(self, config: pulumi.Config | None = None) -> None:
        self._config = config or pulumi.Config(NAMESPACE)
        self._required: dict[str, pulumi.Output[str]] = {}

    def require(self, key: str) -> pulumi.Output[str]:
        """A secret the loader has already checked is set: one Output per key, however many
        resources take it (hundreds of hosts share the SSH key)."""
        if key not in self._required:
            self._required[key] = pulumi.Output.secret(self._config.require_secret(key))
        return self._required[key]

    def get(self, key: str) -> pulumi.Output[str] | None:
        """An optional secret, or None when it is not set."""
        value = self._config.get_secret(key)
        return None if value is None else pulumi.Output.secret(value)
