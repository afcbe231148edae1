"""Every `depends_on` in components/ and stacks/ carries a comment saying why.

A `depends_on` is an edge the data does not imply: it can lengthen the critical path of every `up`.
The contract asks each one to say why the data alone does not order it. This check finds every
`depends_on=` keyword, `depends_on` dict key and `.depends_on` assignment and accepts it when a
comment sits on one of its lines (keyword through the end of its value), directly above it, or
directly above (or at the end of) the first line of an expression it is part of (the options
call, the `opts=` argument, the resource call, the statement). For `depends_on=deps`, a comment
on or directly above an assignment to `deps` in the same function counts too.

    python -m synth.depends_on_check [PATH ...]     (default: components stacks)
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

DEFAULT_ROOTS = ("components", "stacks")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: depends_on without a comment saying why the data alone "
                f"does not order it (add one, or remove the depends_on)")


def _comment_lines(source: str) -> tuple[set[int], set[int]]:
    """Lines holding a comment, and lines holding only a comment."""
    with_comment, only_comment = set(), set()
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            with_comment.add(tok.start[0])
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            for ln in range(tok.start[0], tok.end[0] + 1):
                code_lines.add(ln)
    only_comment = with_comment - code_lines
    return with_comment, only_comment


def _sites(tree: ast.AST) -> Iterable[tuple[int, int, frozenset[int]]]:
    """(first line, last line, first lines of the enclosing expressions up to the statement) of
    each depends_on."""
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node

    def enclosing(node: ast.AST) -> frozenset[int]:
        lines = set()
        while id(node) in parents:
            node = parents[id(node)]
            if hasattr(node, "lineno"):
                lines.add(node.lineno)
            if isinstance(node, ast.stmt):
                break
        return frozenset(lines)

    def assignments(node: ast.AST, name: str) -> frozenset[int]:
        """Lines of the assignments to `name` in the function (or module) around `node`: a
        `depends_on=deps` is justified where `deps` is built."""
        scope = node
        while id(scope) in parents and not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = parents[id(scope)]
        lines = set()
        for sub in ast.walk(scope):
            if isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
        return frozenset(lines)

    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "depends_on":
            around = enclosing(node)
            if isinstance(node.value, ast.Name):
                around |= assignments(node, node.value.id)
            yield node.lineno, node.value.end_lineno or node.lineno, around
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == "depends_on":
                    yield k.lineno, v.end_lineno or k.lineno, enclosing(node) | {node.lineno}
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr == "depends_on":
                    yield node.lineno, node.end_lineno or node.lineno, frozenset()


def check_source(source: str, path: str = "<string>") -> list[Finding]:
    """A depends_on passes with a comment on its own lines or directly above them, or directly
    above (or at the end of) the first line of an expression it is part of: the options call,
    the `opts=` argument, the resource call, the statement."""
    tree = ast.parse(source, filename=path)
    with_comment, only_comment = _comment_lines(source)
    findings = []
    for first, last, around in sorted(set(_sites(tree))):
        ok = (any(ln in with_comment for ln in range(first, last + 1))
              or first - 1 in only_comment
              or any(ln - 1 in only_comment or ln in with_comment for ln in around))
        if not ok:
            findings.append(Finding(path, first))
    return findings


def check_paths(paths: Sequence[str | Path]) -> list[Finding]:
    findings: list[Finding] = []
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for f in files:
            findings.extend(check_source(f.read_text(), str(f)))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(argv if argv is not None else sys.argv[1:]) or list(DEFAULT_ROOTS)
    findings = check_paths([p for p in paths if Path(p).exists()])
    for f in findings:
        print(f)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
