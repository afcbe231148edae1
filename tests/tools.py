"""System tools the real checks need: skip without them, except under CI=true where that is a failure."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """The tool's path; skip the test with the reason when it is missing (fail under CI=true)."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (`bash .ci/run` installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run every real check")
        pytest.skip(reason)
    return path
