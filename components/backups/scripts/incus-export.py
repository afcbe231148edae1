"""Export one Incus custom volume into a directory: create a volume backup, wait for it, download it,
delete it on the server. Runs in the pinned python image (standard library only) as the init
container of an Incus export CronJob; the rclone container then uploads the directory to the store.
Rendered by nothing: every value comes from the environment (components/backups/incus.py).

Incus REST API (lxc/incus doc/rest-api.yaml; cmd/incusd/storage_volumes_backup.go):
- POST /1.0/storage-pools/{pool}/volumes/custom/{volume}/backups?project=&target=
  body StorageVolumeBackupsPost {name, expires_at, volume_only, optimized_storage,
  compression_algorithm} -> 202, an async response whose `operation` (and Location header) is
  /1.0/operations/{id}.
- GET /1.0/operations/{id}/wait?timeout=N -> 200, sync response; metadata is the Operation
  (status "Success" | "Failure" | still "Running" when the timeout passed, err). The endpoint
  takes no project (cmd/incusd/operations.go, operationWait), so a restricted certificate may wait.
- GET .../backups/{name}/export -> 200, the backup file (application/octet-stream).
- DELETE .../backups/{name} -> 202 and an operation, as above.
The server is authenticated by pinning its certificate (the SHA-256 of the certificate it presents
must be that of INCUS_SERVER_CERT, as the incus client does with servercerts/<remote>.crt); the client
by its certificate, which the remote trusts restricted to the volume's project.

Environment: INCUS_URL (https://host:port), INCUS_POOL, INCUS_VOLUME, INCUS_PROJECT, INCUS_TARGET
(both may be empty), INCUS_COMPRESSION, INCUS_SNAPSHOTS (true|false), INCUS_CLIENT_CERT,
INCUS_CLIENT_KEY, INCUS_SERVER_CERT (file paths), EXPORT_DIR, INCUS_WAIT_SECONDS.
Exit 0 with the file in EXPORT_DIR, or 1 with one line on stderr.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import os
import ssl
import sys
import urllib.parse

# The file name suffix of each compressor's output (a tarball unless "none").
SUFFIX = {"gzip": ".tar.gz", "zstd": ".tar.zst", "xz": ".tar.xz", "bzip2": ".tar.bz2", "lzma": ".tar.lzma",
          "none": ".tar"}
EXPIRY = datetime.timedelta(days=1)  # a backup the job could not delete is removed by Incus itself
CHUNK = 1 << 20


class ExportError(Exception):
    pass


class PinnedConnection(http.client.HTTPSConnection):
    """HTTPS to an Incus server whose certificate is pinned by its SHA-256 fingerprint; nothing is
    sent before the fingerprint matched."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, fingerprint: str, timeout: float):
        super().__init__(host, port, context=context, timeout=timeout)
        self.fingerprint = fingerprint

    def connect(self) -> None:
        super().connect()
        presented = hashlib.sha256(self.sock.getpeercert(binary_form=True)).hexdigest()
        if presented != self.fingerprint:
            self.close()
            raise ExportError(f"the server's certificate (sha256 {presented}) is not the pinned one "
                              f"(sha256 {self.fingerprint}); refusing to talk to it")


class Incus:
    def __init__(self, env: dict[str, str]):
        url = urllib.parse.urlsplit(env["INCUS_URL"])
        if url.scheme != "https" or not url.hostname:
            raise ExportError(f"INCUS_URL must be https://host[:port], got {env['INCUS_URL']!r}")
        self.host, self.port = url.hostname, url.port or 8443
        with open(env["INCUS_SERVER_CERT"], encoding="ascii") as pem:
            self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read())).hexdigest()
        # The server certificate is self-signed: trust comes from the pin, not from a CA or a name.
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(env["INCUS_CLIENT_CERT"], env["INCUS_CLIENT_KEY"])
        self.timeout = float(env.get("INCUS_WAIT_SECONDS") or 3600) + 60

    def request(self, method: str, path: str, body: dict | None = None) -> http.client.HTTPResponse:
        connection = PinnedConnection(self.host, self.port, self.context, self.fingerprint, self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers=headers)
        return connection.getresponse()

    def json(self, method: str, path: str, body: dict | None = None, expect: tuple[int, ...] = (200,)) -> dict:
        response = self.request(method, path, body)
        payload = response.read()
        try:
            document = json.loads(payload or b"{}")
        except ValueError:
            document = {}
        if response.status not in expect:
            reason = document.get("error") or response.reason
            raise ExportError(f"{method} {path.split('?')[0]}: HTTP {response.status}: {reason}")
        return document

    def wait(self, operation: str, seconds: int) -> str:
        """Wait for an operation to end: its final status ("Success"), or ExportError (with
        `status` set to what Incus said: "Failure", or "Running" when the timeout passed)."""
        done = self.json("GET", f"{operation}/wait?timeout={seconds}")
        meta = done.get("metadata") or {}
        status = meta.get("status", "")
        if status != "Success":
            error = ExportError(f"operation {operation} ended {status or 'without a status'}: "
                                f"{meta.get('err') or 'no error given'}")
            error.status = status
            raise error
        return status


def _query(env: dict[str, str]) -> str:
    params = {key: env[name] for key, name in (("project", "INCUS_PROJECT"), ("target", "INCUS_TARGET"))
              if env.get(name)}
    return f"?{urllib.parse.urlencode(params)}" if params else ""


def backup_request(env: dict[str, str], name: str, now: datetime.datetime) -> dict:
    """The StorageVolumeBackupsPost body."""
    return {
        "name": name,
        "expires_at": (now + EXPIRY).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "volume_only": env.get("INCUS_SNAPSHOTS", "false") != "true",
        # A plain tarball, not the pool driver's own format: it imports into a pool of any driver.
        "optimized_storage": False,
        "compression_algorithm": env["INCUS_COMPRESSION"],
    }


def export(env: dict[str, str], now: datetime.datetime) -> str:
    compression = env["INCUS_COMPRESSION"]
    if compression not in SUFFIX:
        raise ExportError(f"INCUS_COMPRESSION {compression!r} is not one of {', '.join(sorted(SUFFIX))}")
    incus = Incus(env)
    pool, volume = (urllib.parse.quote(env[k], safe="") for k in ("INCUS_POOL", "INCUS_VOLUME"))
    wait_seconds = int(env.get("INCUS_WAIT_SECONDS") or 3600)
    base = f"/1.0/storage-pools/{pool}/volumes/custom/{volume}/backups"
    query = _query(env)
    name = "homelab-" + now.strftime("%Y%m%dt%H%M%Sz")  # letters, digits and '-': a valid Incus name
    created = incus.json("POST", base + query, backup_request(env, name, now), expect=(202,))
    operation = created.get("operation")
    if not isinstance(operation, str) or not operation.startswith("/1.0/operations/"):
        raise ExportError(f"POST {base}: no operation in the answer")
    try:
        incus.wait(operation, wait_seconds)
        path = os.path.join(env["EXPORT_DIR"], env["INCUS_VOLUME"] + SUFFIX[compression])
        _download(incus, f"{base}/{name}/export{query}", path)
    except (ExportError, OSError, http.client.HTTPException) as error:
        # A failed creation leaves no backup (Incus reverts it); anything else may have left one.
        if getattr(error, "status", None) != "Failure":
            _delete(incus, f"{base}/{name}{query}", wait_seconds)
        raise
    _delete(incus, f"{base}/{name}{query}", wait_seconds)
    return path


def _download(incus: Incus, path: str, target: str) -> None:
    response = incus.request("GET", path)
    if response.status != 200:
        raise ExportError(f"GET {path.split('?')[0]}: HTTP {response.status}: {response.reason}")
    expected = response.getheader("Content-Length")
    written = 0
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        with open(target, "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
    except BaseException:
        os.remove(target)  # never leave a partial export for the upload
        raise
    if written == 0 or (expected is not None and int(expected) != written):
        os.remove(target)
        raise ExportError(f"GET {path.split('?')[0]}: got {written} bytes of {expected or 'a non-empty file'}")


def _delete(incus: Incus, path: str, wait_seconds: int) -> None:
    """Remove the backup from the server; failing that, it expires there within a day."""
    try:
        deleted = incus.json("DELETE", path, expect=(202,))
        if isinstance(deleted.get("operation"), str):
            incus.wait(deleted["operation"], wait_seconds)
    except (ExportError, OSError, http.client.HTTPException) as error:
        print(f"incus-export: warning: the backup stays on the server until it expires: {error}", file=sys.stderr)


def main() -> int:
    env = dict(os.environ)
    try:
        path = export(env, datetime.datetime.now(datetime.timezone.utc))
    except (ExportError, OSError, http.client.HTTPException, KeyError, ValueError) as error:
        what = f"missing environment variable {error}" if isinstance(error, KeyError) else str(error)
        print(f"incus-export: {env.get('INCUS_VOLUME', '?')}: {what}", file=sys.stderr)
        return 1
    print(f"incus-export: {env['INCUS_VOLUME']} -> {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
