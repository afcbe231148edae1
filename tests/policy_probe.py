"""Feed engine requests to the policy pack's analyzer, as the Pulumi CLI does, and print its diagnostics.

Run by tests/test_policy.py with the pack's own interpreter (.venv-policy/bin/python): stdin is a
JSON object {"resources": [{type, name, urn, properties, protect, parent}], "mask": bool}; stdout
a JSON list of {policy, level, urn, message}. Properties use the engine's wire format, secrets
included ({"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": ...}).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from google.protobuf import struct_pb2  # noqa: E402
from pulumi.runtime import proto  # noqa: E402
from pulumi_policy import EnforcementLevel  # noqa: E402
from pulumi_policy.policy import _PolicyAnalyzerServicer  # noqa: E402

from policy import pack  # noqa: E402


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def main() -> None:
    request = json.load(sys.stdin)
    if request.get("mask", True):
        pack.install_secret_masking()
    analyzer = _PolicyAnalyzerServicer(pack.PACK_NAME, "1.0.0", pack.policies(), EnforcementLevel.MANDATORY)
    levels = {proto.MANDATORY: "mandatory", proto.ADVISORY: "advisory"}
    found = []
    resources = request["resources"]
    for r in resources:
        options = proto.AnalyzerResourceOptions(protect=r.get("protect", False), parent=r.get("parent") or "")
        response = analyzer.Analyze(proto.AnalyzeRequest(type=r["type"], properties=struct(r["properties"]),
                                                         urn=r["urn"], name=r["name"], options=options), None)
        found += [{"policy": d.policyName, "level": levels[d.enforcementLevel], "urn": r["urn"], "message": d.message}
                  for d in response.diagnostics]
    stack = proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=r["type"], properties=struct(r["properties"]), urn=r["urn"], name=r["name"],
                               parent=r.get("parent") or "",
                               options=proto.AnalyzerResourceOptions(protect=r.get("protect", False)))
        for r in resources
    ])
    response = analyzer.AnalyzeStack(stack, None)
    found += [{"policy": d.policyName, "level": levels[d.enforcementLevel], "urn": d.urn, "message": d.message}
              for d in response.diagnostics]
    json.dump(found, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
