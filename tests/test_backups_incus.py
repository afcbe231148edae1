"""Incus custom volumes exported off the host (components/backups/incus.py, scripts/incus-export.py).

The export script runs for real against a fake Incus API: a local HTTPS server that, like Incus,
requires a trusted client certificate and speaks the documented JSON shapes (lxc/incus
doc/rest-api.yaml: the async Operation response of POST .../volumes/custom/{volume}/backups with its
Location header, GET /1.0/operations/{id}/wait, GET .../backups/{name}/export, DELETE; the request
body StorageVolumeBackupsPost of shared/api/storage_pool_volume_backup.go). The upload is the
rendered script run with the real rclone (its local backend standing in for MinIO), retention
included. Then the program's wiring: config checks, the CronJobs of the committed lothlorien.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import re
import ssl
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from components.backups import apps, incus, render
from stacks.config import backups as bk
from stacks.config import loader
from synth.engine import synth_config
from synth.wire import MASK
from tests.tools import require_tool

SCRIPT = render.SCRIPTS_DIR / "incus-export.py"
CRON = "kubernetes:batch/v1:CronJob"
# StorageVolumeBackupsPost (lxc/incus shared/api/storage_pool_volume_backup.go): json field names.
BACKUP_POST_FIELDS = {"name", "expires_at", "volume_only", "optimized_storage", "compression_algorithm", "target"}


# ---- certificates ----------------------------------------------------------------------------------

def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    require_tool("openssl")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _fingerprint(cert: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    root = tmp_path_factory.mktemp("certs")
    return {name: _certificate(root, name) for name in ("server", "client", "stranger", "impostor")}


# ---- the fake Incus API ------------------------------------------------------------------------------

class FakeIncus:
    """Custom volume backups as Incus serves them, recording every request."""

    def __init__(self, certs: dict, *, pool: str = "ceph", volume: str = "mosquitto-data", project: str = "default"):
        self.pool, self.volume, self.project = pool, volume, project
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.backups: dict[str, dict] = {}
        self.operations: dict[str, dict] = {}
        self.fail_backup: str | None = None  # an operation error to report
        self.short_export = False  # announce more bytes than sent
        self.trusted = {_fingerprint(certs["client"][0])}
        self.tarball = _tarball(volume)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certs["server"])
        # Incus asks every client for a certificate and decides by its trust store; here the trust
        # store is `trusted` (fingerprints) and the handshake accepts the test's certificates.
        context.verify_mode = ssl.CERT_REQUIRED
        for name in ("client", "stranger"):
            context.load_verify_locations(cafile=str(certs[name][0]))
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.http.socket = context.wrap_socket(self.http.socket, server_side=True)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.http.server_address[1]}"

    def close(self) -> None:
        self.http.shutdown()

    def base(self) -> str:
        return f"/1.0/storage-pools/{self.pool}/volumes/custom/{self.volume}/backups"

    def operation(self, description: str, status: str = "Success", err: str = "") -> dict:
        op_id = str(uuid.uuid4())
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.operations[op_id] = {"id": op_id, "class": "task", "description": description, "created_at": now,
                                  "updated_at": now, "status": status, "status_code": 200 if status == "Success" else 400,
                                  "resources": {"storage_volumes": [f"/1.0/storage-pools/{self.pool}/volumes/custom/"
                                                                    f"{self.volume}"]},
                                  "metadata": None, "may_cancel": False, "err": err, "location": "none"}
        return self.operations[op_id]


def _tarball(volume: str) -> bytes:
    """A volume backup tarball: backup/index.yaml and the volume's files (the layout Incus writes)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in ((f"backup/index.yaml", f"name: {volume}\nbackend: ceph\n".encode()),
                           ("backup/volume/mosquitto.db", os.urandom(4096))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _handler(api: FakeIncus):
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: dict | bytes, headers: dict | None = None, length: int | None = None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
            self.send_header("Content-Length", str(length if length is not None else len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, message: str):
            self._reply(code, {"type": "error", "error": message, "error_code": code})

        def _async(self, op: dict):
            url = f"/1.0/operations/{op['id']}"
            self._reply(202, {"type": "async", "status": "Operation created", "status_code": 100, "operation": url,
                              "error_code": 0, "error": "", "metadata": {**op, "status": "Running", "status_code": 103}},
                        headers={"Location": url})

        def _handle(self, method: str):
            split = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            api.requests.append((method, split.path, query, body))
            if _fingerprint_of(self.connection) not in api.trusted:
                return self._error(403, "not authorized")
            if query.get("project", "default") != api.project:
                return self._error(404, "Project not found")
            base = api.base()
            if method == "POST" and split.path == base:
                return self._create(body)
            match = re.fullmatch(r"/1\.0/operations/([0-9a-f-]+)/wait", split.path)
            if method == "GET" and match:
                if match[1] not in api.operations:
                    return self._error(404, "Operation not found")
                return self._reply(200, {"type": "sync", "status": "Success", "status_code": 200, "operation": "",
                                         "error_code": 0, "error": "", "metadata": api.operations[match[1]]})
            match = re.fullmatch(re.escape(base) + r"/([^/]+)(/export)?", split.path)
            if match and match[1] in api.backups:
                if method == "GET" and match[2]:
                    data = api.tarball
                    return self._reply(200, data[: len(data) // 2] if api.short_export else data, length=len(data))
                if method == "DELETE" and not match[2]:
                    del api.backups[match[1]]
                    return self._async(api.operation("Deleting storage volume backup"))
            return self._error(404, "not found")

        def _create(self, body):
            if not isinstance(body, dict) or set(body) - BACKUP_POST_FIELDS:
                return self._error(400, f"unknown fields {sorted(set(body or {}) - BACKUP_POST_FIELDS)}")
            name = body.get("name", "")
            if not re.fullmatch(r"[a-zA-Z0-9][^\s/$?&+\"'`*]{0,62}[a-zA-Z0-9]", name):  # validate.IsAPIName
                return self._error(400, f"Invalid storage volume backup name: {name!r}")
            if body.get("compression_algorithm") not in ("gzip", "zstd", "xz", "bzip2", "lzma", "none"):
                return self._error(400, "Compression algorithm isn't currently supported")
            datetime.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))  # a time.Time in JSON
            if api.fail_backup:
                return self._async(api.operation("Backing up storage volume", "Failure", api.fail_backup))
            api.backups[name] = body
            return self._async(api.operation("Backing up storage volume"))

        def do_GET(self):  # noqa: N802
            self._handle("GET")

        def do_POST(self):  # noqa: N802
            self._handle("POST")

        def do_DELETE(self):  # noqa: N802
            self._handle("DELETE")

        def log_message(self, *args):
            pass

    return Handler


def _fingerprint_of(connection: ssl.SSLSocket) -> str:
    return hashlib.sha256(connection.getpeercert(binary_form=True)).hexdigest()


@pytest.fixture
def api(certs):
    server = FakeIncus(certs)
    yield server
    server.close()


def run_export(api: FakeIncus, certs: dict, out: Path, *, client: str = "client", server_cert: str = "server",
               **extra: str) -> subprocess.CompletedProcess[str]:
    cert, key = certs[client]
    env = {"PATH": os.environ.get("PATH", ""), "INCUS_URL": api.url, "INCUS_POOL": api.pool,
           "INCUS_VOLUME": api.volume, "INCUS_PROJECT": api.project, "INCUS_TARGET": "", "INCUS_COMPRESSION": "gzip",
           "INCUS_SNAPSHOTS": "false", "INCUS_CLIENT_CERT": str(cert), "INCUS_CLIENT_KEY": str(key),
           "INCUS_SERVER_CERT": str(certs[server_cert][0]), "EXPORT_DIR": str(out), "INCUS_WAIT_SECONDS": "30",
           "PYTHONDONTWRITEBYTECODE": "1", **extra}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


# ---- the export against the fake API -----------------------------------------------------------------

def test_export_creates_waits_downloads_and_deletes_the_backup(api, certs, tmp_path):
    started = datetime.datetime.now(datetime.timezone.utc)
    done = run_export(api, certs, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    exported = tmp_path / "out" / "mosquitto-data.tar.gz"
    assert exported.read_bytes() == api.tarball
    with tarfile.open(exported) as tar:
        assert "backup/index.yaml" in tar.getnames()
    calls = [(method, path) for method, path, _q, _b in api.requests]
    (post,) = [r for r in api.requests if r[0] == "POST"]
    name = post[3]["name"]
    base = api.base()
    ops = [path for method, path in calls if path.startswith("/1.0/operations/")]
    assert calls == [("POST", base), ("GET", ops[0]), ("GET", f"{base}/{name}/export"), ("DELETE", f"{base}/{name}"),
                     ("GET", ops[1])]
    assert all(q == {"project": "default"} for method, path, q, _b in api.requests if not path.startswith("/1.0/op"))
    assert re.fullmatch(r"\d+", api.requests[1][2]["timeout"])
    # The request body: the volume alone, a plain (not optimized) tarball, gzip, expiring in a day.
    body = post[3]
    assert re.fullmatch(r"homelab-\d{8}t\d{6}z", name)
    assert (body["volume_only"], body["optimized_storage"], body["compression_algorithm"]) == (True, False, "gzip")
    expires = datetime.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert datetime.timedelta(hours=23) < expires - started < datetime.timedelta(hours=25)
    assert api.backups == {}  # deleted on the server after the download
    assert done.stdout.startswith("incus-export: mosquitto-data -> ")


def test_snapshots_and_compression_reach_the_request(api, certs, tmp_path):
    done = run_export(api, certs, tmp_path / "out", INCUS_SNAPSHOTS="true", INCUS_COMPRESSION="zstd")
    assert done.returncode == 0, done.stderr
    (post,) = [r for r in api.requests if r[0] == "POST"]
    assert post[3]["volume_only"] is False and post[3]["compression_algorithm"] == "zstd"
    assert (tmp_path / "out" / "mosquitto-data.tar.zst").is_file()


def test_a_local_pool_in_a_cluster_names_its_member_on_every_volume_call(api, certs, tmp_path):
    # A volume on a member's local pool (not shared storage): `target` names the member (rest-api.yaml).
    done = run_export(api, certs, tmp_path / "out", INCUS_TARGET="cluster01-n2")
    assert done.returncode == 0, done.stderr
    volume_calls = [q for _m, path, q, _b in api.requests if not path.startswith("/1.0/operations/")]
    assert len(volume_calls) == 3 and all(q == {"project": "default", "target": "cluster01-n2"} for q in volume_calls)


def test_a_server_that_is_not_the_pinned_one_gets_no_request(api, certs, tmp_path):
    # The impostor's certificate is pinned: the real server's does not match it.
    done = run_export(api, certs, tmp_path / "out", server_cert="impostor")
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "is not the pinned one" in done.stderr and _fingerprint(certs["impostor"][0]) in done.stderr
    assert api.requests == [] and not (tmp_path / "out").exists()


def test_a_client_the_remote_does_not_trust_is_refused(api, certs, tmp_path):
    done = run_export(api, certs, tmp_path / "out", client="stranger")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"incus-export: mosquitto-data: POST {api.base()}: HTTP 403: not authorized")


def test_a_failed_backup_operation_fails_the_job_and_leaves_nothing(api, certs, tmp_path):
    api.fail_backup = "Failed to create backup: no space left on device"
    done = run_export(api, certs, tmp_path / "out")
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.rstrip().endswith("ended Failure: Failed to create backup: no space left on device")
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    assert [m for m, *_ in api.requests] == ["POST", "GET"]  # no export, no delete of a backup that is not there


def test_a_short_download_is_an_error_and_no_partial_file_is_left(api, certs, tmp_path):
    api.short_export = True
    done = run_export(api, certs, tmp_path / "out")
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "out").glob("*"))
    assert api.backups == {}  # the backup on the server is still deleted
    assert [m for m, *_ in api.requests][-2] == "DELETE"


def test_a_wrong_project_is_reported_with_incus_own_message(api, certs, tmp_path):
    done = run_export(api, certs, tmp_path / "out", INCUS_PROJECT="other")
    assert done.returncode == 1
    assert done.stderr.strip().endswith("HTTP 404: Project not found")


# ---- the upload with the real rclone -------------------------------------------------------------------

def _rclone_env(tmp_path: Path) -> dict[str, str]:
    # The `store` remote as the pods configure it from the environment, with rclone's local backend
    # standing in for MinIO (RCLONE_CONFIG_STORE_TYPE); the keys must still be there (the script checks).
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home"), "RCLONE_CONFIG": "/dev/null",
            "RCLONE_CONFIG_STORE_TYPE": "local", render.ACCESS_KEY_ENV: "test", render.SECRET_KEY_ENV: "test"}


def test_export_then_upload_puts_the_file_in_the_store_and_prunes_old_exports(api, certs, tmp_path):
    require_tool("rclone")
    out = tmp_path / "out"
    assert run_export(api, certs, out).returncode == 0
    bucket = "homelab-lothlorien-backups"
    prefix = incus.prefix("cluster01", "mosquitto")
    store = tmp_path / "store"
    old = store / bucket / prefix / "20200101T000000Z" / "mosquitto-data.tar.gz"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old export")
    stale = time.time() - 40 * 86400
    os.utime(old, (stale, stale))
    kept = store / bucket / prefix / "recent" / "mosquitto-data.tar.gz"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"recent export")
    script = tmp_path / "upload.sh"
    script.write_text(render.upload_script(prefix, str(out), bucket, 30))
    done = subprocess.run(["/bin/sh", str(script)], cwd=store, env=_rclone_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    uploaded = sorted((store / bucket / prefix).glob("*/mosquitto-data.tar.gz"))
    stamps = [p.parent.name for p in uploaded]
    assert "20200101T000000Z" not in stamps and "recent" in stamps  # 40 days old: pruned; recent: kept
    (new,) = [p for p in uploaded if re.fullmatch(r"\d{8}T\d{6}Z", p.parent.name)]
    assert new.read_bytes() == api.tarball


def test_upload_refuses_an_empty_export_directory(tmp_path):
    require_tool("rclone")
    (tmp_path / "out").mkdir()
    script = tmp_path / "upload.sh"
    script.write_text(render.upload_script("incus/r/v-data", str(tmp_path / "out"), "bucket", 7))
    done = subprocess.run(["/bin/sh", str(script)], cwd=tmp_path, env=_rclone_env(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "is empty, nothing to upload" in done.stderr


# ---- the program: CronJobs of the committed production stack -----------------------------------------

def pod_spec(cron: dict) -> dict:
    return cron["inputs"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_lothlorien_exports_both_incus_volumes_with_cron_jobs(synth_result):
    run = synth_result("lothlorien")
    crons = {r["inputs"]["metadata"]["name"]: r for r in run.of_type(CRON)
             if r["inputs"]["metadata"]["namespace"] == "backups"}
    assert set(crons) == {"incus-mosquitto", "incus-atlantis"}
    expected = {"incus-mosquitto": ("https://10.50.0.41:8443", "ceph", "mosquitto-data", "cluster01", "15 4 * * *"),
                "incus-atlantis": ("https://10.50.0.40:8443", "local", "atlantis-data", "iapetus", "45 4 * * *")}
    for job, (url, pool, volume, remote, schedule) in expected.items():
        cron = crons[job]
        assert cron["inputs"]["spec"]["schedule"] == schedule and bk.check_cron(schedule)
        pod = pod_spec(cron)
        (export,), (upload,) = pod["initContainers"], pod["containers"]
        env = {e["name"]: e.get("value") for e in export["env"]}
        assert (env["INCUS_URL"], env["INCUS_POOL"], env["INCUS_VOLUME"]) == (url, pool, volume)
        assert env["INCUS_COMPRESSION"] == "gzip" and env["INCUS_SNAPSHOTS"] == "false"
        assert export["image"] == apps.PYTHON_IMAGE and export["command"] == ["python3", "/scripts/incus-export.py"]
        assert upload["image"] == apps.RCLONE_IMAGE and upload["command"] == ["/bin/sh", "/scripts/upload.sh"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["incus"]["secret"]["secretName"] == f"incus-export-{remote}"
        sources = [s["configMap"]["name"] for s in volumes["scripts"]["projected"]["sources"]]
        assert sources == ["incus-export-scripts", f"incus-upload-{job.removeprefix('incus-')}"]
        assert {m["mountPath"]: m.get("readOnly") for m in export["volumeMounts"]}["/incus"] is True
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    # The credentials are secrets; the scripts carry none; each upload has its volume's prefix.
    secrets = [r for r in run.resources if r["type"] == "kubernetes:core/v1:Secret"
               and r["inputs"]["metadata"]["namespace"] == "backups"]
    assert {s["inputs"]["metadata"]["name"] for s in secrets} == {"backup-store", "incus-export-cluster01",
                                                                   "incus-export-iapetus"}
    for secret in secrets:
        data = secret["inputs"]["stringData"]
        assert data == MASK or set(data.values()) == {MASK}, secret["inputs"]["metadata"]["name"]
    maps = {r["inputs"]["metadata"]["name"]: r["inputs"]["data"] for r in run.resources
            if r["type"] == "kubernetes:core/v1:ConfigMap" and r["inputs"]["metadata"]["namespace"] == "backups"}
    assert maps["incus-export-scripts"] == {"incus-export.py": SCRIPT.read_text()}
    assert maps["incus-upload-mosquitto"]["upload.sh"] == render.upload_script(
        "incus/cluster01/mosquitto-data", incus.EXPORT_ROOT, "homelab-lothlorien-backups", 30)
    assert "readonly TARGET=store:homelab-lothlorien-backups/incus/iapetus/atlantis-data" in maps[
        "incus-upload-atlantis"]["upload.sh"]


def test_the_export_cron_job_waits_for_its_volume(synth_result):
    run = synth_result("lothlorien")
    by_name = {r["name"]: r for r in run.resources}
    cron = by_name["backup-incus-mosquitto"]
    assert any(urn.endswith("StorageVolume::incus-mosquitto-data") for urn in cron["dependencies"]), cron["dependencies"]


def test_incus_upload_scripts_pass_shellcheck(tmp_path):
    require_tool("shellcheck")
    path = tmp_path / "upload.sh"
    path.write_text(render.upload_script(incus.prefix("cluster01", "mosquitto"), incus.EXPORT_ROOT, "bucket", 14))
    done = subprocess.run(["shellcheck", "--severity=style", "--shell=sh", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout


def test_job_names_fit_kubernetes_cron_job_names():
    assert incus.job_name("mosquitto") == "incus-mosquitto"
    long_name = incus.job_name("a" * 63)
    assert len(long_name) == incus.JOB_NAME_LIMIT and long_name != incus.job_name("a" * 62)


# ---- config ---------------------------------------------------------------------------------------------

def _validate(env: str, change) -> list[str]:
    entries, secret_keys, _ = synth_config(env)
    change(entries)
    try:
        loader.validate(entries, stack=env, secret_keys=secret_keys)
    except loader.ConfigError as error:
        return sorted(error.lines)
    return []


def _set_incus(value):
    return lambda entries: entries["homelab:backups"].__setitem__("incus", value)


@pytest.mark.parametrize(("value", "line"), [
    ({"cluster01": {}, "iapetus": {}, "nowhere": {}},
     "backups.incus.nowhere: is not an Incus remote (known remotes: cluster01, iapetus) (got 'nowhere')"),
    ({"cluster01": {"schedule": "@daily"}, "iapetus": {}}, "backups.incus.cluster01.schedule: "),
    ({"cluster01": {"schedule": "0 25 * * *"}, "iapetus": {}}, "backups.incus.cluster01.schedule: "),
    ({"cluster01": {"retention_days": 0}, "iapetus": {}}, "backups.incus.cluster01.retention_days: "),
    ({"cluster01": {"compression": "brotli"}, "iapetus": {}}, "backups.incus.cluster01.compression: "),
])
def test_bad_incus_export_config_is_one_line_naming_the_field(value, line):
    lines = _validate("lothlorien", _set_incus(value))
    assert len(lines) == 1, lines
    assert any(x.startswith(line) for x in lines), lines


def test_an_exported_remote_without_data_volumes_is_named():
    def drop_atlantis_data(entries):
        entries["homelab:incus"]["instances"]["atlantis"].pop("data")
    assert _validate("lothlorien", drop_atlantis_data) == [
        "backups.incus.iapetus: has no instance with a data volume to export (incus.instances.*.data) (got 'iapetus')"]


def test_incus_exports_need_the_store_and_the_cluster():
    def no_store(entries):
        entries["homelab:backups"].pop("store")
    assert "backups.incus: exports to the backup store, but backups.store is not configured" in _validate(
        "lothlorien", no_store)
    cfg_lines = _validate("lothlorien", lambda e: e.pop("homelab:k3s"))
    assert "backups.incus: runs the exports as CronJobs on the k3s cluster, but k3s is not configured" in cfg_lines


def test_production_incus_volume_on_a_remote_without_export_is_refused():
    lines = _validate("lothlorien", _set_incus({"cluster01": {}}))
    assert lines == ["backups.incus.iapetus: production Incus volume atlantis-data (incus.instances.atlantis.data) "
                     "needs an export to the backup store (its snapshots stay on the same pool)"]


def test_the_export_credentials_are_three_secrets_per_remote():
    entries, secret_keys, _ = synth_config("lothlorien")
    cfg = loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    keys = {spec.key for spec in bk.secrets(cfg)}
    for remote in ("cluster01", "iapetus"):
        assert {f"incusBackupCertificate-{remote}", f"incusBackupKey-{remote}",
                f"incusServerCertificate-{remote}"} <= keys
