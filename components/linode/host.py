"""A Linode instance behind its own firewall, provisioned by cloud-init or over SSH, then checked."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_linode as linode
from pulumi_command import remote

from cloudinit.render import CLOUD_INIT_WAIT
from components import hostkey, ssh

TYPE = "homelab:linode:LinodeHost"



@dataclass(frozen=True)
class FirewallRule:
    """An inbound ACCEPT rule: `ports` such as "443" or "80,443" or "8000-8100"."""

    label: str
    protocol: str  # TCP | UDP | ICMP
    sources: tuple[str, ...]  # IPv4 CIDRs
    ports: str | None = None


@dataclass(frozen=True)
class LinodeHostArgs:
    label: str
    region: str
    type: str
    image: str
    authorized_keys: tuple[str, ...]  # root's keys (SSH provisioning connects as root)
    ssh_sources: tuple[str, ...]  # IPv4 CIDRs allowed to SSH
    operator_user: str
    private_key: pulumi.Input[str]  # secret: SSH key for provisioning and the readiness check
    user_data: str | None = None  # cloud-config, delivered through the Metadata service
    provision_script: str | None = None  # else: provision.sh rendered, run over SSH as root
    # With user_data: provision.sh run over SSH as the operator after cloud-init, and again whenever
    # it changes, so that later edits (keys, packages, timezone) reach the instance in place; the
    # user-data then serves the creation only (its change would replace the instance: ForceNew).
    reprovision_script: str | None = None
    services: tuple[FirewallRule, ...] = ()
    private_ip: bool = False
    tags: tuple[str, ...] = ()
    protect: bool = False

    def __post_init__(self) -> None:
        if (self.user_data is None) == (self.provision_script is None):
            raise ValueError(f"{self.label}: give exactly one of user_data (cloud-init) or provision_script (SSH)")
        if self.reprovision_script is not None and self.user_data is None:
            raise ValueError(f"{self.label}: reprovision_script goes with user_data (cloud-init)")


def public_ipv4(addresses: Sequence[str]) -> str:
    """The instance's public IPv4 from its `ipv4s` set (unordered; the private 192.168.128.0/17 excluded)."""
    public = sorted((ip for ip in addresses if not ipaddress.IPv4Address(ip).is_private),
                    key=ipaddress.IPv4Address)
    if not public:
        raise ValueError(f"no public IPv4 among {sorted(addresses)}")
    return public[0]


def firewall_inbounds(args: LinodeHostArgs) -> list[dict]:
    """SSH from the configured ranges, then the declared services, as Linode inbound rules."""
    rules = [{"label": "ssh", "action": "ACCEPT", "protocol": "TCP", "ports": "22",
              "ipv4s": sorted(args.ssh_sources)}]
    for rule in args.services:
        entry = {"label": rule.label, "action": "ACCEPT", "protocol": rule.protocol,
                 "ipv4s": sorted(rule.sources)}
        if rule.ports is not None:
            entry["ports"] = rule.ports
        rules.append(entry)
    return rules


class LinodeHost(pulumi.ComponentResource):
    """Firewall (inbound DROP by default) -> instance -> provisioning/readiness over SSH."""

    instance: linode.Instance
    firewall: linode.Firewall
    public_ip: pulumi.Output[str]
    private_ip: pulumi.Output[str] | None
    host_key: pulumi.Output[str]
    ready: remote.Command

    def __init__(self, name: str, args: LinodeHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = sorted(set(args.tags))

        self.firewall = linode.Firewall(
            f"{name}-firewall",
            label=f"{args.label}-fw",
            inbound_policy="DROP",
            outbound_policy="ACCEPT",
            inbounds=firewall_inbounds(args),
            tags=tags,
            opts=child,
        )
        metadatas = None
        if args.user_data is not None:
            metadatas = [{"user_data": base64.b64encode(args.user_data.encode()).decode()}]
        self.instance = linode.Instance(
            f"{name}-instance",
            label=args.label,
            region=args.region,
            type=args.type,
            image=args.image,
            authorized_keys=list(args.authorized_keys),
            private_ip=args.private_ip,
            tags=tags,
            # Attached at creation, so the instance never boots without its firewall.
            firewall_id=self.firewall.id.apply(int),
            metadatas=metadatas,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # authorized_keys is ForceNew (linode/instance/schema_resource.go): for an instance
                # provisioned over SSH the keys are given at creation only, and provision.sh keeps
                # root's and the operator's keys current from then on (a rotation is an update of
                # the provisioning command, not a new instance).
                # With a reprovision_script, the same holds for the user-data of a cloud-init instance.
                ignore_changes=(["authorizedKeys"] if args.provision_script is not None
                                else ["authorizedKeys", "metadatas"] if args.reprovision_script is not None else []),
                # The label is unique per account: a replacement (new user-data of an instance
                # provisioned by cloud-init) must delete the old instance first.
                delete_before_replace=True,
            ),
        )
        self.public_ip = self.instance.ipv4s.apply(public_ipv4)
        self.private_ip = self.instance.private_ip_address if args.private_ip else None

        # A new instance answers on the internet with keys it generated at first boot: recorded on
        # first contact, pinned for provisioning and every later connection, re-recorded with a new
        # instance.
        self.host_key = hostkey.recorded_host_key(name, self.public_ip, machine=[self.instance], parent=self)

        def login(user: str) -> remote.ConnectionArgs:
            return hostkey.connection(self.public_ip, user, args.private_key, self.host_key)

        if args.provision_script is not None:
            # Script on stdin, same command on update: a changed script re-runs in place (an update),
            # never a replacement; an idempotent script makes the re-run safe.
            self.ready = ssh.command(
                f"{name}-provision",
                connection=login("root"),
                create="bash -s",
                update="bash -s",
                stdin=args.provision_script,
                opts=child,
            )
        else:
            digest = hashlib.sha256(args.user_data.encode()).hexdigest()
            # A new instance (or new user-data, which replaces it) is waited for again.
            self.ready = ssh.command(
                f"{name}-ready",
                connection=login(args.operator_user),
                create=CLOUD_INIT_WAIT,
                triggers=[self.instance.id] if args.reprovision_script is not None else [self.instance.id, digest],
                opts=child,
            )
        self.provision: remote.Command | None = None
        if args.reprovision_script is not None:
            command = ssh.as_root(["bash", "-s"], args.operator_user)
            self.provision = ssh.command(
                f"{name}-provision",
                connection=login(args.operator_user),
                create=command,
                update=command,
                stdin=args.reprovision_script,
                # A new instance is provisioned again; a changed script re-runs as an update.
                triggers=[self.instance.id],
                # SSH as the operator works once cloud-init has created the account.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ready]),
            )
        self.register_outputs({
            "public_ip": self.public_ip,
            "private_ip": self.private_ip,
            "instance_id": self.instance.id,
            "firewall_id": self.firewall.id,
        })
