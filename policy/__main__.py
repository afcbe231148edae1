"""Entry point the Pulumi CLI runs for `pulumi preview/up --policy-pack policy`."""

import sys
from pathlib import Path

# The CLI runs this file from policy/; the rules and the distribution catalog import from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy import pack  # noqa: E402

pack.install_secret_masking()
PolicyPack(
    name=pack.PACK_NAME,
    description="homelab guardrails: production protection, secrets, environment tags, Mosquitto, k3s, images",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=pack.policies(),
)
