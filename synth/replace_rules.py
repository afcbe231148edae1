"""Which inputs force a new resource, per resource type the program registers: facts, each cited.

Each rule is an input path (camelCase, as the engine receives it, list indices left out) that the
provider declares replace-forcing; a change at, under or above the path (a whole block that turned
unknown) plans a replacement. Read from the providers' sources at the pinned versions:

- bpg/terraform-provider-proxmox v0.111.1 (the upstream of pulumi-proxmoxve 8.x:
  muhlba91/pulumi-proxmoxve provider/go.mod): `ForceNew: true` in proxmoxtf/resource/vm/vm.go,
  proxmoxtf/resource/container/container.go and proxmoxtf/resource/file.go; `RequiresReplace()` in
  fwprovider/nodes/resource_download_file.go; `customdiff.ForceNewIf` for vm_id and node_name.
- linode/terraform-provider-linode v3.13.0 (the v3 line pulumi-linode 6.x bridges):
  linode/instance/schema_resource.go `ForceNew: true`; linode/firewall/framework_schema_resource.go
  declares no RequiresReplace (every firewall change is an update).
- lxc/terraform-provider-incus v1.1.1 (components/incus/binding.py PROVIDER_VERSION): `RequiresReplace()`
  in internal/instance/resource_instance.go, internal/profile/resource_profile.go,
  internal/storage/resource_storage_volume.go, internal/network/resource_network.go.
- pulumi/pulumi-command v1.2.1: provider/pkg/provider/common/inputs.go and remote/copy.go,
  `triggers` tagged `provider:"replaceOnChanges"`.
- pulumi/pulumi-kubernetes provider/pkg/provider/diff.go (`forceNew` table, `.metadata.name` and
  `.metadata.namespace` for every kind) and provider/pkg/provider/helm_release.go (Diff:
  `forceNewFields := []string{".name", ".namespace"}`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BPG = "bpg/terraform-provider-proxmox@v0.111.1"
LINODE = "linode/terraform-provider-linode@v3.13.0"
INCUS = "lxc/terraform-provider-incus@v1.1.1"
COMMAND = "pulumi/pulumi-command@v1.2.1"
K8S = "pulumi/pulumi-kubernetes"
# The upstream commits pulumi/pulumi-random and pulumi/pulumi-tls pin in provider/go.mod (their
# pseudo-versions). random's commit was read; tls's newest readable snapshot (d72d90e1, 2026-04-28,
# two weeks before the pinned 609226f53114) was, and its schema files are unchanged in v4.x.
RANDOM = "hashicorp/terraform-provider-random@f8d869dc98d9"
TLS = "hashicorp/terraform-provider-tls@d72d90e1"
MINIO = "aminueza/terraform-provider-minio@v3.40"  # the upstream pulumi-minio bridges (newest stored snapshot)

Inputs = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    path: str  # camelCase input path without list indices, e.g. "initialization.userDataFileId"
    source: str  # "<repository> <file>": where the provider declares it
    # A rule that applies only in some cases (vm_id to the same id, node_name without migrate):
    when: Callable[[Inputs, Inputs], bool] | None = None
    note: str = ""

    def cite(self) -> str:
        return f"{self.path} forces a new resource ({self.source}{': ' + self.note if self.note else ''})"


def _rules(source: str, *paths: str) -> tuple[Rule, ...]:
    return tuple(Rule(path, source) for path in paths)


def _no_migrate(old: Inputs, new: Inputs) -> bool:
    return not new.get("migrate", False)


VM_GO = f"{BPG} proxmoxtf/resource/vm/vm.go"
CONTAINER_GO = f"{BPG} proxmoxtf/resource/container/container.go"
FILE_GO = f"{BPG} proxmoxtf/resource/file.go"
DOWNLOAD_GO = f"{BPG} fwprovider/nodes/resource_download_file.go"
LINODE_INSTANCE = f"{LINODE} linode/instance/schema_resource.go"
COMMAND_INPUTS = f"{COMMAND} provider/pkg/provider/common/inputs.go"
K8S_DIFF = f"{K8S} provider/pkg/provider/diff.go"
HELM_DIFF = f"{K8S} provider/pkg/provider/helm_release.go"

_K8S_METADATA = _rules(K8S_DIFF, "metadata.name", "metadata.namespace")
_SELECTOR = _rules(K8S_DIFF, "spec.selector")

FORCE_NEW: dict[str, tuple[Rule, ...]] = {
    "proxmoxve:index/vmLegacy:VmLegacy": (
        *_rules(VM_GO, "amdSev", "clone.retries", "clone.datastoreId", "clone.nodeName", "clone.vmId",
                "clone.full", "initialization.userDataFileId", "initialization.vendorDataFileId",
                "initialization.networkDataFileId", "initialization.metaDataFileId", "initialization.type"),
        Rule("vmId", VM_GO, note="customdiff.ForceNewIf(mkVMID)"),
        Rule("nodeName", VM_GO, when=_no_migrate, note="customdiff.ForceNewIf(mkNodeName) unless migrate = true"),
        Rule("efiDisk.type", VM_GO, note="forceNewOnEFIDiskTypeChange"),
        Rule("tpmState.version", VM_GO, note="forceNewOnTPMVersionChange"),
    ),
    "proxmoxve:index/containerLegacy:ContainerLegacy": (
        *_rules(CONTAINER_GO, "clone.datastoreId", "clone.nodeName", "clone.full", "clone.vmId",
                "disk.datastoreId", "initialization.userAccount", "initialization.userAccount.keys",
                "initialization.userAccount.password", "mountPoints", "mountPoints.size",
                "mountPoints.volume", "nodeName", "operatingSystem", "operatingSystem.templateFileId",
                "poolId", "template", "unprivileged", "vmId"),
        Rule("disk.size", CONTAINER_GO, when=lambda o, n: _shrink_one(o, n, "disk"),
             note="customdiff.ForceNewIf(mkDisk): shrinking is not supported"),
    ),
    "proxmoxve:index/fileLegacy:FileLegacy": _rules(
        FILE_GO, "contentType", "datastoreId", "fileModificationDate", "fileMode", "fileSize", "fileTag",
        "nodeName", "sourceFile", "sourceRaw", "sourceRaw.data", "sourceRaw.fileName", "sourceRaw.resize"),
    "proxmoxve:download/file:File": _rules(
        DOWNLOAD_GO, "contentType", "fileName", "datastoreId", "nodeName", "url", "checksum",
        "decompressionAlgorithm", "checksumAlgorithm"),
    "linode:index/instance:Instance": _rules(
        LINODE_INSTANCE, "metadatas.userData", "image", "backupId", "stackscriptId", "stackscriptData",
        "ipv4", "authorizedKeys", "authorizedUsers", "firewallId", "networkHelper", "interfaceGeneration",
        "diskEncryption"),
    "linode:index/firewall:Firewall": (),
    "incus:index/instance:Instance": _rules(
        f"{INCUS} internal/instance/resource_instance.go", "type", "image", "ephemeral", "project", "remote",
        "target", "snapshot", "sourceFile", "architecture"),
    "incus:index/profile:Profile": _rules(f"{INCUS} internal/profile/resource_profile.go", "name", "project", "remote"),
    "incus:index/storageVolume:StorageVolume": _rules(
        f"{INCUS} internal/storage/resource_storage_volume.go", "name", "pool", "type", "contentType",
        "project", "remote", "target", "sourceFile"),
    "incus:index/network:Network": _rules(
        f"{INCUS} internal/network/resource_network.go", "name", "type", "project", "remote", "target"),
    "command:remote:Command": _rules(COMMAND_INPUTS, "triggers"),
    "command:remote:CopyToRemote": _rules(f"{COMMAND} provider/pkg/provider/remote/copy.go", "triggers"),
    "kubernetes:helm.sh/v3:Release": _rules(HELM_DIFF, "name", "namespace"),
    "kubernetes:core/v1:ConfigMap": (*_K8S_METADATA, *_rules(K8S_DIFF, "binaryData", "data")),
    "kubernetes:core/v1:Secret": (*_K8S_METADATA, *_rules(K8S_DIFF, "type", "stringData", "data")),
    "kubernetes:core/v1:Service": (*_K8S_METADATA, *_rules(K8S_DIFF, "spec.clusterIP")),
    "kubernetes:core/v1:PersistentVolumeClaim": (*_K8S_METADATA, *_rules(K8S_DIFF, "spec")),
    "kubernetes:apps/v1:Deployment": (*_K8S_METADATA, *_SELECTOR),
    "kubernetes:apps/v1:DaemonSet": (*_K8S_METADATA, *_SELECTOR),
    "kubernetes:apps/v1:StatefulSet": (*_K8S_METADATA, *_SELECTOR, *_rules(
        K8S_DIFF, "spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.serviceName",
        "spec.volumeClaimTemplates")),
    "kubernetes:batch/v1:Job": (*_K8S_METADATA, *_rules(
        K8S_DIFF, "spec.completions", "spec.parallelism", "spec.selector", "spec.template")),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": (*_K8S_METADATA, *_rules(K8S_DIFF, "roleRef")),
    # diff.go has no CronJob entry: only the metadata every kind has (a changed jobTemplate updates).
    "kubernetes:batch/v1:CronJob": _K8S_METADATA,
    "proxmoxve:index/poolLegacy:PoolLegacy": _rules(f"{BPG} proxmoxtf/resource/pool/pool.go", "poolId"),
    "proxmoxve:pool/membership:Membership": _rules(
        f"{BPG} fwprovider/pools/pool_membership.go", "poolId", "storageId", "vmId"),
    "proxmoxve:backup/job:Job": _rules(f"{BPG} fwprovider/cluster/backup/resource.go", "resourceId"),
    "proxmoxve:metrics/server:Server": _rules(
        f"{BPG} fwprovider/cluster/metrics/resource_metrics_server.go", "name", "type"),
    "minio:index/s3Bucket:S3Bucket": _rules(f"{MINIO} minio/resource_minio_s3_bucket.go", "bucket", "bucketPrefix"),
    "minio:index/s3BucketVersioning:S3BucketVersioning": _rules(
        f"{MINIO} minio/resource_minio_s3_bucket_versioning.go", "bucket"),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": (*_K8S_METADATA, *_rules(K8S_DIFF, "roleRef")),
    "command:local:Command": _rules(COMMAND_INPUTS, "triggers"),
    # terraform-provider-random (pulumi-random 4.x): every argument of random_bytes and
    # random_password carries a RequiresReplace plan modifier (internal/provider/resource_bytes.go,
    # resource_password.go; password's keepers only when the new values are not null, and
    # override_special not from "" to null).
    "random:index/randomBytes:RandomBytes": _rules(f"{RANDOM} internal/provider/resource_bytes.go", "length", "keepers"),
    "random:index/randomPassword:RandomPassword": _rules(
        f"{RANDOM} internal/provider/resource_password.go", "length", "keepers", "special", "upper", "lower",
        "number", "numeric", "minLower", "minUpper", "minNumeric", "minSpecial", "overrideSpecial"),
    # terraform-provider-tls (pulumi-tls 5.x): keys and certificates are immutable; every argument
    # that shapes them carries RequiresReplace, the PEM inputs requireReplaceIfStateContainsPEMString
    # (internal/provider/resource_*.go); early_renewal_hours alone is an update.
    "tls:index/privateKey:PrivateKey": _rules(
        f"{TLS} internal/provider/resource_private_key.go", "algorithm", "rsaBits", "ecdsaCurve"),
    "tls:index/selfSignedCert:SelfSignedCert": _rules(
        f"{TLS} internal/provider/resource_self_signed_cert.go", "privateKeyPem", "subject", "validityPeriodHours",
        "allowedUses", "dnsNames", "ipAddresses", "uris", "isCaCertificate", "maxPathLength", "setSubjectKeyId",
        "setAuthorityKeyId"),
    "tls:index/certRequest:CertRequest": _rules(
        f"{TLS} internal/provider/resource_cert_request.go", "privateKeyPem", "subject", "dnsNames",
        "ipAddresses", "uris"),
    "tls:index/locallySignedCert:LocallySignedCert": _rules(
        f"{TLS} internal/provider/resource_locally_signed_cert.go", "certRequestPem", "caPrivateKeyPem",
        "caCertPem", "validityPeriodHours", "allowedUses", "isCaCertificate", "maxPathLength", "setSubjectKeyId"),
    # A CRD object and a ClusterRole: only the metadata every kind has (diff.go lists no field of theirs).
    "kubernetes:cert-manager.io/v1:ClusterIssuer": _K8S_METADATA,
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": _K8S_METADATA,
}


def _shrink_one(old: Inputs, new: Inputs, key: str) -> bool:
    o, n = (old.get(key) or {}).get("size"), (new.get(key) or {}).get("size")
    return isinstance(o, (int, float)) and isinstance(n, (int, float)) and n < o


# Inputs that name the resource on the provider's side: two of them cannot exist at once, so a
# create-before-delete replacement that keeps the value collides (Proxmox VMIDs are cluster-wide,
# snippet paths per node and storage, Incus names per project, Linode labels per account).
FIXED_IDENTITY: dict[str, tuple[str, ...]] = {
    "proxmoxve:index/vmLegacy:VmLegacy": ("vmId",),
    "proxmoxve:index/containerLegacy:ContainerLegacy": ("vmId",),
    "proxmoxve:index/fileLegacy:FileLegacy": ("nodeName", "datastoreId", "sourceRaw.fileName"),
    "proxmoxve:download/file:File": ("nodeName", "datastoreId", "fileName"),
    "incus:index/instance:Instance": ("name",),
    "incus:index/profile:Profile": ("name",),
    "incus:index/storageVolume:StorageVolume": ("pool", "name"),
    "incus:index/network:Network": ("name",),
    "linode:index/instance:Instance": ("label",),
    "kubernetes:helm.sh/v3:Release": ("namespace", "name"),
}

# pulumi-kubernetes deletes a named object before creating its replacement (provider.go Diff:
# DeleteBeforeReplace when metadata.name is given): no collision for explicitly named objects.
def provider_deletes_first(type_: str, inputs: Inputs) -> bool:
    return type_.startswith("kubernetes:") and "helm.sh" not in type_ and bool((inputs.get("metadata") or {}).get("name"))


# Outputs a provider recomputes on every update, unknown during preview (pulumi-command runs the
# `update` command only on `up`: its stdout is not known before).
UNKNOWN_ON_UPDATE: dict[str, tuple[str, ...]] = {
    "command:remote:Command": ("stdout", "stderr"),
    "command:local:Command": ("stdout", "stderr"),
}

# Resource types whose replace-forcing inputs were read from the provider: the plan refuses to
# predict a type it knows nothing about (a new type must get its rules here first).
KNOWN_WITHOUT_RULES = {
    "kubernetes:core/v1:Namespace": _K8S_METADATA,
    "kubernetes:core/v1:ServiceAccount": _K8S_METADATA,
    "kubernetes:rbac.authorization.k8s.io/v1:Role": _K8S_METADATA,
    "kubernetes:discovery.k8s.io/v1:EndpointSlice": _K8S_METADATA,
}
FORCE_NEW.update(KNOWN_WITHOUT_RULES)


def rules_for(type_: str) -> tuple[Rule, ...] | None:
    """The replace-forcing rules of a type; None for a type nobody has read the provider of."""
    if type_.startswith("pulumi:providers:"):
        return ()  # a provider's config change updates it (no DiffConfig replacement modelled)
    return FORCE_NEW.get(type_)
