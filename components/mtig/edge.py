"""An edge Mosquitto broker on a host (VM, LXC, Incus instance, onboarded machine alike) for
sensors outside the cluster: the cluster broker's users, ACL and `$7$` password hashing
(components/mtig/render.py), TLS on 8883 with a certificate from the lab CA, plain MQTT on
localhost only. Installed over SSH from the distribution's package (Debian `mosquitto`; Rocky
`mosquitto` from EPEL, which base provisioning enables); the script arrives on stdin with the
password file and TLS key inside, so nothing secret is in a command line or in the state in clear.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import jinja2
import pulumi
import pulumi_random as random
from pulumi_command import remote

from components import ssh
from components.mtig import render

TYPE = "homelab:mtig:EdgeBroker"
TLS_PORT = 8883
PORT = 1883
DELIMITERS = ("HOMELAB_MQTT_CONF", "HOMELAB_MQTT_ACL", "HOMELAB_MQTT_PASSWD", "HOMELAB_MQTT_CERT",
              "HOMELAB_MQTT_KEY", "HOMELAB_MQTT_CA")
#: Where the distributions' mosquitto package reads its config (both run `mosquitto -c` on it).
PATHS = render.MosquittoPaths(
    password_file="/etc/mosquitto/passwd",
    acl_file="/etc/mosquitto/acl",
    data_dir="/var/lib/mosquitto/",
    certfile="/etc/mosquitto/certs/tls.crt",
    keyfile="/etc/mosquitto/certs/tls.key",
)
CONFIG_FILE = "/etc/mosquitto/mosquitto.conf"
CA_FILE = "/etc/mosquitto/certs/ca.crt"
INSTALL = {"debian": "apt", "rhel": "dnf"}

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
    trim_blocks=True, lstrip_blocks=True,
)
_ENV.filters["q"] = lambda value: shlex.quote(str(value))


def edge_conf() -> str:
    """mosquitto.conf of an edge broker: TLS for everyone, plain MQTT for the host itself."""
    return render.mosquitto_conf(port=PORT, tls=True, tls_port=TLS_PORT, paths=PATHS, plain_bind_address="127.0.0.1")


def install_script(family: str, users: Sequence[render.MqttUser], passwords: Mapping[str, str],
                   salts: Mapping[str, str], cert_pem: str, key_pem: str, ca_pem: str) -> str:
    """The idempotent install script, secrets inside (it travels on stdin only)."""
    files = {
        "conf": edge_conf(),
        "acl": render.acl_file(users),
        "passwd": render.password_file(passwords, salts),
        "cert": cert_pem,
        "key": key_pem,
        "ca": ca_pem,
    }
    for text in files.values():
        if any(d in text for d in DELIMITERS):
            raise ValueError("an edge broker file contains a heredoc delimiter")
    return _ENV.get_template("edge-install.sh.j2").render(
        install=INSTALL[family], paths=PATHS, config_file=CONFIG_FILE, ca_file=CA_FILE,
        files={k: v.rstrip("\n") for k, v in files.items()}, tls_port=TLS_PORT)


@dataclass(frozen=True)
class EdgeBrokerArgs:
    connection: pulumi.Input[remote.ConnectionArgs]
    ssh_user: str
    family: str  # debian | rhel
    users: Sequence[render.MqttUser]
    passwords: Mapping[str, pulumi.Input[str]]  # secrets
    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]  # secret
    ca_pem: pulumi.Input[str]
    ready: Sequence[pulumi.Resource] = ()


class EdgeBroker(pulumi.ComponentResource):
    command: remote.Command

    def __init__(self, name: str, args: EdgeBrokerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        if args.family not in INSTALL:
            raise ValueError(f"{name}: no mosquitto package mapping for family {args.family!r}")
        names = sorted(args.passwords)
        # One random salt per user, created once and kept in the state (as the cluster broker's).
        salts = [random.RandomBytes(f"{name}-salt-{n}", length=render.SALT_BYTES,
                                    opts=pulumi.ResourceOptions(parent=self)).base64 for n in names]
        script = pulumi.Output.secret(pulumi.Output.all(
            pulumi.Output.all(*[args.passwords[n] for n in names]), pulumi.Output.all(*salts),
            args.cert_pem, args.key_pem, args.ca_pem,
        ).apply(lambda v: install_script(args.family, args.users, dict(zip(names, v[0])), dict(zip(names, v[1])),
                                         v[2], v[3], v[4])))
        command = ssh.as_root(["bash", "-s"], args.ssh_user)
        self.command = ssh.command(
            f"{name}-mosquitto",
            connection=args.connection,
            create=command,
            update=command,
            delete=ssh.as_root(["systemctl", "disable", "--now", "mosquitto"], args.ssh_user),
            stdin=script,
            logging=remote.Logging.STDERR,
            # The host must be provisioned (operator account, EPEL on Rocky) first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready)),
        )
        self.register_outputs({})
