"""The production stack names, from the pack's own config `policy/stacks.yaml`.

Pure (PyYAML only): imported by the policy pack (`policy/rules.py`) and by the config loader
(`stacks/config/loader.py`), so that both answer "is this stack production?" the same way.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parent / "stacks.yaml"


@lru_cache(maxsize=None)
def production_stacks(path: Path = CONFIG) -> frozenset[str]:
    document = yaml.safe_load(path.read_text()) or {}
    names = document.get("production_stacks") if isinstance(document, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{path}: production_stacks must be a non-empty list of stack names")
    return frozenset(names)


def is_production(stack: str) -> bool:
    return stack in production_stacks()
