"""The `production-backups` policy (policy/rules.py): a production stack backs every stateful thing
up off its host, and keeps its backup jobs and pools protected. Staging is not held to it."""

from __future__ import annotations

from policy import rules
from policy.rules import Options, Resource

SERVER_SCRIPT = "cat > /etc/rancher/k3s/config.yaml <<'EOF'\ncluster-init: true\n{extra}tls-san:\n- 10.50.0.10\nEOF\n"


def res(type_: str, name: str, props: dict, *, stack: str = "lothlorien", protect: bool = False) -> Resource:
    return Resource(type=type_, name=name, urn=f"urn:pulumi:{stack}::homelab::{type_}::{name}", props=props,
                    options=Options(protect=protect))


def covered_stack(stack: str = "lothlorien", *, storage: str = "pbs", job_protected: bool = True,
                  member: bool = True, etcd_s3: bool = True, cron: bool = True) -> list[Resource]:
    vm = res(rules.PVE_VM, "k3s-s1", {"vmId": 5101, "disks": [{"datastoreId": "ceph-vm"}]}, stack=stack, protect=True)
    ct = res(rules.PVE_CT, "dns", {"vmId": 5201, "disk": {"datastoreId": "ceph-vm"}}, stack=stack, protect=True)
    # A catalog template (only a catalog image, never started): the template flag alone exempts nothing.
    image = next(iter(rules.catalog().values())).image_file_name
    template = res(rules.PVE_VM, "rocky9", {"vmId": 5000, "template": True, "started": False,
                                            "disks": [{"importFrom": f"local:import/{image}"}]}, stack=stack)
    found = [vm, ct, template,
             res(rules.PVE_POOL, "backup-pool", {"poolId": stack}, stack=stack, protect=True),
             res(rules.PVE_BACKUP_JOB, "backup-job", {"pool": stack, "storage": storage, "schedule": "*-*-* 02:30"},
                 stack=stack, protect=job_protected),
             res(rules.PVE_POOL_MEMBERSHIP, "member-dns", {"poolId": stack, "vmId": 5201}, stack=stack),
             res(rules.COMMAND_REMOTE, "server-0",
                 {"create": SERVER_SCRIPT.format(extra="etcd-s3: true\n" if etcd_s3 else ""), "stdin": "[secret]"},
                 stack=stack),
             res(rules.HELM_RELEASE, "influxdb", {"chart": "influxdb2"}, stack=stack),
             res(rules.HELM_RELEASE, "grafana", {"chart": "grafana", "values": {"persistence": {"existingClaim": "grafana-data"}}},
                 stack=stack)]
    if member:
        found.append(res(rules.PVE_POOL_MEMBERSHIP, "member-vm", {"poolId": stack, "vmId": 5101}, stack=stack))
    if cron:
        pod = lambda containers, volumes=(): {"spec": {"jobTemplate": {"spec": {"template": {"spec": {  # noqa: E731
            "initContainers": containers, "containers": [{"command": ["/bin/sh", "/scripts/upload.sh"]}],
            "volumes": list(volumes)}}}}}}
        found.append(res(rules.K8S_CRON_JOB, "influxdb-backup",
                         pod([{"command": ["influx", "backup", "/backup/influxdb"]}]), stack=stack))
        found.append(res(rules.K8S_CRON_JOB, "grafana-backup",
                         pod([{"command": ["sh"]}], [{"name": "d", "persistentVolumeClaim": {"claimName": "grafana-data"}}]),
                         stack=stack))
    return found


def found(resources: list[Resource]) -> list[str]:
    return [message for _urn, message in rules.production_backups(resources)]


def test_a_fully_covered_production_stack_passes():
    assert found(covered_stack()) == []


def test_a_guest_outside_every_backup_job_is_refused():
    assert found(covered_stack(member=False)) == [
        "proxmoxve:index/vmLegacy:VmLegacy 'k3s-s1' (VMID 5101) of production 'lothlorien' is in no backup job"]


def test_backups_on_the_guests_own_or_a_node_local_storage_are_refused():
    for storage in ("ceph-vm", "local"):
        assert found(covered_stack(storage=storage)) == [
            f"proxmoxve:index/vmLegacy:VmLegacy 'k3s-s1' (VMID 5101) of production 'lothlorien' is backed up only to storage on its own node ({storage})",
            f"proxmoxve:index/containerLegacy:ContainerLegacy 'dns' (VMID 5201) of production 'lothlorien' is backed up only to storage on its own node ({storage})",
        ]


def test_an_unprotected_backup_job_is_refused():
    assert found(covered_stack(job_protected=False)) == [
        "proxmoxve:backup/job:Job 'backup-job' keeps production backups of 'lothlorien' but is not protected"]


def test_an_unprotected_backup_bucket_is_refused():
    bucket = res(rules.MINIO_BUCKET, "backup-store-bucket", {"bucket": "homelab-lothlorien-backups"})
    assert found([*covered_stack(), bucket]) == [
        "minio:index/s3Bucket:S3Bucket 'backup-store-bucket' keeps production backups of 'lothlorien' but is not protected"]
    kept = res(rules.MINIO_BUCKET, "backup-store-bucket", {"bucket": "homelab-lothlorien-backups"}, protect=True)
    assert found([*covered_stack(), kept]) == []


def test_k3s_servers_must_copy_etcd_snapshots_to_s3():
    assert found(covered_stack(etcd_s3=False)) == [
        "k3s server 'server-0' of production 'lothlorien' does not copy its etcd snapshots to S3 (etcd-s3)"]


def test_influxdb_and_grafana_need_backup_cron_jobs():
    assert found(covered_stack(cron=False)) == [
        "influxdb2 release 'influxdb' of production 'lothlorien' has no backup CronJob",
        "grafana release 'grafana' of production 'lothlorien' has no backup CronJob",
    ]


def test_staging_is_not_held_to_it():
    assert found(covered_stack("mirkwood", member=False, etcd_s3=False, cron=False, job_protected=False)) == []


def test_the_rule_is_mandatory_in_the_pack():
    rule = next(r for r in rules.STACK_RULES if r.name == "production-backups")
    assert rule.enforcement == "mandatory" and rule.check is rules.production_backups


def incus_volume(name: str = "mosquitto-data", pool: str = "ceph") -> Resource:
    return res(rules.INCUS_VOLUME, f"incus-{name}", {"name": name, "pool": pool, "type": "custom"}, protect=True)


def incus_export(volume: str = "mosquitto-data", pool: str = "ceph", upload: bool = True) -> Resource:
    """An export CronJob as components/backups/incus.py makes it: the export, then the upload."""
    export = {"command": ["python3", "/scripts/incus-export.py"],
              "env": [{"name": "INCUS_POOL", "value": pool}, {"name": "INCUS_VOLUME", "value": volume}]}
    containers = [{"command": ["/bin/sh", "/scripts/upload-mosquitto.sh"]}] if upload else []
    return res(rules.K8S_CRON_JOB, f"export-{volume}", {"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "initContainers": [export], "containers": containers}}}}}})


def test_a_production_incus_volume_needs_an_export_cron_job():
    refused = ("incus:index/storageVolume:StorageVolume 'incus-mosquitto-data' (pool ceph, volume mosquitto-data) of "
               "production 'lothlorien' is exported by no backup CronJob (a snapshot on its own pool is not a backup)")
    assert found([*covered_stack(), incus_volume(), incus_export()]) == []
    assert found([*covered_stack(), incus_volume()]) == [refused]
    # An export of another volume, of the same name on another pool, or without the upload does not count.
    assert found([*covered_stack(), incus_volume(), incus_export(volume="atlantis-data")]) == [refused]
    assert found([*covered_stack(), incus_volume(), incus_export(pool="local")]) == [refused]
    assert found([*covered_stack(), incus_volume(), incus_export(upload=False)]) == [refused]
    # Staging is not held to it.
    staging = [res(rules.INCUS_VOLUME, "v", {"name": "v", "pool": "p", "type": "custom"}, stack="mirkwood")]
    assert list(rules.production_backups(staging)) == []
