"""Pure renderers for the MTIG stack: every file the cluster receives comes from here.

Templates are files under ``templates/``; YAML is dumped from dicts. Nothing here reads
config, talks to Pulumi or depends on time: the same input gives byte-identical output.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import yaml

from components.mtig import versions

TEMPLATES = Path(__file__).parent / "templates"
DASHBOARDS = TEMPLATES / "dashboards"

# Mosquitto 2 password file: `user:$7$<iterations>$<b64 salt>$<b64 PBKDF2-HMAC-SHA512>`, as
# `mosquitto_passwd` 2.x writes it (eclipse/mosquitto v2.0.20 src/password_mosq.{c,h}). The broker
# accepts any iteration count >= 1 and a salt of exactly 12 bytes (src/security_default.c,
# unpwd__decode_passwords: `salt_len == 12`), and recomputes the hash on every CONNECT in its
# single thread (security_default.c, mosquitto_unpwd_check_default -> pw__digest).
#
# Iterations: 20,000, not mosquitto_passwd's default of 101. An offline guess against a leaked
# password file costs 200 times more. OWASP's 210,000 for PBKDF2-HMAC-SHA512 is too much here:
# Mosquitto hashes on its only thread with a CPU limit of 250m (components/mtig/k8s.py
# MOSQUITTO_SIZE), so 210,000 rounds (~0.4 s of a full core measured with OpenSSL on the dev
# machine, ~1.7 s at 250m) would stall every client for that long on each connect, and any client
# could stall the broker that way on purpose. 20,000 rounds cost ~40 ms of a core (~0.2 s at 250m)
# per connect; the sensors and Telegraf keep their connections open.
PBKDF2_ITERATIONS = 20_000
SALT_BYTES = 12
ACL_ACCESS = ("read", "write", "readwrite")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def _render(template: str, **context: object) -> str:
    return _env.get_template(template).render(**context)


# --- Mosquitto ---------------------------------------------------------------------------


def password_hash(username: str, password: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Mosquitto 2 `$7$` hash (PBKDF2-HMAC-SHA512) of ``password`` with ``salt``.

    The salt is random per user (a `random.RandomBytes` kept in the state, so stable across runs),
    never derived from the password: a salt computed from the password would let a guess be
    checked against the salt alone, without the slow hash."""
    if not password:
        raise ValueError(f"empty MQTT password for {username}")
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the salt of {username} must be {SALT_BYTES} bytes (Mosquitto refuses others), "
                         f"got {len(salt)}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    salt_b64 = base64.b64encode(salt).decode()
    hash_b64 = base64.b64encode(digest).decode()
    return f"$7${iterations}${salt_b64}${hash_b64}"


def password_file(credentials: Mapping[str, str], salts: Mapping[str, str],
                  iterations: int = PBKDF2_ITERATIONS) -> str:
    """The whole password file, one ``user:hash`` line per user, sorted by user name. ``salts``
    holds each user's salt in base64 (RandomBytes' `base64` output)."""
    for name in credentials:
        if not name or ":" in name or any(c.isspace() for c in name):
            raise ValueError(f"invalid MQTT user name {name!r}")
    if sorted(salts) != sorted(credentials):
        raise ValueError(f"salts must be given for exactly the users {sorted(credentials)}")
    return "".join(f"{name}:{password_hash(name, credentials[name], base64.b64decode(salts[name], validate=True), iterations)}\n"
                   for name in sorted(credentials))


@dataclass(frozen=True)
class AclRule:
    """``access`` is read (subscribe/receive), write (publish) or readwrite."""

    access: str
    topic: str

    def __post_init__(self) -> None:
        if self.access not in ACL_ACCESS:
            raise ValueError(f"ACL access must be one of {ACL_ACCESS}, got {self.access!r}")
        if not self.topic or any(c.isspace() for c in self.topic):
            raise ValueError(f"invalid ACL topic {self.topic!r}")


@dataclass(frozen=True)
class MqttUser:
    name: str
    rules: tuple[AclRule, ...]


def acl_file(users: Iterable[MqttUser]) -> str:
    """ACL file: a ``user`` block per user (sorted), each listing only its topics."""
    ordered = sorted(users, key=lambda u: u.name)
    for user in ordered:
        if not user.rules:
            raise ValueError(f"MQTT user {user.name} has no ACL rule")
    return _render("acl.j2", users=ordered)


@dataclass(frozen=True)
class MosquittoPaths:
    """Where the broker finds its files; the defaults are the pod's mount points."""

    password_file: str = "/mosquitto/passwd/passwd"
    acl_file: str = "/mosquitto/config/acl"
    data_dir: str = "/mosquitto/data/"
    certfile: str = "/mosquitto/certs/tls.crt"
    keyfile: str = "/mosquitto/certs/tls.key"


def mosquitto_conf(
    *,
    port: int = 1883,
    tls: bool = False,
    tls_port: int = 8883,
    paths: MosquittoPaths = MosquittoPaths(),
    bind_address: str | None = None,
    plain_bind_address: str | None = None,
) -> str:
    """`plain_bind_address` keeps the plain listener on one address (an edge broker: localhost)
    while the TLS listener takes `bind_address`; default: both on `bind_address`."""
    plain = plain_bind_address or bind_address
    return _render(
        "mosquitto.conf.j2",
        version=versions.MOSQUITTO_IMAGE.rsplit(":", 1)[1],
        port=port,
        tls=tls,
        tls_port=tls_port,
        bind=f" {bind_address}" if bind_address else "",
        plain_bind=f" {plain}" if plain else "",
        password_file=paths.password_file,
        acl_file=paths.acl_file,
        data_dir=paths.data_dir,
        certfile=paths.certfile,
        keyfile=paths.keyfile,
    )


# --- Telegraf ----------------------------------------------------------------------------

DATA_FORMATS = ("json", "influx", "value")


@dataclass(frozen=True)
class TelegrafSettings:
    mqtt_server: str
    topics: tuple[str, ...]
    influx_url: str
    org: str
    bucket: str
    data_format: str = "json"
    client_id: str = "telegraf"
    interval: str = "10s"


# Telegraf's prometheus_client output (its own metrics, scraped by the monitoring layer).
TELEGRAF_METRICS_PORT = 9273


def telegraf_conf(settings: TelegrafSettings) -> str:
    if settings.data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {DATA_FORMATS}, got {settings.data_format!r}")
    if not settings.topics:
        raise ValueError("Telegraf needs at least one MQTT topic")
    return _render(
        "telegraf.conf.j2",
        version=versions.TELEGRAF_IMAGE.rsplit(":", 1)[1],
        mqtt_server=settings.mqtt_server,
        topics=list(settings.topics),
        influx_url=settings.influx_url,
        org=settings.org,
        bucket=settings.bucket,
        data_format=settings.data_format,
        client_id=settings.client_id,
        interval=settings.interval,
        metrics_port=TELEGRAF_METRICS_PORT,
    )


# --- Grafana -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Datasource:
    """A Grafana datasource as provisioned from a file (Grafana's own field names).

    ``secure_env`` maps a ``secureJsonData`` key to the name of an environment variable the
    Grafana pod takes from a Secret: the file holds ``${VAR}``, never the value.
    """

    name: str
    type: str
    url: str
    uid: str
    is_default: bool = False
    access: str = "proxy"
    json_data: Mapping[str, object] = field(default_factory=dict)
    secure_env: Mapping[str, str] = field(default_factory=dict)
    basic_auth_user: str | None = None  # basic auth as this user (password: secure_env "basicAuthPassword")

    def to_provisioning(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "name": self.name,
            "type": self.type,
            "uid": self.uid,
            "access": self.access,
            "url": self.url,
            "isDefault": self.is_default,
            "editable": False,
        }
        if self.basic_auth_user:
            entry["basicAuth"] = True
            entry["basicAuthUser"] = self.basic_auth_user
        if self.json_data:
            entry["jsonData"] = dict(self.json_data)
        if self.secure_env:
            entry["secureJsonData"] = {k: "${" + v + "}" for k, v in self.secure_env.items()}
        return entry


def check_datasources(datasources: Sequence[Datasource]) -> list[str]:
    """Problems with a datasource list: duplicate names/uids, not exactly one default."""
    problems: list[str] = []
    for attr in ("name", "uid"):
        seen: set[str] = set()
        for ds in datasources:
            value = getattr(ds, attr)
            if value in seen:
                problems.append(f"duplicate datasource {attr} {value!r}")
            seen.add(value)
    defaults = sorted(ds.name for ds in datasources if ds.is_default)
    if len(defaults) != 1:
        problems.append(f"exactly one default datasource is required, got {len(defaults)}: {defaults}")
    return problems


def grafana_datasources(datasources: Sequence[Datasource]) -> str:
    """Grafana datasource provisioning file (apiVersion 1) with exactly one default."""
    problems = check_datasources(datasources)
    if problems:
        raise ValueError("; ".join(problems))
    doc = {
        "apiVersion": 1,
        "datasources": [ds.to_provisioning() for ds in sorted(datasources, key=lambda d: d.name)],
    }
    return yaml.safe_dump(doc, sort_keys=True)


def dashboard_provider(path: str, folder: str = "MTIG") -> str:
    """Grafana dashboard provider file: dashboards are read from JSON files at ``path``."""
    doc = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "mtig",
                "orgId": 1,
                "folder": folder,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": path, "foldersFromFilesStructure": False},
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=True)


def dashboards() -> dict[str, str]:
    """The JSON dashboards kept in the repo, by file name, each checked to parse."""
    result: dict[str, str] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        text = path.read_text()
        doc = json.loads(text)
        if not doc.get("uid") or not doc.get("title"):
            raise ValueError(f"dashboard {path.name} needs a uid and a title")
        result[path.name] = text
    return result


# --- InfluxDB scoped tokens ----------------------------------------------------------------


def token_script() -> str:
    return (TEMPLATES / "influx-tokens.sh").read_text()


def token_kustomization(namespace: str, secrets: Mapping[str, str]) -> str:
    """kustomization.yaml turning token files into Secrets (``secret name -> token file``)."""
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "generatorOptions": {"disableNameSuffixHash": True},
        "secretGenerator": [
            {"name": name, "type": "Opaque", "files": [f"token={secrets[name]}"]}
            for name in sorted(secrets)
        ],
    }
    return yaml.safe_dump(doc, sort_keys=True)


def parse_duration(text: str) -> int:
    """Seconds in an InfluxDB duration such as ``0s``, ``90m``, ``720h``, ``30d``, ``2w``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"not a duration: {text!r} (use a number and one of s, m, h, d, w, e.g. 30d)")
    return int(text[:-1]) * units[text[-1]]
