"""The import graph shows the architecture: product packages never import development code, the Lambda package and
the node backend stand alone, the local tooling is layered (the dev PKI at the bottom, the CLI on top), and no
module imports itself back through another. Every import counts, the lazy ones inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOTS = {
    "nodegate_authorizer": SRC / "authorizer" / "nodegate_authorizer",
    "nodegate_node": SRC / "node" / "nodegate_node",
    "nodegate": SRC / "nodegate",
    "nodegate_dev": SRC / "nodegate_dev",
}
# Which first-party groups each group may import (besides itself). A group is a package or a layer of `nodegate`.
MAY_IMPORT = {
    "nodegate_authorizer": set(),
    "nodegate_node": set(),
    "nodegate.pki": {"nodegate_authorizer", "nodegate_node"},  # nodegate_node.json_text: JSON files read alike
    "nodegate.aws": {"nodegate.pki", "nodegate_authorizer", "nodegate_node"},
    "nodegate.diagnostics": {"nodegate_authorizer"},
    "nodegate.local": {"nodegate.pki", "nodegate_authorizer", "nodegate_node"},
    "nodegate": {
        "nodegate.pki",
        "nodegate.aws",
        "nodegate.diagnostics",
        "nodegate.local",
        "nodegate_authorizer",
        "nodegate_node",
    },
    "nodegate_dev": {"nodegate.pki", "nodegate_authorizer", "nodegate_node"},
}


def module_name(root: str, path: Path) -> str:
    parts = path.relative_to(ROOTS[root]).with_suffix("").parts
    return ".".join([root, *[p for p in parts if p != "__init__"]])


def imports() -> dict[str, set[str]]:
    """Each first-party module and the first-party modules it imports anywhere in its body."""
    graph: dict[str, set[str]] = {}
    for root, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            name = module_name(root, path)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base])
                    found.add(base.rstrip("."))
            graph[name] = {m for m in found if m.split(".")[0] in ROOTS}
    return graph


def group(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "nodegate" and len(parts) > 1 and parts[1] in {"pki", "aws", "diagnostics", "local"}:
        return ".".join(parts[:2])
    return parts[0]


GRAPH = imports()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_what_its_layer_may(module: str) -> None:
    mine = group(module)
    wrong = {m for m in GRAPH[module] if group(m) != mine and group(m) not in MAY_IMPORT[mine]}
    assert not wrong, f"{module} ({mine}) imports {sorted(wrong)}"


def test_no_product_module_imports_development_code() -> None:
    """nodegate_dev is not in the installed package: a product import of it would fail outside the tree."""
    leaking = {
        m
        for m, targets in GRAPH.items()
        if group(m) != "nodegate_dev" and any(group(t) == "nodegate_dev" for t in targets)
    }
    assert not leaking


def test_the_import_graph_has_no_cycle() -> None:
    def package_edges(module: str) -> set[str]:
        # importing a.b.c also runs a and a.b; count the edge to the module itself, which is what can cycle
        return {t for t in GRAPH[module] if t in GRAPH and t != module}

    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(package_edges(module)):
            if state.get(target) == 1:
                raise AssertionError(" -> ".join([*trail[trail.index(target) :], target]))
            if target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_the_package_list_ships_no_development_code() -> None:
    """pyproject's packages are what `pip install` ships; each layer is listed, nodegate_dev is not."""
    import tomllib

    packages = tomllib.loads((SRC.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    shipped = {group(p) for p in packages}
    assert "nodegate_dev" not in shipped
    folders = {module_name("nodegate", p) for p in (SRC / "nodegate").rglob("__init__.py")}
    assert folders <= set(packages), sorted(folders - set(packages))


def test_repository_files_the_modules_name_exist() -> None:
    """A module that finds a repository file from its own location (template.yaml, samconfig.toml) still finds it
    after a move: the re-layout left two pointing one folder short."""
    from nodegate.aws.session import SAMCONFIG
    from nodegate.local.samlocal import TEMPLATE
    from nodegate_dev.conformance import CASES

    assert [path for path in (SAMCONFIG, TEMPLATE, CASES) if not path.is_file()] == []
