"""stacks/config imports one way: base <- sections <- model <- loader (and tools above the model)."""

from __future__ import annotations

import ast
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "stacks" / "config"
# Modules above the sections: they may import the model and every section.
ABOVE = {"model", "loader", "reference", "__init__"}


def _imported_siblings(path: Path) -> set[str]:
    """Modules of stacks.config that `path` imports anywhere (module level, TYPE_CHECKING, functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("stacks.config."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("stacks.config."))
    return found


def test_sections_never_import_the_model_or_the_loader():
    sections = sorted(p for p in CONFIG.glob("*.py") if p.stem not in ABOVE)
    assert {p.stem for p in sections} >= {"base", "environment", "proxmox", "k3s", "mtig", "monitoring"}
    wrong = {p.stem: sorted(_imported_siblings(p) & ABOVE) for p in sections if _imported_siblings(p) & ABOVE}
    assert wrong == {}, f"sections importing upward: {wrong}"


def test_base_imports_no_section():
    assert _imported_siblings(CONFIG / "base.py") == set()


def test_the_checker_sees_an_upward_import(tmp_path):
    bad = tmp_path / "k3s.py"
    bad.write_text("def checks(cfg):\n    from .model import declared_hosts\n    return declared_hosts(cfg)\n")
    assert _imported_siblings(bad) == {"model"}


def test_a_section_reaches_every_declared_host_through_the_config():
    from stacks.config import loader
    from stacks.config.model import declared_hosts
    from synth.engine import synth_config

    entries, secret_keys, _ = synth_config("lothlorien")
    cfg = loader.validate(entries, stack="lothlorien", secret_keys=secret_keys)
    assert cfg.declared_hosts() == declared_hosts(cfg)
    assert len(cfg.declared_hosts()) > 3
