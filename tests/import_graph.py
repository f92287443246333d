"""The first-party import graph, read with `ast` (nothing is imported), for the architecture tests.

`module_graph()` gives, for each module of `ssrl_core`, `ssrl_app` and `paper`, what it imports when it
is imported (module-level statements, `try`/`if` bodies included, `if TYPE_CHECKING:` excluded) and
which heavy third-party packages it imports itself; `function_imports()` lists the first-party imports
made inside functions. A function-level import is justified when moving it to module level would make
its module import a heavy package it does not import yet (the app's first paint and `ssrl --help`
must not wait for torch or UMAP), or would close an import cycle.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("ssrl_core", "ssrl_app", "paper")
PACKAGES = ("ssrl_core", "ssrl_app", "paper")
# Third-party packages that take a second or more to import, or pull in native libraries.
HEAVY = frozenset({"torch", "torchvision", "umap", "sklearn", "scipy", "albumentations", "cv2", "matplotlib",
                   "pandas", "streamlit", "plotly", "pynndescent", "numba", "anndata", "pyarrow", "tifffile",
                   "skimage", "altair", "PIL", "lpips", "copairs"})


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # first-party modules imported at module level
    heavy: set[str] = field(default_factory=set)  # heavy third-party packages imported at module level
    lazy: bool = False  # a package whose `__getattr__` imports its modules on first use (PEP 562)


@dataclass(frozen=True)
class FunctionImport:
    module: str
    function: str
    line: int
    targets: tuple[str, ...]


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, Path]:
    """Module name -> file, for every first-party package present in the checkout."""
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts]
    return {_name(p): p for p in files}


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _module_level(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            found.append(stmt)
        elif isinstance(stmt, ast.If) and not _is_type_checking(stmt):
            found += _module_level(stmt.body) + _module_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            found += _module_level(stmt.body) + _module_level(stmt.orelse) + _module_level(stmt.finalbody)
            for handler in stmt.handlers:
                found += _module_level(handler.body)
    return found


def _is_lazy(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in tree.body)


def _lazy_packages(known: dict[str, Path]) -> set[str]:
    return {name for name, path in known.items() if path.name == "__init__.py" and _is_lazy(ast.parse(path.read_text()))}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             known: dict[str, Path], lazy: set[str] = frozenset()) -> tuple[list[str], set[str]]:
    """(first-party modules, third-party top-level packages) one import statement loads.
    `from pkg import sub` counts as the module `pkg.sub` only, not as `pkg`'s own body; `from pkg
    import name` of a lazy package (`__getattr__`) counts as any of its modules (the name's is found
    at run time)."""
    first: list[str] = []
    third: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in FIRST_PARTY:
                first += [alias.name] if alias.name in known else []
            else:
                third.add(alias.name.split(".")[0])
        return first, third
    if node.level:
        base = module.split(".")
        base = base[:len(base) - node.level + (1 if is_package else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] not in FIRST_PARTY:
        third.add(target.split(".")[0])
        return first, third
    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
    first += subs
    if len(subs) < len(node.names) and target in known:
        first.append(target)
        if target in lazy:
            first += [m for m in known if m.startswith(target + ".") and m.count(".") == target.count(".") + 1]
    return first, third


def module_graph() -> dict[str, Module]:
    known = sources()
    lazy = _lazy_packages(known)
    graph: dict[str, Module] = {}
    for name, path in known.items():
        mod = Module(name, path, lazy=name in lazy)
        for node in _module_level(ast.parse(path.read_text()).body):
            first, third = _targets(node, name, path.name == "__init__.py", known, lazy)
            mod.imports.update(first)
            mod.heavy.update(third & HEAVY)
        mod.imports.discard(name)
        graph[name] = mod
    return graph


def function_imports() -> list[FunctionImport]:
    known = sources()
    lazy = _lazy_packages(known)
    found: list[FunctionImport] = []
    for name, path in known.items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    first, _ = _targets(node, name, path.name == "__init__.py", known, lazy)
                    if first:
                        found.append(FunctionImport(name, fn.name, node.lineno, tuple(first)))
    return found


def loads(graph: dict[str, Module], start: str, parents: bool = True) -> set[str]:
    """Every first-party module importing `start` runs, itself included; with `parents`, the parent
    packages' bodies too (what an import costs). Without, only the explicit imports (what can close a
    cycle: a parent package already being imported is not run again)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in graph:
            continue
        seen.add(name)
        parts = name.split(".")
        if parents:
            todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += graph[name].imports
    return seen


def heavy_of(graph: dict[str, Module], start: str) -> set[str]:
    return set().union(*(graph[m].heavy for m in loads(graph, start)))


def why_inside(graph: dict[str, Module], imp: FunctionImport) -> str | None:
    """Why `imp` must stay inside its function ("defers torch", "breaks a cycle"), None if it need not."""
    mine = heavy_of(graph, imp.module)
    extra = set().union(*(heavy_of(graph, t) for t in imp.targets)) - mine
    if extra:
        return "defers " + ", ".join(sorted(extra))
    if any(imp.module in loads(graph, t, parents=False) for t in imp.targets):
        return "breaks a cycle"
    return None
