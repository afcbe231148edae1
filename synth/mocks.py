"""Realistic outputs for every resource type the program registers, under Pulumi's mocks.

OUTPUTS maps a type token to a function of (inputs, name) returning the provider-computed outputs
(camelCase, as the engine would return them). Inputs are echoed back as the state's base.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

Outputs = Callable[[dict[str, Any], str], dict[str, Any]]


def stable_int(*parts: str, modulo: int) -> int:
    """A deterministic number from names, for addresses and ids that must not change between runs."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % modulo


# An OUTPUTS entry may give the provider's id (e.g. Linode's numeric ids) under ID_KEY.
ID_KEY = "__id"


def _proxmox_vm(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    """What the guest agent reports: loopback first, then the configured or a DHCP-leased address."""
    ipv4 = "dhcp"
    for config in (inputs.get("initialization") or {}).get("ipConfigs") or []:
        ipv4 = ((config or {}).get("ipv4") or {}).get("address") or ipv4
    address = f"10.99.{stable_int(name, 'net', modulo=250) + 1}.{stable_int(name, 'host', modulo=250) + 2}" \
        if ipv4 == "dhcp" else ipv4.split("/", 1)[0]
    mac = "BC:24:11:" + ":".join(f"{stable_int(name, str(i), modulo=256):02X}" for i in range(3))
    started = inputs.get("started", True) and not inputs.get("template", False)
    return {
        "vmId": inputs.get("vmId") or 100 + stable_int(name, modulo=900),
        "ipv4Addresses": [["127.0.0.1"], [address]] if started else [],
        "ipv6Addresses": [["::1"], []] if started else [],
        "macAddresses": ["00:00:00:00:00:00", mac] if started else [],
        "networkInterfaceNames": ["lo", "eth0"] if started else [],
    }


def _proxmox_container(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    init = inputs.get("initialization") or {}
    ipv4 = (((init.get("ipConfigs") or [{}])[0] or {}).get("ipv4") or {}).get("address") or "dhcp"
    address = f"10.99.{stable_int(name, 'net', modulo=250) + 1}.{stable_int(name, 'host', modulo=250) + 2}" \
        if ipv4 == "dhcp" else ipv4.split("/", 1)[0]
    return {"vmId": inputs.get("vmId") or 100 + stable_int(name, modulo=900), "ipv4": {"eth0": address},
            "ipv6": {}}


def _proxmox_download(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    file_name = inputs.get("fileName") or str(inputs.get("url", name)).rsplit("/", 1)[-1]
    return {ID_KEY: f"{inputs.get('datastoreId')}:{inputs.get('contentType')}/{file_name}",
            "size": 400_000_000 + stable_int(name, modulo=200_000_000)}


def _proxmox_snippet(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    source = inputs.get("sourceRaw") or {}
    data = source.get("data") if isinstance(source.get("data"), str) else ""
    return {
        ID_KEY: f"{inputs.get('datastoreId')}:{inputs.get('contentType', 'snippets')}/{source.get('fileName') or name}",
        "fileName": source.get("fileName") or name,
        "fileSize": len(data.encode()),
        "fileModificationDate": "2026-01-01T00:00:00Z",
        "fileTag": hashlib.sha256(data.encode()).hexdigest()[:16],
    }


OUTPUTS: dict[str, Outputs] = {
    "proxmoxve:index/vmLegacy:VmLegacy": _proxmox_vm,
    "proxmoxve:index/containerLegacy:ContainerLegacy": _proxmox_container,
    "proxmoxve:download/file:File": _proxmox_download,
    "proxmoxve:index/fileLegacy:FileLegacy": _proxmox_snippet,
}
CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}

# Other stacks of this project as `pulumi stack output --json` shows them (secrets as "[secret]").
STACK_FIXTURES = Path(__file__).parent / "fixtures" / "stacks"


def stack_reference(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    """A StackReference read (`organization/homelab/<stack>`): that stack's outputs from its fixture."""
    full = str(inputs.get("name") or name)
    path = STACK_FIXTURES / f"{full.rsplit('/', 1)[-1]}.json"
    if not path.exists():
        raise ValueError(f"no outputs fixture for stack reference {full!r}: add {path}")
    outputs = json.loads(path.read_text())
    secret = sorted(key for key, value in outputs.items() if '"[secret]"' in json.dumps(value))
    return {"name": full, "outputs": outputs, "secretOutputNames": secret}


OUTPUTS["pulumi:pulumi:StackReference"] = stack_reference


class HomelabMocks(pulumi.runtime.Mocks):
    """Echo inputs and add the outputs a real provider would compute."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        outputs = OUTPUTS.get(args.typ)
        if outputs is not None:
            state.update(outputs(args.inputs, args.name))
        # An OUTPUTS entry may give the provider's id (e.g. Linode's numeric ids) under ID_KEY.
        resource_id = args.resource_id or state.pop(ID_KEY, None) or f"{args.name}-id"
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        handler = CALLS.get(args.token)
        return handler(args.args) if handler else {}


# --- k3s (components/k3s) -------------------------------------------------------------------------

K3S_KUBECONFIG_PATH = "/etc/rancher/k3s/k3s.yaml"
K3S_SERVER_TOKEN_PATH = "/var/lib/rancher/k3s/server/token"


def k3s_ca_prefix(name: str) -> str:
    """What the first server's token file starts with: K10 and the SHA-256 of its (stand-in) CA."""
    return "K10" + hashlib.sha256(_pem("CERTIFICATE", name, "server-ca").encode()).hexdigest()


K3S_PROVIDER_TOKEN_SECRET = "homelab-pulumi-token"


def _pem(kind: str, *parts: str) -> str:
    """A PEM block with a deterministic body: looks like k3s' material, is no real key."""
    import base64

    body = base64.b64encode(hashlib.sha512("/".join(parts).encode()).digest() * 2).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""])


def k3s_kubeconfig(name: str) -> str:
    """/etc/rancher/k3s/k3s.yaml as k3s writes it on a server: 127.0.0.1 and `default` everywhere."""
    import base64

    import yaml

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "default", "cluster": {
            "certificate-authority-data": b64(_pem("CERTIFICATE", name, "server-ca")),
            "server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "users": [{"name": "default", "user": {
            "client-certificate-data": b64(_pem("CERTIFICATE", name, "client-admin")),
            "client-key-data": b64(_pem("EC PRIVATE KEY", name, "client-admin-key"))}}],
    }, sort_keys=False)


_OTHER_REMOTE_COMMAND = OUTPUTS.get("command:remote:Command")


def _k3s_remote_command(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    """The kubeconfig read gets k3s.yaml; any other command what the other layers' entry says."""
    create = inputs.get("create")
    if isinstance(create, str) and create.split()[-1:] == [K3S_KUBECONFIG_PATH]:
        return {"stdout": k3s_kubeconfig(name), "stderr": ""}
    if isinstance(create, str) and create.split()[-1:] == [K3S_SERVER_TOKEN_PATH]:
        return {"stdout": k3s_ca_prefix(name) + "\n", "stderr": ""}
    if isinstance(create, str) and K3S_PROVIDER_TOKEN_SECRET in create:
        # components/k3s/scripts/provider-credential.sh: k3s.yaml, then the ServiceAccount token
        token = "eyJhbGciOiJSUzI1NiJ9." + hashlib.sha256(f"sa-token/{name}".encode()).hexdigest()
        return {"stdout": f"{k3s_kubeconfig(name)}---\ntoken: {token}\n", "stderr": ""}
    return _OTHER_REMOTE_COMMAND(inputs, name) if _OTHER_REMOTE_COMMAND else {"stdout": "", "stderr": ""}


def _random_password(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    length = int(inputs.get("length", 16))
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    seed = hashlib.sha256(f"random-password/{name}".encode()).digest() * 8
    result = "".join(alphabet[b % len(alphabet)] for b in seed[:length])
    return {"result": result, "bcryptHash": "$2a$10$" + hashlib.sha256(result.encode()).hexdigest()[:53]}


def random_bytes(name: str, length: int) -> bytes:
    """What the mock RandomBytes `name` holds: deterministic, distinct per name."""
    return (hashlib.sha256(f"random-bytes/{name}".encode()).digest() * 8)[:length]


def _random_bytes(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    import base64

    data = random_bytes(name, int(inputs.get("length", 32)))
    return {"base64": base64.b64encode(data).decode(), "hex": data.hex()}


OUTPUTS["random:index/randomBytes:RandomBytes"] = _random_bytes
OUTPUTS["command:remote:Command"] = _k3s_remote_command  # wraps an entry registered before it
OUTPUTS["random:index/randomPassword:RandomPassword"] = _random_password

# ---- incus (components/incus/binding.py): what the lxc/incus provider computes -------------------

def _incus_devices(inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d.get("name"): d for d in inputs.get("devices") or [] if isinstance(d, dict)}


def _incus_instance(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    nic = (_incus_devices(inputs).get("eth0") or {}).get("properties") or {}
    n = stable_int(name, "incus", modulo=250 * 250)
    # A static address is what Incus reports; otherwise a DHCP lease the mock cannot know: a stand-in.
    address = nic.get("ipv4.address") or f"10.255.{n // 250}.{n % 250 + 2}"
    mac = stable_int(name, "mac", modulo=1 << 24)
    return {"ipv4Address": address, "ipv6Address": "", "macAddress": f"10:66:6a:{mac >> 16:02x}:"
            f"{(mac >> 8) & 0xff:02x}:{mac & 0xff:02x}", "status": "Running",
            "target": inputs.get("target") or "", "type": inputs.get("type") or "container"}


def _incus_storage_volume(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"location": inputs.get("target") or "", "type": inputs.get("type") or "custom",
            "contentType": inputs.get("contentType") or "filesystem"}


def _incus_network(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"managed": True, "type": inputs.get("type") or "bridge"}


OUTPUTS.update({
    "incus:index/instance:Instance": _incus_instance,
    "incus:index/storageVolume:StorageVolume": _incus_storage_volume,
    "incus:index/network:Network": _incus_network,
    "incus:index/profile:Profile": lambda inputs, name: {"config": inputs.get("config") or {}},
})


def _kubernetes_service(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    """A Service gets a cluster IP; a LoadBalancer one an address from k3s' service load balancer."""
    spec = dict(inputs.get("spec") or {})
    spec.setdefault("clusterIP", f"10.43.{stable_int(name, 'svc', modulo=250)}.{stable_int(name, 'ip', modulo=250) + 2}")
    status: dict[str, Any] = {"loadBalancer": {}}
    if spec.get("type") == "LoadBalancer":
        status = {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{stable_int(name, 'lb', modulo=250) + 2}"}]}}
    return {"spec": spec, "status": status}


OUTPUTS["kubernetes:core/v1:Service"] = _kubernetes_service


# --- Linode instances and firewalls, remote commands (hosts layer) -----------------------------

def _linode_id(kind: str, name: str) -> str:
    return str(10_000_000 + stable_int(kind, name, modulo=89_999_999))


def _linode_instance(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    public = f"172.{232 + stable_int('public', name, modulo=8)}.{stable_int('b', name, modulo=256)}.{1 + stable_int('c', name, modulo=254)}"
    outputs: dict[str, Any] = {
        ID_KEY: _linode_id("instance", name),
        "status": "running",
        "ipv4s": [public],
        "ipAddress": public,  # deprecated by the provider; the program reads ipv4s
        "ipv6": f"2600:3c00::f03c:{stable_int('v6', name, modulo=65536):x}:1/128",
        "backupsEnabled": False,
        "hasUserData": bool(inputs.get("metadatas")),
        "specs": [{"disk": 81920, "memory": 4096, "transfer": 4000, "vcpus": 2}],
    }
    if inputs.get("privateIp"):
        private = f"192.168.{128 + stable_int('p', name, modulo=128)}.{1 + stable_int('q', name, modulo=254)}"
        outputs["privateIpAddress"] = private
        # The provider returns ipv4s as a set: order is not guaranteed (private first here on purpose).
        outputs["ipv4s"] = [private, public]
    return outputs


def _linode_firewall(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {ID_KEY: _linode_id("firewall", name), "status": "enabled", "devices": []}


def _remote_command(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"stdout": "", "stderr": ""}


OUTPUTS["linode:index/instance:Instance"] = _linode_instance
OUTPUTS["linode:index/firewall:Firewall"] = _linode_firewall
OUTPUTS.setdefault("command:remote:Command", _remote_command)


# --- SSH host keys recorded on first contact (components/hostkey) ---------------------------------

def fake_host_key(name: str, key_type: str = "ssh-ed25519") -> str:
    """What ssh-keyscan would print for a host: an ed25519 public key line, deterministic per name."""
    import base64
    import struct

    body = hashlib.sha256(f"host-key/{name}".encode()).digest()
    blob = struct.pack(">I", len(key_type)) + key_type.encode() + struct.pack(">I", len(body)) + body
    return f"{key_type} {base64.b64encode(blob).decode()}"


def _local_command(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    environment = inputs.get("environment") or {}
    if environment.get("KEY_TYPE"):
        return {"stdout": fake_host_key(name, environment["KEY_TYPE"]) + "\n", "stderr": ""}
    return {"stdout": "", "stderr": ""}


OUTPUTS["command:local:Command"] = _local_command


# ---- tls (components/ca): what the tls provider computes --------------------------------------------

def _tls_private_key(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"privateKeyPem": _pem("EC PRIVATE KEY", "tls", name), "publicKeyPem": _pem("PUBLIC KEY", "tls", name)}


def _tls_self_signed_cert(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"certPem": _pem("CERTIFICATE", "tls", name)}


OUTPUTS["tls:index/privateKey:PrivateKey"] = _tls_private_key
OUTPUTS["tls:index/selfSignedCert:SelfSignedCert"] = _tls_self_signed_cert


def _tls_cert_request(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {"certRequestPem": _pem("CERTIFICATE REQUEST", "tls", name)}


OUTPUTS["tls:index/certRequest:CertRequest"] = _tls_cert_request
OUTPUTS["tls:index/locallySignedCert:LocallySignedCert"] = _tls_self_signed_cert
