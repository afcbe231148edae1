"""The program's version registry: every pinned version homelab uses, read from where it is used.

Each pin is read from the place that decides it, never from a second list kept by hand:
Python packages from pyproject.toml and policy/requirements.txt, GitHub actions from the
workflows, Renovate itself from .ci/renovate/package.json, Helm charts and container images from
the resources the synth renders (what `pulumi up` would really deploy), the k3s version from the
stack files, the Incus bridge from Pulumi.yaml and the binding, cloud images from the catalog.

tests/test_renovate.py compares this registry with what Renovate extracts from the repository,
so a pin that no Renovate manager finds fails the build. Cloud images are the exception Renovate
cannot serve (it cannot recompute a checksum): `make bump-image` (pins/bump_image.py) keeps them.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

#: Kinds Renovate keeps current; `cloud-image` is kept by `make bump-image`.
RENOVATE_KINDS = ("python", "runtime", "action", "npm", "helm", "image", "k3s", "pulumi-package")

_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)$")
_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*([^@\s]+)@(\S+)(?:\s*#\s*(\S+))?", re.MULTILINE)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PYTHON_VERSION = re.compile(r"^\s*python-version:\s*[\"']?([0-9.]+)[\"']?\s*$", re.MULTILINE)


@dataclass(frozen=True, order=True)
class Pin:
    """One pinned version: `name` as Renovate's depName, `version` as written (`==`-free).

    `digest` is set for actions pinned by commit SHA (`version` then is the tag in the comment)."""

    kind: str
    name: str
    version: str
    where: str
    digest: str = ""


def python_pins(root: Path = ROOT) -> Iterator[Pin]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for line in requirements:
        yield _requirement(line, "pyproject.toml")
    policy = root / "policy" / "requirements.txt"
    for line in policy.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield _requirement(line, "policy/requirements.txt")


def _requirement(line: str, where: str) -> Pin:
    match = _REQUIREMENT.match(line.strip())
    if not match:
        raise ValueError(f"{where}: {line!r} is not an exact pin (name==version)")
    return Pin("python", match.group(1).lower(), match.group(2), where)


def action_pins(root: Path = ROOT) -> Iterator[Pin]:
    files = sorted((root / ".github").rglob("*.yml")) + sorted((root / ".github").rglob("*.yaml"))
    for path in files:
        for name, ref, comment in _USES.findall(path.read_text()):
            if name.startswith(("./", "docker://")):
                continue
            where = str(path.relative_to(root))
            if _SHA.match(ref):
                yield Pin("action", name, comment or "", where, digest=ref)
            else:
                yield Pin("action", name, ref, where)
        for version in _PYTHON_VERSION.findall(path.read_text()):
            yield Pin("runtime", "python", version, str(path.relative_to(root)))


def npm_pins(root: Path = ROOT) -> Iterator[Pin]:
    for path in sorted(root.glob(".ci/*/package.json")):
        for name, version in json.loads(path.read_text()).get("dependencies", {}).items():
            yield Pin("npm", name, version, str(path.relative_to(root)))


def chart_and_image_pins(env: str, resources: Iterable[dict[str, Any]]) -> Iterator[Pin]:
    """Helm releases and every container image the synth of `env` sets explicitly."""
    for resource in resources:
        inputs = resource.get("inputs") or {}
        if resource["type"] == "kubernetes:helm.sh/v3:Release":
            yield Pin("helm", inputs["chart"], inputs["version"], f"synth {env}: {resource['name']}")
        if resource["type"].startswith("kubernetes:"):
            for image in _images(inputs):
                name, _, tag = image.rpartition(":")
                yield Pin("image", name, tag, f"synth {env}: {resource['name']}")
        if resource["type"] == "command:remote:Command":
            # Manifests k3s auto-deploys from its servers' manifests directory (kube-vip).
            for image in _images(_k3s_manifests(inputs.get("create"))):
                name, _, tag = image.rpartition(":")
                yield Pin("image", name, tag, f"synth {env}: {resource['name']}")


_K3S_MANIFEST = re.compile(r"<<'HOMELAB_K3S_MANIFEST'\n(.*?)\nHOMELAB_K3S_MANIFEST\n", re.S)


def _k3s_manifests(command: Any) -> list[Any]:
    """The YAML documents of the manifests a k3s server script writes (components/k3s/render.py)."""
    if not isinstance(command, str) or "HOMELAB_K3S_MANIFEST" not in command:
        return []
    script = shlex.split(command)[-1]  # [sudo --non-interactive] bash -c SCRIPT
    return [doc for text in _K3S_MANIFEST.findall(script) for doc in yaml.safe_load_all(text)]


def _images(value: Any) -> Iterator[str]:
    """`image: name:tag` strings and chart values' `image: {repository, tag}` maps, anywhere."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "image" and isinstance(item, str) and ":" in item.rsplit("/", 1)[-1]:
                yield item
            elif key == "image" and isinstance(item, dict) and {"repository", "tag"} <= set(item):
                yield f"{item['repository']}:{item['tag']}"
            else:
                yield from _images(item)
    elif isinstance(value, list):
        for item in value:
            yield from _images(item)


def k3s_pins(root: Path = ROOT) -> Iterator[Pin]:
    for path in sorted(root.glob("Pulumi.*.yaml")):
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        for key, section in config.items():
            if key.rsplit(":", 1)[-1] == "k3s" and isinstance(section, dict):
                for cluster in section.get("clusters") or []:
                    yield Pin("k3s", "k3s-io/k3s", cluster["version"], path.name)


def pulumi_package_pins(root: Path = ROOT) -> Iterator[Pin]:
    """The Incus bridge as Pulumi.yaml records it and as the binding registers it."""
    from components.incus import binding

    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    for package in (project.get("packages") or {}).values():
        if package.get("source") == binding.BASE_PROVIDER:
            yield Pin("pulumi-package", "pulumi/pulumi-terraform-provider", str(package["version"]),
                      "Pulumi.yaml")
            source, version = package["parameters"]
            yield Pin("pulumi-package", source, str(version), "Pulumi.yaml")
    where = "components/incus/binding.py"
    yield Pin("pulumi-package", "pulumi/pulumi-terraform-provider", binding.BASE_PROVIDER_VERSION, where)
    yield Pin("pulumi-package", binding.PROVIDER_SOURCE, binding.PROVIDER_VERSION, where)


def cloud_image_pins() -> Iterator[Pin]:
    """Cloud images and LXC templates of the catalog: file name as version, checksum as digest."""
    from components.catalog import CATALOG

    for key, dist in sorted(CATALOG.items()):
        for image in (dist.image, dist.lxc_template):
            if image is not None:
                yield Pin("cloud-image", key, image.file_name, "components/catalog.py",
                          digest=image.checksum)


def all_pins(resources_by_env: dict[str, list[dict[str, Any]]], root: Path = ROOT) -> list[Pin]:
    """Every pin, given the synth's resources of each environment."""
    pins: set[Pin] = set()
    for source in (python_pins(root), action_pins(root), npm_pins(root), k3s_pins(root),
                   pulumi_package_pins(root), cloud_image_pins()):
        pins.update(source)
    for env, resources in resources_by_env.items():
        pins.update(chart_and_image_pins(env, resources))
    return sorted(pins)
