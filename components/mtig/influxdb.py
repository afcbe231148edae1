"""InfluxDB 2 from the official influxdata/influxdb2 chart, plus the scoped tokens.

The operator (admin) token stays in its Secret. Telegraf gets a write token and Grafana a
read token, both limited to the one bucket. InfluxDB 2 generates token values itself (its
API has no way to choose one), so a Job in the cluster creates them with the operator token
and stores each in its own Secret; re-running it reuses the existing authorizations.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.mtig import k8s as kh
from components.mtig import render, versions

TYPE = "homelab:mtig:InfluxDB"
APP = "influxdb"
AUTH_SECRET = "influxdb-auth"
DATA_CLAIM = "influxdb-data"
TELEGRAF_TOKEN_SECRET = "telegraf-influxdb-token"
GRAFANA_TOKEN_SECRET = "grafana-influxdb-token"
TOKEN_KEY = "token"
HTTP_PORT = 80  # the chart's Service port (targets 8086)


@dataclass(frozen=True)
class InfluxDBArgs:
    namespace: pulumi.Input[str]
    org: str
    bucket: str
    retention: str  # InfluxDB duration, "0s" keeps data forever
    admin_password: pulumi.Input[str]
    operator_token: pulumi.Input[str]
    storage_size: str = "10Gi"
    storage_class: str | None = None
    admin_user: str = "admin"
    protect: bool = False


def chart_values(args: InfluxDBArgs) -> dict[str, object]:
    """Values for the influxdb2 chart: no secret in them, only the name of the Secret."""
    return {
        "fullnameOverride": "influxdb",
        "image": {"repository": "influxdb", "tag": versions.INFLUXDB_IMAGE_TAG},
        "adminUser": {
            "organization": args.org,
            "bucket": args.bucket,
            "user": args.admin_user,
            "retention_policy": args.retention,
            "existingSecret": AUTH_SECRET,
        },
        "persistence": {"enabled": True, "useExisting": True, "name": DATA_CLAIM},
        "resources": kh.INFLUXDB_SIZE.values(),
        "pdb": {"create": False},
        "service": {"type": "ClusterIP", "port": HTTP_PORT, "targetPort": 8086},
    }


class InfluxDB(pulumi.ComponentResource):
    url: pulumi.Output[str]
    org: str
    bucket: str

    def __init__(self, name: str, args: InfluxDBArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        render.parse_duration(args.retention)
        child = pulumi.ResourceOptions(parent=self)

        self.auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=AUTH_SECRET, namespace=args.namespace, labels=kh.labels(APP)),
            type="Opaque",
            string_data={
                "admin-password": pulumi.Output.secret(args.admin_password),
                "admin-token": pulumi.Output.secret(args.operator_token),
            },
            opts=child,
        )
        self.data = kh.pvc(
            f"{name}-data",
            name=DATA_CLAIM,
            namespace=args.namespace,
            app=APP,
            size=args.storage_size,
            storage_class=args.storage_class,
            protect=args.protect,
            opts=child,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="influxdb",
            chart=versions.INFLUXDB_CHART,
            version=versions.INFLUXDB_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.INFLUXDB_REPO),
            namespace=args.namespace,
            values=chart_values(args),
            atomic=True,
            timeout=600,
            # The chart refers to the Secret and the claim by name only.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.auth, self.data]),
        )

        self.url = pulumi.Output.concat("http://influxdb.", args.namespace, f".svc.cluster.local:{HTTP_PORT}")
        self.tokens = self._token_job(name, args)
        self.org = args.org
        self.bucket = args.bucket
        self.register_outputs({"url": self.url, "org": args.org, "bucket": args.bucket})

    def _token_job(self, name: str, args: InfluxDBArgs) -> k8s.batch.v1.Job:
        child = pulumi.ResourceOptions(parent=self)
        app = "influxdb-tokens"
        secrets = {TELEGRAF_TOKEN_SECRET: "telegraf.token", GRAFANA_TOKEN_SECRET: "grafana.token"}
        script = render.token_script()
        self.token_files = k8s.core.v1.ConfigMap(
            f"{name}-token-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="influxdb-tokens", namespace=args.namespace, labels=kh.labels(app)),
            data={
                "influx-tokens.sh": script,
                "kustomization.yaml": pulumi.Output.from_input(args.namespace).apply(
                    lambda ns: render.token_kustomization(ns, secrets)
                ),
            },
            opts=child,
        )
        self.account = account = k8s.core.v1.ServiceAccount(
            f"{name}-token-writer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="influxdb-token-writer", namespace=args.namespace, labels=kh.labels(app)),
            automount_service_account_token=False,
            opts=child,
        )
        self.role = role = k8s.rbac.v1.Role(
            f"{name}-token-writer-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="influxdb-token-writer", namespace=args.namespace, labels=kh.labels(app)),
            rules=[
                # `create` cannot be limited to names; everything else only touches the two Secrets.
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["secrets"], verbs=["create"]),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""],
                    resources=["secrets"],
                    resource_names=sorted(secrets),
                    verbs=["get", "patch", "update"],
                ),
            ],
            opts=child,
        )
        self.binding = binding = k8s.rbac.v1.RoleBinding(
            f"{name}-token-writer-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="influxdb-token-writer", namespace=args.namespace, labels=kh.labels(app)),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name="influxdb-token-writer"),
            subjects=[
                k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name="influxdb-token-writer", namespace=args.namespace)
            ],
            opts=child,
        )
        env = [
            k8s.core.v1.EnvVarArgs(name="INFLUX_HOST", value=self.url),
            k8s.core.v1.EnvVarArgs(
                name="INFLUX_TOKEN",
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=AUTH_SECRET, key="admin-token")
                ),
            ),
            k8s.core.v1.EnvVarArgs(name="INFLUX_ORG", value=args.org),
            k8s.core.v1.EnvVarArgs(name="INFLUX_BUCKET", value=args.bucket),
            # In the Job's template: a new retention (or org, bucket) re-runs the Job, which applies it.
            k8s.core.v1.EnvVarArgs(name="INFLUX_RETENTION", value=args.retention),
            k8s.core.v1.EnvVarArgs(name="TELEGRAF_DESCRIPTION", value=f"telegraf-write-{args.bucket}"),
            k8s.core.v1.EnvVarArgs(name="GRAFANA_DESCRIPTION", value=f"grafana-read-{args.bucket}"),
            k8s.core.v1.EnvVarArgs(name="KUSTOMIZATION", value="/scripts/kustomization.yaml"),
            k8s.core.v1.EnvVarArgs(name="OUT_DIR", value="/work"),
            k8s.core.v1.EnvVarArgs(name="HOME", value="/work/home"),
        ]
        work = k8s.core.v1.VolumeMountArgs(name="work", mount_path="/work")
        return k8s.batch.v1.Job(
            f"{name}-tokens",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="influxdb-tokens", namespace=args.namespace, labels=kh.labels(app)),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=kh.labels(app), annotations={"checksum/script": kh.checksum(script)}
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="OnFailure",
                        service_account_name="influxdb-token-writer",
                        automount_service_account_token=True,
                        security_context=kh.pod_security(1000),
                        init_containers=[
                            k8s.core.v1.ContainerArgs(
                                name="create-tokens",
                                image=versions.INFLUXDB_IMAGE,
                                command=["bash", "/scripts/influx-tokens.sh"],
                                env=env,
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="scripts", mount_path="/scripts", read_only=True),
                                    work,
                                ],
                                resources=kh.JOB_SIZE.args(),
                                security_context=kh.restricted_container_security(),
                            )
                        ],
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="apply-secrets",
                                image=versions.KUBECTL_IMAGE,
                                command=["kubectl"],
                                args=["apply", "-k", "/work"],
                                # A writable home for kubectl's discovery cache (read-only root).
                                env=[k8s.core.v1.EnvVarArgs(name="HOME", value="/work/home")],
                                volume_mounts=[work],
                                resources=kh.JOB_SIZE.args(),
                                security_context=kh.restricted_container_security(),
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="scripts",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="influxdb-tokens", default_mode=0o444),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="work", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory")
                            ),
                        ],
                    ),
                ),
            ),
            # InfluxDB must be set up (org, bucket, operator token) before tokens can be made,
            # and the account must be allowed to write the Secrets: neither shows in the data.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.release, self.token_files, account, role, binding],
                delete_before_replace=True,
            ),
        )
