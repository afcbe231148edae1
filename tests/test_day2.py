"""Day 2: what each everyday edit does, predicted by the plan (synth/plan.py) for both environments.

For every edit: the exact set of resources that change and how (create / update / replace /
delete), that no protected resource is replaced or deleted (a production `pulumi up` would stop),
and that the change reaches where it must (the guest, the pod, the cluster). The README's "Day 2"
table is generated from DAY2_TABLE below and checked by test_readme_day2_table_matches_the_suite.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest
import yaml

import cloudinit.render as cloudinit_render
from synth import day2
from synth.engine import RecordingMonitor
from synth.mocks import HomelabMocks
from synth.plan import Plan, Side, plan
from tests import conftest
from tests.helpers import some
from tests.day2_edits import (EDITS, NEW_AGENT, NEW_INCUS_INSTANCE, NEW_NODE, NEW_OPERATOR_KEY, SECRET_KINDS,
                              SNAPSHOT_INSTANCE, first_agent_vm, rotated)

ROOT = conftest.ROOT
ENVS = conftest.ENVIRONMENTS


@pytest.fixture(scope="module", autouse=True)
def _restore_component_mocks():
    """The synths run in this process: give the component tests their recording monitor back."""
    yield
    pulumi.runtime.set_mocks(HomelabMocks(), project="homelab", stack="test", preview=False,
                             monitor=RecordingMonitor(HomelabMocks(), conftest.RECORDED))


def config(env: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())["config"]


_PLANS: dict[tuple[str, str], day2.EditPlan] = {}


def edited(env: str, name: str) -> day2.EditPlan:
    """The plan of one named edit (tests/day2_edits.py), once per session."""
    if (env, name) not in _PLANS:
        if name in SECRET_KINDS:
            key = SECRET_KINDS[name]
            _PLANS[(env, name)] = day2.plan_edit(env, secrets={key: rotated(day2.base_secrets(env)[key])})
        else:
            edit = EDITS[name]
            _PLANS[(env, name)] = day2.plan_edit(env, lambda c: edit.apply(env, c))
    return _PLANS[(env, name)]


def changes(result: Plan) -> dict[str, str]:
    """Resource name -> operation of every change (names are unique within an environment)."""
    steps = list(result.changes().values())
    assert len({s.name for s in steps}) == len(steps), "two changed resources share a name"
    return {s.name: s.op for s in steps}


def step(result: Plan, name: str):
    return next(s for s in result.changes().values() if s.name == name)


def assert_safe(result: Plan) -> None:
    """No error (protected replace/delete, collision) and no protected resource replaced or deleted."""
    assert result.errors() == []
    assert [s.name for s in result.steps if s.protect and s.op in ("replace", "delete")] == []


def safe_changes(env: str, name: str) -> tuple[day2.EditPlan, dict[str, str]]:
    """The plan of a named edit, checked safe (assert_safe), and its changes by resource name."""
    result = edited(env, name)
    assert_safe(result.plan)
    return result, changes(result.plan)


def applicable(env: str, name: str) -> bool:
    edit = EDITS.get(name)
    if edit is not None:
        return all(section in config(env) for section in edit.needs)
    return SECRET_KINDS[name] in day2.base_secrets(env)


# --- what a change of the shared base provisioning (key, timezone, package) does -------------------

def base_provisioning(env: str, before) -> dict[str, str]:
    """Every host re-provisioned in place; only per-node snippet files and cloud-init Linodes replaced."""
    c = config(env)
    px = c.get("homelab:proxmox") or {}
    expected = {f"{g['name']}-provision": "update" for g in [*px.get("vms", []), *px.get("containers", [])]}
    expected |= {r["name"]: "replace" for r in before.resources
                 if r["type"] == "proxmoxve:index/fileLegacy:FileLegacy" and r["name"].startswith("user-data-")}
    expected |= onboarded_reprovisioned(env)
    for instance in (c.get("homelab:linode") or {}).get("instances", []):
        # over SSH (as root, or as the operator after cloud-init): never a new instance
        expected[f"{instance['name']}-provision"] = "update"
    for name, inst in ((c.get("homelab:incus") or {}).get("instances") or {}).items():
        if inst.get("kind", "system") != "oci":
            expected[f"incus-{name}-instance"] = "update"  # cloud-init.user-data is updatable in place
    return expected


def onboarded_reprovisioned(env: str) -> dict[str, str]:
    """Every onboarded host: provision.sh on stdin (an update); its readiness check is keyed to the
    script (re-run: a replace)."""
    return {f"{host['name']}-{part}": op for host in config(env).get("homelab:onboard") or []
            for part, op in (("provision", "update"), ("ready", "replace"))}


def address_book_changes(env: str, after) -> dict[str, str]:
    """A host added or readdressed: onboarded hosts rewrite /etc/hosts, the DNS servers their records."""
    return {**onboarded_reprovisioned(env), **dns_record_updates(after)}


def meta_data_files(result, vm: str) -> list[str]:
    """A VM's meta-data snippet and its copies on the other nodes it can run on (shared storage)."""
    return [r["name"] for r in result.resources if r["type"] == "proxmoxve:index/fileLegacy:FileLegacy"
            and (r["name"] == f"{vm}-meta-data-file" or r["name"].startswith(f"{vm}-meta-data-"))]


def named(result, suffix: str) -> list[str]:
    return sorted(r["name"] for r in result.resources if r["name"].endswith(suffix))


def dns_record_updates(result) -> dict[str, str]:
    """The environment's DNS servers rewrite their records when a host or its address changes."""
    return {name: "update" for name in named(result, "-dns-bind")}


def provision_scripts(result) -> dict[str, str]:
    return {r["name"]: result.revealed[r["urn"]].get("stdin", "") for r in result.resources
            if r["type"] == "command:remote:Command" and r["name"].endswith("-provision")}


@pytest.mark.parametrize("env", ENVS)
def test_two_synths_of_the_same_config_plan_no_change(env):
    result = day2.plan_edit(env)
    assert changes(result.plan) == {}
    assert result.plan.counts().get("same", 0) > 50


@pytest.mark.parametrize("env", ENVS)
def test_rotating_the_operator_key_reprovisions_every_host_and_replaces_no_machine(env):
    result, ops = safe_changes(env, "rotate the operator SSH key")
    assert ops == base_provisioning(env, result.before)
    # It reaches every guest: each host's provisioning script carries the new key (root's too,
    # for hosts provisioned as root), and no VM, container or SSH-provisioned Linode is replaced.
    scripts = provision_scripts(result.after)
    assert scripts and all(NEW_OPERATOR_KEY in text for text in scripts.values())
    as_root = some((text for text in scripts.values() if re.search(r"^PROVISION_DISABLE_ROOT='?no'?$", text, re.M)),
                   "hosts provisioned as root (LXC containers, SSH-provisioned Linodes)")
    for text in as_root:  # their root keys follow the operator's (tests/test_host_scripts_dry.py runs it)
        assert 'ensure_file /root/.ssh/authorized_keys "$PROVISION_SSH_KEYS"' in text


@pytest.mark.parametrize("env", ENVS)
def test_changing_the_timezone_reaches_every_guest(env):
    result, ops = safe_changes(env, "change the timezone")
    assert ops == base_provisioning(env, result.before)
    assert all("Europe/Paris" in text for text in some(provision_scripts(result.after).values(), "provision scripts"))


@pytest.mark.parametrize("env", ENVS)
def test_adding_a_base_package_reaches_every_guest(env, monkeypatch):
    before = day2.committed(env)
    monkeypatch.setattr(cloudinit_render, "BASE_PACKAGES", (*cloudinit_render.BASE_PACKAGES, "jq"))
    result = day2.plan_edit(env)
    assert result.before is before
    assert_safe(result.plan)
    assert changes(result.plan) == base_provisioning(env, result.before)
    assert all(re.search(r"\bjq\b", text) for text in some(provision_scripts(result.after).values(), "provision scripts"))


@pytest.mark.parametrize("env", ENVS)
def test_a_shared_user_data_edit_never_replaces_a_vm(env):
    """Point 1: the snippet's id is known during preview, so `*_file_id` (ForceNew) does not change."""
    result = edited(env, "change the timezone")
    vms = [r for r in result.after.resources if r["type"] == "proxmoxve:index/vmLegacy:VmLegacy"
           and not result.after.revealed[r["urn"]].get("template")]
    assert vms
    for vm in vms:
        assert vm["urn"] not in result.plan.changes()
        init = result.after.revealed[vm["urn"]]["initialization"]
        assert re.fullmatch(r"[\w-]+:snippets/[\w.-]+", init["userDataFileId"])


@pytest.mark.parametrize("env", ENVS)
def test_changing_one_vms_address_reaches_the_guest(env):
    result, ops = safe_changes(env, "change one VM's address")
    vm = first_agent_vm(env)
    expected = {
        f"{vm}-vm": "update",  # bpg rebuilds the cloud-init drive and reboots the VM
        # same path (delete first), new instance-id; on every node the VM can run on
        **{name: "replace" for name in meta_data_files(result.after, vm)},
        f"{vm}-ready": "update", f"{vm}-provision": "update",  # they connect to the new address
        f"{vm}-host-key": "update",  # the pinned SSH host key is scanned again at the new address
        f"{env}-agent-{vm}-join": "update", f"{env}-agent-{vm}-sync": "update",
        f"{env}-monitoring-prometheus": "update",  # the node's scrape target
        **address_book_changes(env, result.after),
    }
    assert ops == expected
    assert "initialization.ipConfigs[0].ipv4.address" in step(result.plan, f"{vm}-vm").changed
    # A new instance-id: cloud-init applies the new network config on the reboot.
    ids = [yaml.safe_load(side.revealed[next(r["urn"] for r in side.resources if r["name"] == f"{vm}-meta-data-file")]
                          ["sourceRaw"]["data"])["instance-id"] for side in (result.before, result.after)]
    assert ids[0] != ids[1] and ids[1].startswith(f"{vm}-")


@pytest.mark.parametrize("env", ENVS)
def test_changing_one_vms_cores_and_memory_updates_it_alone(env):
    result, ops = safe_changes(env, "change one VM's cores and memory")
    vm = f"{first_agent_vm(env)}-vm"
    assert ops == {vm: "update"}
    assert set(step(result.plan, vm).changed) == {"cpu.cores", "memory.dedicated", "memory.floating"}


@pytest.mark.parametrize("env", ENVS)
def test_adding_a_proxmox_node_migrates_only_vms_that_move_to_it(env):
    """Point 4: rendezvous placement moves a VM only to the new node, as a migration (an update)."""
    from stacks.config.proxmox import spread

    result, ops = safe_changes(env, "add a Proxmox node")
    assert ops.pop("proxmox") == "update"  # the provider's SSH node list
    moved = {name.removesuffix("-vm") for name in ops if name.endswith("-vm")}
    px = config(env)["homelab:proxmox"]
    # Local storage: a VM runs where its template is, and the new node holds none; shared storage:
    # an unpinned VM goes where rendezvous placement now puts it.
    nodes = (*(n["name"] for n in px["nodes"]), NEW_NODE["name"])
    shared = px.get("storage", {}).get("shared", False)
    assert moved == {v["name"] for v in px["vms"]
                     if shared and not v.get("node") and spread(v["name"], nodes) == NEW_NODE["name"]}
    assert moved or env == "mirkwood", "lothlorien: no VM belongs on the new node, no migration is checked"
    for name in moved:
        vm_step = step(result.plan, f"{name}-vm")
        assert vm_step.op == "update" and vm_step.changed == ["nodeName"]
        vm = next(r for r in result.after.resources if r["name"] == f"{name}-vm")
        assert result.after.revealed[vm["urn"]]["nodeName"] == NEW_NODE["name"]
        assert result.after.revealed[vm["urn"]]["migrate"] is True
        assert ops.pop(f"{name}-meta-data-file") == "replace"  # the snippet follows to the new node
    # Everything else: snippet files created (on the new node, or where a moved VM used to run:
    # every node a VM can run on holds its snippets), nothing else replaced or touched.
    files = {r["name"]: r["type"] for r in result.after.resources}
    rest = {n: o for n, o in ops.items() if not n.endswith("-vm")}
    assert all(o == "create" and files[n] == "proxmoxve:index/fileLegacy:FileLegacy" for n, o in rest.items()), rest
    if env == "lothlorien":  # shared storage: the new node gets the snippets of every VM
        assert any(NEW_NODE["name"] in n for n in rest)
    # Nothing moves between the old nodes (a hash modulo the node count would move most guests).
    unpinned = [v["name"] for v in px["vms"] if not v.get("node")]
    if env == "lothlorien":  # shared storage: every unpinned VM may land anywhere
        assert unpinned and moved <= set(unpinned)


def test_rendezvous_placement_moves_guests_only_to_an_added_node():
    from stacks.config.proxmox import spread

    names = [f"guest-{i}" for i in range(200)]
    three = {n: spread(n, ("a", "b", "c")) for n in names}
    four = {n: spread(n, ("a", "b", "c", "d")) for n in names}
    moved = [n for n in names if three[n] != four[n]]
    assert moved and all(four[n] == "d" for n in moved)
    assert len(moved) < len(names) // 2
    assert set(three.values()) == {"a", "b", "c"}


@pytest.mark.parametrize("env", ENVS)
def test_adding_a_k3s_agent_creates_it_and_touches_no_server(env):
    result, ops = safe_changes(env, "add a k3s agent")
    new = f"{env}-{NEW_AGENT}"
    # Its SSH host key is recorded on first contact (host-key pinning).
    expected = {f"{new}-{part}": "create" for part in ("vm", "ready", "provision", "host-key")}
    expected |= {name: "create" for name in meta_data_files(result.after, new)}
    expected |= {f"{env}-agent-{new}-join": "create", f"{env}-agent-{new}-sync": "create",
                 f"{env}-monitoring-prometheus": "update",  # the new node's scrape target
                 f"backup-member-{new}": "create",  # in the backup pool
                 **address_book_changes(env, result.after)}
    assert ops == expected


@pytest.mark.parametrize("env", ENVS)
def test_bumping_the_k3s_patch_version_upgrades_every_node_in_place(env):
    result, ops = safe_changes(env, "bump the k3s patch version")
    cluster = config(env)["homelab:k3s"]["clusters"][0]
    expected = {f"{env}-server-{s}": "update" for s in cluster["servers"]}
    expected |= {f"{env}-agent-{a}-sync": "update" for a in cluster["agents"]}
    assert ops == expected
    for name in expected:
        command = result.after.revealed[step(result.plan, name).urn]["update"]
        assert "v1.31.5+k3s1" in command and "v1.31.4+k3s1" not in command


# --- secrets ---------------------------------------------------------------------------------------

ROLLS = {  # a rotated secret: its Secret is re-created and every pod that reads it rolls
    "MQTT user": ({"mtig-mosquitto-passwords", "mtig-telegraf-mqtt"},
                  {"mtig-mosquitto-deployment", "mtig-telegraf-deployment", "?mosquitto-edge-mosquitto"}),
    "MQTT exporter user": ({"mtig-mosquitto-passwords", "{env}-monitoring-mosquitto-exporter-login"},
                           {"mtig-mosquitto-deployment", "{env}-monitoring-mosquitto-exporter",
                            "?mosquitto-edge-mosquitto"}),
    "Alertmanager webhook": ({"{env}-monitoring-alertmanager-config"}, {"{env}-monitoring-prometheus"}),
    "PVE exporter token": ({"{env}-monitoring-pve-exporter-config"}, {"{env}-monitoring-pve-exporter"}),
    "Incus metrics certificate": ({"{env}-monitoring-incus-metrics"}, {"{env}-monitoring-prometheus"}),
}


# Each secret only where the environment has it (mirkwood has no Incus metrics certificate).
ROLL_CASES = [(env, kind) for kind in sorted(ROLLS) for env in ENVS if applicable(env, kind)]


def test_every_rotated_secret_is_checked_in_an_environment_that_has_it():
    assert {kind for _, kind in ROLL_CASES} == set(ROLLS)


@pytest.mark.parametrize("env,kind", ROLL_CASES)
def test_a_rotated_secret_rolls_every_pod_that_reads_it(env, kind):
    result, ops = safe_changes(env, kind)
    secrets, consumers = (({n.format(env=env) for n in group}) for group in ROLLS[kind])
    # "?name": a consumer only where the environment has it (lothlorien's edge broker on Incus,
    # whose password file goes through provisioning: an update of its command)
    present = {r["name"] for r in result.after.resources}
    edge = {n[1:] for n in consumers if n.startswith("?") and n[1:] in present}
    consumers = {n for n in consumers if not n.startswith("?")}
    assert ops == {**{n: "replace" for n in secrets}, **{n: "update" for n in consumers | edge}}
    for name in consumers:  # the pod template's checksum annotation changed: the pods roll
        assert any("checksum" in path or "podAnnotations" in path for path in step(result.plan, name).changed), name


@pytest.mark.parametrize("env", ENVS)
def test_rotating_the_influxdb_tokens_and_grafana_admin_replaces_their_secret_only(env):
    """The InfluxDB and Grafana credentials are set at their first start: the Secret changes, and the
    README tells the operator how to rotate them in the running service (README "Day 2")."""
    for kind, secret in (("InfluxDB operator token", "mtig-influxdb-auth"),
                         ("InfluxDB admin password", "mtig-influxdb-auth"),
                         ("Grafana admin", "mtig-grafana-admin")):
        _, ops = safe_changes(env, kind)
        assert ops == {secret: "replace"}
    readme = (ROOT / "README.md").read_text()
    assert "influx auth create --operator" in readme and "reset-admin-password" in readme


@pytest.mark.parametrize("env", ENVS)
def test_rotating_the_proxmox_api_token_updates_the_provider_only(env):
    result, ops = safe_changes(env, "Proxmox API token")
    assert ops == {"proxmox": "update"}
    assert step(result.plan, "proxmox").changed == ["apiToken"]


# --- metrics stack -----------------------------------------------------------------------------------

def job_env(result, name: str) -> dict[str, str]:
    job = next(r for r in result.resources if r["name"] == name)
    spec = result.revealed[job["urn"]]["spec"]["template"]["spec"]
    containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
    return {e["name"]: e.get("value") for c in containers for e in c.get("env", []) if "value" in e}


@pytest.mark.parametrize("env", ENVS)
def test_changing_influxdb_retention_reruns_the_job_that_applies_it(env):
    result, ops = safe_changes(env, "change InfluxDB retention")
    assert ops == {"mtig-influxdb-release": "update", "mtig-influxdb-tokens": "replace"}
    assert job_env(result.after, "mtig-influxdb-tokens")["INFLUX_RETENTION"] == "400d"
    script = (ROOT / "components/mtig/templates/influx-tokens.sh").read_text()
    assert 'influx bucket update --host "$INFLUX_HOST" --id "$bucket_id" --retention "$INFLUX_RETENTION"' in script


@pytest.mark.parametrize("env", ENVS)
def test_renaming_the_bucket_creates_it_and_moves_every_consumer(env):
    result, ops = safe_changes(env, "rename the bucket")
    assert ops == {
        "mtig-influxdb-release": "update", "mtig-influxdb-tokens": "replace",
        "mtig-telegraf-config": "replace", "mtig-telegraf-deployment": "update",
        "mtig-grafana-datasources": "replace", "mtig-grafana-release": "update",
        "proxmox-metrics-server": "update"}  # Proxmox writes its metrics into the bucket
    assert job_env(result.after, "mtig-influxdb-tokens")["INFLUX_BUCKET"] == "sensors-v2"
    script = (ROOT / "components/mtig/templates/influx-tokens.sh").read_text()
    assert "influx bucket create" in script and "influx org create" in script


@pytest.mark.parametrize("env", ENVS)
def test_changing_the_grafana_hostname_updates_its_release_only(env):
    result, ops = safe_changes(env, "change the Grafana hostname")
    assert ops == {"mtig-grafana-release": "update", **dns_record_updates(result.after)}
    assert any("ingress" in p for p in step(result.plan, "mtig-grafana-release").changed)


# --- Incus and Linode ----------------------------------------------------------------------------------

def test_mirkwood_has_no_incus_and_lothlorien_has():
    """The Incus edits below apply to lothlorien only: mirkwood declares no Incus remote."""
    assert "homelab:incus" not in config("mirkwood") and "homelab:incus" in config("lothlorien")


def test_changing_an_incus_snapshot_schedule_updates_the_volume():
    result, ops = safe_changes("lothlorien", "change an Incus volume's snapshot schedule")
    volume = f"incus-{SNAPSHOT_INSTANCE}-data"
    assert ops == {volume: "update"}
    assert step(result.plan, volume).changed == ["config.snapshots.schedule"]


def test_adding_an_incus_instance_creates_it_alone():
    result, ops = safe_changes("lothlorien", "add an Incus instance")
    expected = {f"incus-{NEW_INCUS_INSTANCE}-instance": "create",
                f"{NEW_INCUS_INSTANCE}-host-key": "create",  # its SSH host key, recorded on first contact
                **address_book_changes("lothlorien", result.after)}
    assert ops == expected


@pytest.mark.parametrize("env", ENVS)
def test_adding_a_linode_service_port_updates_its_firewall_only(env):
    result, ops = safe_changes(env, "add a Linode service port")
    name = config(env)["homelab:linode"]["instances"][0]["name"]
    assert ops == {f"{name}-firewall": "update"}


@pytest.mark.parametrize("env,ignored", [("lothlorien", ["authorizedKeys"]),  # provisioned over SSH
                                         ("mirkwood", ["authorizedKeys", "metadatas"])])  # cloud-init
def test_linode_keys_and_user_data_are_not_replace_forcing_inputs(env, ignored):
    """Point 5: `authorized_keys` and `metadata.user_data` are ForceNew in the Linode provider; they
    serve the creation only, and provision.sh over SSH keeps the instance current."""
    result = edited(env, "rotate the operator SSH key")
    linode = next(r for r in result.after.resources if r["type"] == "linode:index/instance:Instance")
    assert linode["options"]["ignore_changes"] == ignored
    assert linode["urn"] not in result.plan.changes()
    name = linode["name"].removesuffix("-instance")
    assert NEW_OPERATOR_KEY in provision_scripts(result.after)[f"{name}-provision"]


# --- machines really replaced -----------------------------------------------------------------------

def test_a_replaced_vm_is_waited_for_provisioned_and_joined_again():
    """Point 3: when a VM is replaced (here: its VMID changes), its readiness check, provisioning and
    k3s commands follow, and the VM itself is deleted before its replacement is created."""
    env = "mirkwood"
    vm = first_agent_vm(env)

    def new_vmid(c):
        next(v for v in c["homelab:proxmox"]["vms"] if v["name"] == vm)["vm_id"] = 7119

    result = day2.plan_edit(env, new_vmid)
    ops = changes(result.plan)
    assert ops[f"{vm}-vm"] == "replace" and step(result.plan, f"{vm}-vm").delete_before_replace
    assert "vmId" in step(result.plan, f"{vm}-vm").reasons[0]
    assert ops[f"{vm}-ready"] == "replace"  # triggers: the new VM's MAC addresses
    assert ops[f"{vm}-provision"] == "replace"  # triggers: the new readiness check
    assert ops[f"{env}-agent-{vm}-sync"] == "update"  # the install re-runs on the new machine
    unknown = step(result.plan, f"{vm}-ready").unknown  # the MAC addresses of a VM not yet created
    assert unknown and all(path.startswith("triggers[0]") for path in unknown)


def test_a_replaced_protected_vm_is_an_error_as_pulumi_reports_it():
    env = "lothlorien"
    vm = first_agent_vm(env)

    def new_vmid(c):
        next(v for v in c["homelab:proxmox"]["vms"] if v["name"] == vm)["vm_id"] = 5119

    result = day2.plan_edit(env, new_vmid)
    errors = result.plan.errors()
    assert len(errors) == 1 and "marked for protection" in errors[0] and f"{vm}-vm" in errors[0]


# --- the README table ----------------------------------------------------------------------------------

DAY2_TABLE = [  # (edit, what it does; checked by the tests above for both environments)
    ("Rotate the operator SSH key", "update: provision.sh re-runs on every VM, LXC container, Linode and onboarded "
     "host, Incus user-data; replace: per-node user-data snippets (same path)"),
    ("Add a base package, change the timezone", "the same as a key rotation: no VM, container or "
     "Linode is replaced"),
    ("Change one VM's address", "update: the VM (cloud-init drive rebuilt, reboot), its commands, "
     "Prometheus; replace: its meta-data snippet (new instance-id)"),
    ("Change one VM's cores and memory", "update: that VM only"),
    ("Add a Proxmox node", "update: the provider; a VM that now belongs on the new node migrates (update)"),
    ("Add a k3s agent", "create: its VM, snippet, commands; update: Prometheus targets"),
    ("Bump the k3s patch version", "update: every server, then every agent (same script, in place)"),
    ("Rotate an MQTT, webhook, PVE exporter or Incus metrics secret", "replace: the Secret; update: "
     "every pod that reads it (checksum annotation)"),
    ("Rotate the InfluxDB tokens or the Grafana admin password", "replace: the Secret; then rotate it in "
     "the service (below)"),
    ("Rotate the Proxmox API token", "update: the provider only"),
    ("Change InfluxDB retention, rename the bucket", "replace: the token Job, which reconciles org, "
     "bucket and retention; update: consumers of a renamed bucket"),
    ("Change the Grafana hostname", "update: the Grafana release"),
    ("Change an Incus volume's snapshot schedule", "update: the volume"),
    ("Add an Incus instance", "create: the instance"),
    ("Add a Linode service port", "update: its firewall only"),
]


def day2_table() -> str:
    lines = ["| edit | what `make plan` shows (both environments) |", "|---|---|"]
    lines += [f"| {edit} | {what} |" for edit, what in DAY2_TABLE]
    return "\n".join(lines)


def test_readme_day2_table_matches_the_suite():
    readme = (ROOT / "README.md").read_text()
    assert day2_table() in readme, "regenerate the README's Day 2 table: python -c 'from tests.test_day2 " \
        "import day2_table; print(day2_table())'"


def test_plan_of_a_side_built_from_json_is_the_same():
    """`make plan` reads the base synth as JSON (another checkout's process): same prediction."""
    result = edited("mirkwood", "change one VM's address")
    import json

    doc = json.loads(json.dumps({"resources": result.before.resources, "revealed": result.before.revealed,
                                 "computed": result.before.computed,
                                 "property_dependencies": result.before.property_dependencies}))
    again = plan(Side.from_dict(doc), result.after, "mirkwood")
    assert again.ops() == result.plan.ops()


@pytest.mark.parametrize("env", ENVS)
def test_the_kubernetes_provider_credential_does_not_expire(env):
    """Point 8: the provider's kubeconfig carries a ServiceAccount token (no client certificate that
    k3s renews on disk), so the copy in the state keeps working after the yearly renewal."""
    result = day2.committed(env)
    provider = next(r for r in result.resources if r["type"] == "pulumi:providers:kubernetes")
    kubeconfig = yaml.safe_load(result.revealed[provider["urn"]]["kubeconfig"])
    assert [set(u["user"]) for u in kubeconfig["users"]] == [{"token"}]
