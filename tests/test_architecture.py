"""The architecture, read from the source (ast): no import cycle inside valstudy/, and layers that point one way.

Layers, bottom to top (docs/architecture.md): errors, io -> config, device, runtime -> text, checkpoint -> data ->
kernels -> models, losses -> features, retrieval, metrics, flops -> evaluation, results -> training -> analysis,
plotting, study, book -> cli. A module may import its own layer or any below it, never one above; imports inside
functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "valstudy"

LAYERS = [  # (layer, module prefixes); a module belongs to the layer of its longest matching prefix
    ("base", ("valstudy", "valstudy.errors", "valstudy.io")),
    ("config", ("valstudy.config", "valstudy.device", "valstudy.runtime")),
    ("text", ("valstudy.text", "valstudy.checkpoint")),
    ("data", ("valstudy.data",)),
    ("kernels", ("valstudy.kernels",)),
    ("models", ("valstudy.models", "valstudy.losses")),
    ("features", ("valstudy.features", "valstudy.retrieval", "valstudy.metrics", "valstudy.flops",
                  "valstudy.valid_targets", "valstudy.reference_encoder")),
    ("evaluation", ("valstudy.evaluation", "valstudy.results", "valstudy.search", "valstudy.simulate")),
    ("training", ("valstudy.training",)),
    ("study", ("valstudy.analysis", "valstudy.plotting", "valstudy.study", "valstudy.widget",
               "valstudy.book")),
    ("cli", ("valstudy.cli", "valstudy.__main__")),
]
ABOVE_THE_CORE = ("valstudy.training", "valstudy.evaluation", "valstudy.analysis", "valstudy.study", "valstudy.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The valstudy modules ``name`` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in MODULES and t != name}
    return out


GRAPH = {name: imports(name) for name in MODULES}


def layer(name: str) -> int:
    best = max(((len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
                if name == p or name.startswith(p + ".")), default=None)
    assert best is not None, f"{name} belongs to no layer: add it to LAYERS and docs/architecture.md"
    return best[1]


def test_the_graph_is_read():  # the test below would pass vacuously on an empty graph
    assert "valstudy.config" in GRAPH["valstudy.training.loop"]
    assert "valstudy.kernels" in GRAPH["valstudy.models.composite_transformer"]
    assert "valstudy.data.base" in GRAPH["valstudy.data.fashioniq"]
    assert "valstudy.evaluation" in GRAPH["valstudy.training.curves"]
    assert "valstudy.simulate" in GRAPH["valstudy.widget"]  # inside a method: counted too


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(n, path):
        state[n] = 1
        for m in sorted(GRAPH[n]):
            if state.get(m) == 1:
                cycle = path[path.index(m):] + [m]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if m not in state:
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(GRAPH):
        if n not in state:
            visit(n, [n])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    up = sorted(m for m in GRAPH[name] if layer(m) > layer(name))
    assert not up, f"{name} (layer {LAYERS[layer(name)][0]}) imports from above: {', '.join(up)}"


def test_the_core_imports_nothing_of_training_evaluation_analysis_study_or_cli():
    core = [n for n in MODULES if n.startswith(("valstudy.data", "valstudy.kernels", "valstudy.models")) or n in (
        "valstudy.retrieval", "valstudy.metrics", "valstudy.losses", "valstudy.features", "valstudy.config")]
    assert len(core) > 15
    for n in core:
        bad = sorted(m for m in GRAPH[n] if m.startswith(ABOVE_THE_CORE))
        assert not bad, f"{n} imports {', '.join(bad)}"


def test_the_models_hold_no_kernel_code():
    # valstudy/models/ reads as the paper: the speed kernels (autograd functions, the C library) live in
    # valstudy/kernels/, reached through the package's own names.
    for name in (n for n in MODULES if n.startswith("valstudy.models")):
        deep = sorted(m for m in GRAPH[name] if m.startswith("valstudy.kernels."))
        assert not deep, f"{name} imports kernel modules directly: {', '.join(deep)} (use valstudy.kernels)"
        tree = ast.parse(MODULES[name].read_text())
        functions = [c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                     and any(ast.unparse(b).endswith("autograd.Function") for b in c.bases)]
        assert not functions, f"{name} defines autograd functions {functions}: kernels belong in valstudy/kernels"
        assert "ctypes" not in {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}


def test_the_cli_uses_no_private_name():
    tree = ast.parse(MODULES["valstudy.cli"].read_text())
    private = sorted({a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                      for a in node.names if a.name.startswith("_")})
    assert not private, f"cli.py imports private names: {private}"


def test_the_public_api_resolves():
    import valstudy

    assert len(valstudy.__all__) > 20
    for name in valstudy.__all__:
        assert getattr(valstudy, name) is not None, name


def test_notebooks_import_only_the_public_api():
    import json

    notebooks = sorted((PKG.parent / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        for cell in cells:
            source = "".join(cell["source"])
            for node in ast.walk(ast.parse("\n".join(l for l in source.splitlines() if not l.startswith(("%", "!"))))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("valstudy"):
                    assert node.module == "valstudy", f"{nb.name}: from {node.module} import ... (use valstudy's API)"
                if isinstance(node, ast.Import):
                    bad = [a.name for a in node.names if a.name.startswith("valstudy.")]
                    assert not bad, f"{nb.name}: import {bad[0]} (use valstudy's API)"


def test_every_module_is_in_docs_architecture():
    text = (PKG.parent / "docs" / "architecture.md").read_text()
    for name, path in MODULES.items():
        rel = path.relative_to(PKG).as_posix()
        named = rel in text or f"{path.parent.relative_to(PKG).as_posix()}/" in text
        assert named, f"docs/architecture.md does not name {rel}"
