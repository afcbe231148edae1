"""A small resources.json in the synth's shape, for the critical-path and graph tests.

Shaped like what the program registers (Proxmox image -> template -> clones with cloud-init
snippets; k3s server and agents over SSH; a Kubernetes provider from the kubeconfig; a chart), so
the latency rules are exercised on the real type tokens. Tests on the real program's synth sit
next to the tests that use this.
"""

from __future__ import annotations

from typing import Any

STACK = "mirkwood"
PROJECT = "homelab"


def urn(type_chain: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_chain}::{name}"


class Builder:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.stack = self.add("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}", parent=None)

    def add(self, type_: str, name: str, parent: str | None = "stack", deps=(), provider=None,
            inputs=None, custom: bool | None = None) -> str:
        parent_urn = self.stack if parent == "stack" else parent
        chain = type_
        if parent_urn:
            parent_chain = parent_urn.split("::")[2]
            chain = f"{parent_chain}${type_}" if parent_chain != "pulumi:pulumi:Stack" else type_
        u = urn(chain, name)
        entry: dict[str, Any] = {
            "type": type_, "name": name, "urn": u, "parent": parent_urn,
            "provider": f"{provider}::00000000-id" if provider else None,
            "dependencies": sorted(deps), "options": {}, "inputs": inputs or {},
        }
        if custom is not None:
            entry["custom"] = custom
        self.entries.append(entry)
        return u


def cluster(agents: int = 2, vms: int = 0) -> list[dict[str, Any]]:
    """One server VM + `agents` agent VMs + `vms` plain VMs, k3s on the first ones, one chart."""
    b = Builder()
    pve = b.add("pulumi:providers:proxmoxve", "pve")
    tpl_comp = b.add("homelab:proxmox:VmTemplate", "rocky9")
    image = b.add("proxmoxve:download/file:File", "rocky9-image", parent=tpl_comp, provider=pve,
                  inputs={"contentType": "import", "url": "https://example.org/rocky9.qcow2"})
    template = b.add("proxmoxve:index/vmLegacy:VmLegacy", "rocky9-template", parent=tpl_comp, provider=pve,
                     deps=[image], inputs={"template": True, "vmId": 9000})

    def vm(name: str) -> str:
        comp = b.add("homelab:proxmox:Vm", name)
        snippet = b.add("proxmoxve:index/fileLegacy:FileLegacy", f"{name}-user-data", parent=comp,
                        provider=pve, inputs={"contentType": "snippets"})
        return b.add("proxmoxve:index/vmLegacy:VmLegacy", f"{name}-vm", parent=comp, provider=pve,
                     deps=[template, snippet], inputs={"clone": {"vmId": 9000}})

    server_vm = vm("k3s-server-1")
    k3s = b.add("homelab:k3s:Cluster", "k3s")
    server = b.add("command:remote:Command", "k3s-server-1-install", parent=k3s, deps=[server_vm],
                   inputs={"create": "sh /tmp/install-k3s.sh server --cluster-init"})
    for i in range(1, agents + 1):
        agent_vm = vm(f"k3s-agent-{i}")
        b.add("command:remote:Command", f"k3s-agent-{i}-install", parent=k3s, deps=[agent_vm, server],
              inputs={"create": "sh /tmp/install-k3s.sh agent"})
    for i in range(1, vms + 1):
        vm(f"app-{i}")
    kube = b.add("pulumi:providers:kubernetes", "k3s-provider", parent=k3s, deps=[server])
    mtig = b.add("homelab:mtig:Stack", "mtig")
    b.add("kubernetes:helm.sh/v3:Release", "mtig-influxdb", parent=mtig, provider=kube,
          inputs={"chart": "influxdb2"})
    b.add("kubernetes:core/v1:Namespace", "mtig-ns", parent=mtig, provider=kube,
          inputs={"metadata": {"name": "mtig"}})
    return b.entries
