"""A k3s cluster installed over SSH on hosts that already exist (VMs of this program or onboarded).

Join graph:
- the first server initialises the cluster (embedded etcd, `cluster-init`);
- the other servers join it one at a time, each after the previous one (etcd grows one member at a
  time; the same chain makes a version change upgrade the servers one by one);
- each agent has a `-join` command that depends only on the first server's readiness (agents join
  in parallel, never waiting for another agent), and a `-sync` command that depends on its join and
  on the last server: it converges the agent to the pinned version and settings, so a version
  change upgrades every server first, then the agents — as updates of the same commands, nothing
  is replaced.

Tokens travel on stdin only (secret Outputs); scripts are rendered per node from
components/k3s/scripts/*.j2. Deleting a node's command runs the matching uninstall script.

Tokens (docs.k3s.io/cli/token): servers hold the server token (full cluster admin) and the agent
token (`agent-token-file`); agents hold only the agent token. The first server starts with the short
server token (the CA does not exist before it); a `-ca-hash` command then reads `K10<CA hash>` from
its token file, and every later join uses the secure format `K10<hash>::server:<password>` or
`K10<hash>::node:<agent password>`, so a joining node checks the cluster's CA before it sends a
password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_command import remote

from components import ssh
from components.k3s import render, vip as kube_vip

TYPE = "homelab:k3s:Cluster"
# Runs when an agent's join command changes: the `-sync` command does the converging.
NOOP = "true"


@dataclass(frozen=True)
class K3sNode:
    name: str  # node name in Kubernetes, the host's name
    address: pulumi.Input[str]  # reachable over SSH from where Pulumi runs
    ssh_user: str
    connection: pulumi.Input[remote.ConnectionArgs]
    cluster_address: pulumi.Input[str] | None = None  # used between nodes; defaults to address
    ready: Sequence[pulumi.Resource] = ()  # the host is provisioned once these exist
    # Resources re-created exactly when the machine is (a VM's readiness check, a container):
    # their new ids re-run the install on a replaced machine (render.with_generation).
    machine: Sequence[pulumi.CustomResource] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[str] = ()
    flannel_iface: str | None = None  # the interface flannel uses on this node (default: k3s picks)

    def inner_address(self) -> pulumi.Input[str]:
        return self.cluster_address if self.cluster_address is not None else self.address


@dataclass(frozen=True)
class ClusterArgs:
    version: str
    servers: Sequence[K3sNode]
    agents: Sequence[K3sNode] = ()
    cluster_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    disable: Sequence[str] = ()
    tls_san: Sequence[str] = ()
    vip: str | None = None  # announced by kube-vip (ARP) on the servers; joins and the kubeconfig use it
    vip_interface: str | None = None  # default: the interface of the servers' default route
    token: pulumi.Input[str] | None = None  # secret; generated once and kept in state when None
    agent_token: pulumi.Input[str] | None = None  # secret; the agents' own, generated like token
    protect_servers: bool = False  # production: a server (etcd member) is not removed by accident
    snapshots: render.EtcdSnapshots | None = None  # scheduled etcd snapshots (and their S3 copy)
    s3_access_key: pulumi.Input[str] | None = None  # secret; needed when snapshots.s3 is set
    s3_secret_key: pulumi.Input[str] | None = None  # secret
    ready_timeout: int = render.DEFAULT_READY_TIMEOUT
    server_args: Sequence[str] = ()  # extra `k3s server` flags (flags.arg_problem), on every server
    agent_args: Sequence[str] = ()  # extra `k3s agent` flags, on every agent
    flannel_backend: str | None = None
    # Secret: postgres://... or mysql://... (render.datastore_endpoint). Set: every server uses the
    # external datastore (no embedded etcd, no cluster-init), any number of servers.
    datastore_endpoint: pulumi.Input[str] | None = None
    registries: pulumi.Input[str] | None = None  # secret registries.yaml text (render.registries_yaml)
    airgap: render.Airgap | None = None


class Cluster(pulumi.ComponentResource):
    api_endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    version: str
    server_commands: dict[str, remote.Command]
    agent_commands: dict[str, remote.Command]  # the `-sync` command: Ready at the pinned version
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        if not args.servers:
            raise ValueError(f"k3s cluster {name}: at least one server is needed")
        if not render.is_release_tag(args.version):
            raise ValueError(f"k3s cluster {name}: {args.version!r} is not a release tag such as v1.31.4+k3s1")
        child = pulumi.ResourceOptions(parent=self)
        self.version = args.version

        token = self._secret_or_generated(f"{name}-token", args.token, child)
        agent_token = self._secret_or_generated(f"{name}-agent-token", args.agent_token, child)

        settings = render.ServerSettings(
            cluster_cidr=args.cluster_cidr,
            service_cidr=args.service_cidr,
            disable=tuple(args.disable),
            tls_san=tuple(args.tls_san),
            flannel_backend=args.flannel_backend,
            external_datastore=args.datastore_endpoint is not None,
            extra_args=tuple(args.server_args),
            snapshots=args.snapshots,
        )
        credentials = self._s3_credentials(name, args)
        # Files that may hold credentials reach the nodes on stdin with the token, never in a script.
        # A server's files include the agents' token (k3s agent-token-file); agents never get the
        # server token.
        server_files = {**self._secret_files(args, server=True), render.AGENT_TOKEN_FILE: agent_token}
        agent_files = self._secret_files(args, server=False)
        # Every server answers on its SSH address and on its address inside the cluster network.
        san_addresses = pulumi.Output.all(
            *[addr for node in args.servers for addr in (node.inner_address(), node.address)]
        )
        first = args.servers[0]
        # With a VIP every join goes through it (k3s's fixed registration address), so losing the
        # first server does not strand the others; without one, through the first server.
        join_address = pulumi.Output.from_input(args.vip if args.vip else first.inner_address())
        manifests = {kube_vip.MANIFEST_FILE: kube_vip.manifest(args.vip, args.vip_interface)} if args.vip else {}

        self.server_commands = {}
        previous: remote.Command | None = None
        ca_prefix: pulumi.Output[str] | None = None
        for index, node in enumerate(args.servers):
            settings_node = render.NodeSettings(node.name, "server", dict(node.labels), tuple(node.taints),
                                                flannel_iface=node.flannel_iface)
            is_first = index == 0
            script = pulumi.Output.all(san_addresses, join_address).apply(
                lambda values, n=settings_node, init=is_first: render.install_script(
                    n,
                    args.version,
                    render.server_config(n, settings, values[0], None if init else values[1]),
                    args.ready_timeout,
                    manifests=manifests,
                    wait_address=args.vip,
                    secret_files=tuple(server_files),
                    airgap=args.airgap,
                )
            )
            # The host must be provisioned first (data does not say so); a joining server waits for
            # the previous one so etcd grows one member at a time and upgrades go server by server.
            depends = [*node.ready, *([previous] if previous is not None else [])]
            # The first server starts with the short token; joiners with the secure one.
            server_token = token if ca_prefix is None else pulumi.Output.all(ca_prefix, token).apply(
                lambda values: render.secure_token(values[0], render.SERVER_USER, values[1]))
            server_stdin = self._stdin(pulumi.Output.secret(server_token), server_files)
            if args.snapshots is not None:
                # The S3 credentials drop-in must exist before k3s starts with etcd-s3 set.
                depends.append(self._etcd_backup(f"{name}-server-{node.name}-etcd-backup", node, is_first,
                                                 credentials))
            previous = self._node_command(
                f"{name}-server-{node.name}",
                node,
                settings_node,
                script,
                server_stdin,
                pulumi.ResourceOptions(parent=self, depends_on=depends, protect=args.protect_servers),
            )
            self.server_commands[node.name] = previous
            if ca_prefix is None:
                ca_prefix = self._ca_prefix(name, first, previous)
        first_server = self.server_commands[first.name]
        last_server = previous
        assert ca_prefix is not None
        node_token = pulumi.Output.secret(pulumi.Output.all(ca_prefix, agent_token).apply(
            lambda values: render.secure_token(values[0], render.AGENT_USER, values[1])))
        agent_stdin = self._stdin(node_token, agent_files)

        self.agent_commands = {}
        for node in args.agents:
            settings_node = render.NodeSettings(node.name, "agent", dict(node.labels), tuple(node.taints),
                                                flannel_iface=node.flannel_iface, extra_args=tuple(args.agent_args))
            command = pulumi.Output.all(join_address, _generation(node)).apply(
                lambda values, n=settings_node, u=node.ssh_user: render.remote_command(
                    render.with_generation(render.install_script(
                        n, args.version, render.agent_config(n, values[0]), args.ready_timeout,
                        secret_files=tuple(agent_files), airgap=args.airgap), values[1]), u
                )
            )
            uninstall = render.remote_command(render.uninstall_script(settings_node), node.ssh_user)
            join = ssh.command(
                f"{name}-agent-{node.name}-join",
                connection=node.connection,
                create=command,
                update=NOOP,
                delete=uninstall,
                stdin=agent_stdin,
                # Joins once at the version of the day; later versions and settings reach the agent
                # through its -sync command, after every server.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # The host must be provisioned and the first server Ready before an agent can
                    # join; the script only carries the first server's address, not its readiness.
                    depends_on=[*node.ready, first_server],
                    ignore_changes=["create"],
                ),
            )
            self.agent_commands[node.name] = ssh.command(
                f"{name}-agent-{node.name}-sync",
                connection=node.connection,
                create=command,
                update=command,
                stdin=agent_stdin,
                # After its own join, and after the last server so that a version change upgrades
                # every server before any agent (k3s upgrade order).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[join, last_server]),
            )

        self.ready = [*self.server_commands.values(), *self.agent_commands.values()]

        # A ServiceAccount token, not k3s.yaml's admin certificate: k3s renews that certificate on
        # disk about yearly and a copy kept in the state would fail with x509 errors (day 2).
        read = render.provider_credential_command(first.ssh_user)
        kubeconfig_read = ssh.command(
            f"{name}-kubeconfig",
            connection=first.connection,
            create=read,
            update=read,
            logging=remote.Logging.NONE,
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["stdout"],
                # k3s.yaml exists once the first server is installed (and, with a VIP, once the VIP
                # answers): the provider built from it need not wait for other servers or agents.
                depends_on=[first_server],
            ),
        )
        endpoint = pulumi.Output.from_input(args.vip if args.vip else first.address)
        self.api_endpoint = endpoint.apply(render.server_url)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(kubeconfig_read.stdout, self.api_endpoint).apply(
                lambda values: render.token_kubeconfig(values[0], values[1], name)
            )
        )
        self.provider = k8s.Provider(f"{name}-provider", kubeconfig=self.kubeconfig, opts=child)
        self.register_outputs(
            {"api_endpoint": self.api_endpoint, "kubeconfig": self.kubeconfig, "version": self.version}
        )

    @staticmethod
    def _secret_or_generated(resource_name: str, given: pulumi.Input[str] | None,
                             opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
        if given is None:
            given = random.RandomPassword(resource_name, length=48, special=False, opts=opts).result
        return pulumi.Output.secret(given)

    def _ca_prefix(self, name: str, first: K3sNode, first_server: remote.Command) -> pulumi.Output[str]:
        """`K10<cluster CA hash>` read from the first server once it runs (not a secret: a hash of
        the CA certificate); the joins that use it wait for it through their stdin."""
        read = render.read_ca_prefix_command(first.ssh_user)
        command = ssh.command(
            f"{name}-ca-hash",
            connection=first.connection,
            create=read,
            update=read,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The token file exists once the first server has started: no data says so.
                depends_on=[first_server],
            ),
        )
        return command.stdout.apply(lambda text: text.strip())

    @staticmethod
    def _secret_files(args: ClusterArgs, server: bool) -> dict[str, pulumi.Input[str]]:
        """Path -> (secret) content of the files a node of this role gets on stdin."""
        files: dict[str, pulumi.Input[str]] = {}
        if server and args.datastore_endpoint is not None:
            files[render.DATASTORE_DROP_IN] = pulumi.Output.from_input(args.datastore_endpoint).apply(
                render.datastore_drop_in)
        if args.registries is not None:
            files[render.REGISTRIES_FILE] = args.registries
        return files

    @staticmethod
    def _stdin(token: pulumi.Output[str], files: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]:
        """The token alone, or the token and the secret files (render.stdin_payload), as a secret."""
        if not files:
            return token
        paths = sorted(files)
        return pulumi.Output.secret(pulumi.Output.all(token, *[files[p] for p in paths]).apply(
            lambda values: render.stdin_payload(values[0], dict(zip(paths, values[1:])))))

    @staticmethod
    def _s3_credentials(name: str, args: ClusterArgs) -> pulumi.Output[str] | None:
        if args.snapshots is None or args.snapshots.s3 is None:
            return None
        if args.s3_access_key is None or args.s3_secret_key is None:
            raise ValueError(f"k3s cluster {name}: etcd snapshots go to S3 but the S3 credentials are missing")
        return pulumi.Output.secret(
            pulumi.Output.all(args.s3_access_key, args.s3_secret_key).apply(
                lambda keys: render.s3_credentials_yaml(keys[0], keys[1])
            )
        )

    def _etcd_backup(self, resource_name: str, node: K3sNode, first: bool,
                     credentials: pulumi.Output[str] | None) -> remote.Command:
        """Restore script on the server and the S3 credentials drop-in, credentials on stdin only."""
        script = render.etcd_backup_script(node.name, first, s3=credentials is not None)
        command = render.remote_command(script, node.ssh_user)
        cleanup = render.remote_command(render.etcd_backup_remove_script(node.name), node.ssh_user)
        return ssh.command(
            resource_name,
            connection=node.connection,
            create=command,
            update=command,
            delete=cleanup,
            stdin=credentials,
            # The host must be provisioned first; nothing in the data says so.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(node.ready)),
        )

    def _node_command(
        self,
        resource_name: str,
        node: K3sNode,
        settings: render.NodeSettings,
        script: pulumi.Output[str],
        stdin: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> remote.Command:
        command = pulumi.Output.all(script, _generation(node)).apply(
            lambda values: render.remote_command(render.with_generation(values[0], values[1]), node.ssh_user))
        return ssh.command(
            resource_name,
            connection=node.connection,
            # update = create: a new version or changed settings re-run the same idempotent script as
            # an update (the upgrade path), never a replacement.
            create=command,
            update=command,
            delete=render.remote_command(render.uninstall_script(settings), node.ssh_user),
            stdin=stdin,
            opts=opts,
        )


def _generation(node: K3sNode) -> pulumi.Output[list[str]]:
    """The ids of the node's machine resources: new ones mean a new machine (render.with_generation)."""
    return pulumi.Output.all(*(r.id for r in node.machine))
