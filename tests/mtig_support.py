"""Test support for the MTIG components: a recording mock monitor and manifest helpers.

Every registration is kept with its inputs (secrets unwrapped, whole floats back to ints, as
Kubernetes sees them), its options (protect, retainOnDelete) and its dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"
SECRET_VALUE = rpc._special_secret_sig


def plain(value: Any) -> Any:
    """Inputs as plain data: secret wrappers removed, 3.0 -> 3 (mocks deliver numbers as floats)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SECRET_SIG) == SECRET_VALUE or any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


@dataclass
class Registration:
    type: str
    name: str
    raw_inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    parent: str
    dependencies: list[str]
    provider: str

    @property
    def inputs(self) -> dict[str, Any]:
        return plain(self.raw_inputs)


@dataclass
class Recorder(pulumi.runtime.Mocks):
    registrations: list[Registration] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "kubernetes:core/v1:Service":
            state["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

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
            if r.type.startswith("kubernetes:") and not r.type.startswith(("kubernetes:helm.sh", "pulumi:providers"))
        ]


class RecordingMonitor(MockMonitor):
    def __init__(self, recorder: Recorder):
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorder.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    raw_inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                )
            )
        return response


def install() -> Recorder:
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="homelab", stack="test", preview=False, monitor=RecordingMonitor(recorder))
    return recorder


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
