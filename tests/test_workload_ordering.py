"""Ordering that only a real cluster would miss, on the whole-program synth of both environments.

- Every workload (Deployment, StatefulSet, DaemonSet, Job, CronJob, Helm release) waits for every
  Secret, ConfigMap and PersistentVolumeClaim the program creates that it references: otherwise the
  first install starts pods against objects that do not exist yet (an atomic Helm release rolls
  back, a Deployment's pods wait in ContainerCreating until the update times out).
- A Deployment that mounts a ReadWriteOnce claim is replaced with the Recreate strategy: a rolling
  update would start the new pod while the old one holds the volume, and the rollout hangs
  (kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes: RWO is one node at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ENVIRONMENTS

WORKLOADS = {
    "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:helm.sh/v3:Release",
}
OBJECTS = {
    "kubernetes:core/v1:Secret": "Secret",
    "kubernetes:core/v1:ConfigMap": "ConfigMap",
    "kubernetes:core/v1:PersistentVolumeClaim": "PersistentVolumeClaim",
}
# Keys under which a pod spec or chart values name such an object.
BY_NAME = {"secretName": "Secret", "existingSecret": "Secret", "claimName": "PersistentVolumeClaim",
           "existingClaim": "PersistentVolumeClaim"}
REF_MAPS = {"secretKeyRef": "Secret", "secretRef": "Secret", "secret": "Secret",
            "configMapKeyRef": "ConfigMap", "configMapRef": "ConfigMap", "configMap": "ConfigMap"}


def references(value: Any) -> Iterator[tuple[str, str]]:
    """(kind, name) of every Secret, ConfigMap and claim named anywhere in `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in BY_NAME and isinstance(item, str):
                yield BY_NAME[key], item
            elif key in REF_MAPS and isinstance(item, dict) and isinstance(item.get("name") or item.get("secretName"), str):
                yield REF_MAPS[key], item.get("name") or item.get("secretName")
            elif key in REF_MAPS and isinstance(item, str):
                yield REF_MAPS[key], item
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def created_objects(resources: list[dict]) -> dict[tuple[str, str | None, str], str]:
    """(kind, namespace, name) -> URN: objects of the same name in two namespaces are two objects."""
    return {(OBJECTS[r["type"]], r["inputs"]["metadata"].get("namespace"), r["inputs"]["metadata"]["name"]): r["urn"]
            for r in resources if r["type"] in OBJECTS and isinstance(r["inputs"].get("metadata"), dict)
            and isinstance(r["inputs"]["metadata"].get("name"), str)}


def namespace_of(workload: dict) -> str | None:
    """Where a workload's pods run: its metadata's namespace, or a Helm release's `namespace`."""
    metadata = workload["inputs"].get("metadata")
    return (metadata or {}).get("namespace") if isinstance(metadata, dict) else workload["inputs"].get("namespace")


def waits_for(resources: list[dict]) -> dict[str, set[str]]:
    """URN -> every URN it waits for, directly or through what it waits for."""
    direct = {r["urn"]: set(r["dependencies"]) for r in resources}
    closure: dict[str, set[str]] = {}

    def visit(urn: str) -> set[str]:
        if urn not in closure:
            closure[urn] = set()
            for dep in direct.get(urn, ()):
                closure[urn] |= {dep} | visit(dep)
        return closure[urn]

    for urn in direct:
        visit(urn)
    return closure


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_workload_waits_for_the_objects_it_references(synth_result, env):
    resources = synth_result(env).resources
    objects = created_objects(resources)
    before = waits_for(resources)
    checked, missing = 0, []
    for workload in (r for r in resources if r["type"] in WORKLOADS):
        namespace = namespace_of(workload)
        for kind, name in set(references(workload["inputs"])):
            # A pod refers to objects of its own namespace (a Helm release: the release's namespace).
            found = [urn for (k, ns, n), urn in objects.items() if (k, n) == (kind, name) and ns == namespace]
            for urn in found:
                checked += 1
                if urn not in before[workload["urn"]]:
                    missing.append(f"{workload['name']} does not wait for {kind} {name}")
    assert checked >= 5, f"{env}: only {checked} references found: did the synth lose its workloads?"
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployments_on_a_read_write_once_claim_are_recreated(synth_result, env):
    resources = synth_result(env).resources
    rwo = {r["inputs"]["metadata"]["name"] for r in resources if r["type"] == "kubernetes:core/v1:PersistentVolumeClaim"
           and "ReadWriteOnce" in r["inputs"]["spec"]["accessModes"]}
    on_rwo = [d for d in resources if d["type"] == "kubernetes:apps/v1:Deployment"
              and {name for kind, name in references(d["inputs"]["spec"]) if kind == "PersistentVolumeClaim"} & rwo]
    assert on_rwo, f"{env}: no Deployment on a ReadWriteOnce claim (the broker has one)"
    for deployment in on_rwo:
        assert deployment["inputs"]["spec"].get("strategy") == {"type": "Recreate"}, deployment["name"]
