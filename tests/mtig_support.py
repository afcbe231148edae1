"""Test support for the MTIG components: a view on the shared recording monitor, a sample stack.

Each test sees only the registrations made since its Recorder was created, with inputs as the
engine got them (secrets masked, whole floats as ints), options and dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from synth.wire import MASK
from tests.conftest import RECORDED


@dataclass(frozen=True)
class Registration:
    """One registration the shared recording monitor kept (see synth/engine.py)."""

    record: dict[str, Any]

    @property
    def type(self) -> str:
        return self.record["type"]

    @property
    def name(self) -> str:
        return self.record["name"]

    @property
    def inputs(self) -> dict[str, Any]:
        """Inputs as the engine received them, secrets masked as "[secret]"."""
        return self.record["inputs"]

    @property
    def revealed(self) -> dict[str, Any]:
        """The same inputs with secret values shown (for checks that need the real file)."""
        return RECORDED.revealed[self.record["urn"]]

    @property
    def protect(self) -> bool:
        return bool(self.record["options"].get("protect"))

    @property
    def retain_on_delete(self) -> bool:
        return bool(self.record["options"].get("retain_on_delete"))

    @property
    def dependencies(self) -> list[str]:
        return self.record["dependencies"]

    @property
    def provider(self) -> str | None:
        return self.record["provider"]


class Recorder:
    """The registrations made since this view was created (the monitor is shared by all tests)."""

    def __init__(self) -> None:
        self.start = len(RECORDED.resources)

    def restart(self) -> None:
        self.start = len(RECORDED.resources)

    @property
    def registrations(self) -> list[Registration]:
        return [Registration(r) for r in RECORDED.resources[self.start:] if r["kind"] == "register"]

    def by_name(self, name: str) -> Registration:
        found = [r for r in self.registrations if r.name == name]
        assert len(found) == 1, f"{name}: {len(found)} registrations"
        return found[0]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def manifests(self) -> list[dict[str, Any]]:
        """Every typed Kubernetes object registered, as the API server would receive it."""
        return [
            r.inputs
            for r in self.registrations
            if r.type.startswith("kubernetes:") and r.record["custom"]
            and not r.type.startswith(("kubernetes:helm.sh", "pulumi:providers"))
        ]


def install() -> Recorder:
    return Recorder()


def custom_resources(component: pulumi.Resource) -> list[pulumi.CustomResource]:
    """The custom resources a component keeps as attributes, recursively, in a stable order."""
    found: dict[int, pulumi.CustomResource] = {}
    seen: set[int] = set()

    def walk(obj: object) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, pulumi.CustomResource):
            found[id(obj)] = obj
        if isinstance(obj, pulumi.ComponentResource):
            for value in vars(obj).values():
                if isinstance(value, pulumi.Resource):
                    walk(value)

    walk(component)
    return list(found.values())


def settled(component: pulumi.Resource) -> pulumi.Output[list[Any]]:
    """An Output that resolves once every custom resource under ``component`` is registered."""
    return pulumi.Output.all(*[r.id for r in custom_resources(component)])


# --- a sample stack --------------------------------------------------------------------------

K3S_VERSION = "1.31.0"  # kubernetes-validate schema version for the pinned k3s minor

PASSWORDS = {
    "sensor-garage": "garage-Secret-789",
    "sensor-livingroom": "livingroom-Secret-456",
    "telegraf": "telegraf-Secret-123",
}
OTHER_SECRETS = {
    "influxdb_admin_password": "influx-Admin-Secret",
    "influxdb_operator_token": "influx-Operator-Token-Secret",
    "grafana_admin_password": "grafana-Admin-Secret",
}
ALL_SECRETS = (*PASSWORDS.values(), *OTHER_SECRETS.values())


def sample_args(**overrides: Any):
    from components.mtig import AclRule, MetricsStackArgs, MqttUser

    values: dict[str, Any] = dict(
        namespace="mtig",
        mqtt_users=[
            MqttUser("sensor-garage", (AclRule("write", "sensors/garage/#"),)),
            MqttUser("sensor-livingroom", (AclRule("write", "sensors/livingroom/#"),)),
            MqttUser("telegraf", (AclRule("read", "sensors/#"),)),
        ],
        mqtt_passwords={k: pulumi.Output.secret(v) for k, v in PASSWORDS.items()},
        telegraf_user="telegraf",
        topics=["sensors/#"],
        org="homelab",
        bucket="sensors",
        retention="30d",
        **{k: pulumi.Output.secret(v) for k, v in OTHER_SECRETS.items()},
    )
    values.update(overrides)
    return MetricsStackArgs(**values)


def k8s_provider():
    """A Kubernetes provider of our own until the k3s layer hands one over."""
    import pulumi_kubernetes as k8s

    return k8s.Provider("test-k3s", kubeconfig="apiVersion: v1\nkind: Config\nclusters: []\n")
