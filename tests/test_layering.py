"""The package's layering (../shared/DESIGN.md, and the docstring of actsparse/__init__.py).

The verbs (measure, induce, exploit, interpret) hold library code only: they never import the
command line, the pages, the study, the training application or the zoo, nor argparse; and no
two top-level packages import each other. Every import counts, also those inside functions
and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "actsparse"
VERBS = ("measure", "induce", "exploit", "interpret")
NOT_FOR_VERBS = ("cli", "report", "study", "train", "zoo")


def _top(path: Path) -> str:
    """The top-level part of the package a file belongs to (``measure``, ``_hooks``, ...)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" \
        else "__init__"


def _imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, resolved to absolute dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = here if path.name == "__init__.py" else here[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _edges() -> dict[str, dict[str, list[str]]]:
    """``edges[a][b]``: the files of top-level part ``a`` that import part ``b``."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _top(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "actsparse" or len(parts) < 2:
                continue
            dst = parts[1]
            if dst != src and src != "__init__" and (PACKAGE / dst).exists() | (
                    PACKAGE / f"{dst}.py").exists():
                rel = str(path.relative_to(PACKAGE.parent))
                if rel not in edges[src][dst]:
                    edges[src][dst].append(rel)
    return edges


def layering_violations() -> list[str]:
    """Human-readable violations of the layering; empty when it holds."""
    edges = _edges()
    found = []
    for verb in VERBS:
        for dst in NOT_FOR_VERBS:
            for rel in edges[verb].get(dst, []):
                found.append(f"{rel}: the verb '{verb}' imports actsparse.{dst}")
    for path in sorted(PACKAGE.rglob("*.py")):
        if _top(path) in VERBS and "argparse" in _imports(path):
            found.append(f"{path.relative_to(PACKAGE.parent)}: a verb imports argparse")
    parts = sorted(edges)
    for i, a in enumerate(parts):
        for b in parts[i + 1:]:
            if edges[a].get(b) and edges[b].get(a):
                found.append(f"actsparse.{a} and actsparse.{b} import each other: "
                             f"{edges[a][b][0]} -> {b}, {edges[b][a][0]} -> {a}")
    return found


def test_the_layering_holds() -> None:
    assert layering_violations() == []


def test_the_check_catches_a_verb_importing_the_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    fake = tmp_path / "actsparse"
    for part in ("measure", "zoo", "report"):
        (fake / part).mkdir(parents=True)
        (fake / part / "__init__.py").write_text("")
    (fake / "measure" / "bad.py").write_text("def f():\n    from actsparse.zoo import x\n")
    (fake / "report" / "page.py").write_text("from ..measure import bad\n")
    (fake / "measure" / "worse.py").write_text("from actsparse import report\nimport argparse\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = layering_violations()
    assert any("measure/bad.py: the verb 'measure' imports actsparse.zoo" in f for f in found)
    assert any("measure/worse.py: a verb imports argparse" in f for f in found)
    assert any("actsparse.measure and actsparse.report import each other" in f for f in found)


TESTS = Path(__file__).resolve().parent
TOP_LEVEL_TESTS = {"test_layering.py", "test_readme.py"}  # checks of the package as a whole


def misplaced_tests(tests: Path = TESTS, package: Path = PACKAGE) -> list[str]:
    """Test files not named after a module: ``tests/<package>/test_<module>[_<aspect>].py``.

    A private module ``_name.py`` is tested by ``test_name.py``; the part after the module's
    name (``test_profile_distributed.py``) says which aspect of it the file tests.
    """
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(tests)
        if len(rel.parts) == 1 and rel.name in TOP_LEVEL_TESTS:
            continue
        folder = package.joinpath(*rel.parts[:-1])
        modules = {p.stem.lstrip("_") for p in folder.glob("*.py")} | {
            p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
        stem = rel.stem.removeprefix("test_")
        if not any(stem == m or stem.startswith(m + "_") for m in modules if m != "__init__"):
            found.append(str(rel))
    return found


def test_tests_are_named_after_the_module_they_test() -> None:
    assert misplaced_tests() == []


def test_the_layout_check_catches_a_misnamed_test(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "measure").mkdir(parents=True)
    (tmp_path / "pkg" / "measure" / "profile.py").write_text("")
    (tmp_path / "pkg" / "_hooks.py").write_text("")
    (tmp_path / "tests" / "measure").mkdir(parents=True)
    for name in ("measure/test_profile_files.py", "measure/test_profiles.py", "test_hooks.py",
                 "test_other.py"):
        (tmp_path / "tests" / name).write_text("")
    assert misplaced_tests(tmp_path / "tests", tmp_path / "pkg") == [
        "measure/test_profiles.py", "test_other.py"]
