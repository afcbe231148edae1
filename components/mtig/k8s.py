"""Small helpers shared by the MTIG components: labels, sizes, checksums, data volumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

PART_OF = "mtig"


def labels(app: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": PART_OF}


def checksum(*texts: str) -> str:
    """Pod-template annotation value: a changed config rolls the pods."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Size:
    """Requests and limits sized for a small (homelab) cluster."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def args(self) -> k8s.core.v1.ResourceRequirementsArgs:
        return k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": self.cpu_request, "memory": self.memory_request},
            limits={"cpu": self.cpu_limit, "memory": self.memory_limit},
        )

    def values(self) -> dict[str, dict[str, str]]:
        """The same, as Helm chart values."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


MOSQUITTO_SIZE = Size("25m", "32Mi", "250m", "128Mi")
TELEGRAF_SIZE = Size("50m", "64Mi", "250m", "256Mi")
INFLUXDB_SIZE = Size("100m", "256Mi", "1000m", "1Gi")
GRAFANA_SIZE = Size("50m", "128Mi", "500m", "512Mi")
JOB_SIZE = Size("25m", "32Mi", "250m", "128Mi")


def data_volume_options(opts: pulumi.ResourceOptions, protect: bool) -> pulumi.ResourceOptions:
    """Options for a volume holding data: protected and kept on delete when asked to."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)
    )


def pvc(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    app: str,
    size: str,
    storage_class: str | None,
    protect: bool,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.PersistentVolumeClaim:
    return k8s.core.v1.PersistentVolumeClaim(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(app)),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
        opts=data_volume_options(opts, protect),
    )


def restricted_container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        read_only_root_filesystem=True,
    )


def pod_security(uid: int) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )
