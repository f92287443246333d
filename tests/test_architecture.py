"""The layout of docs/ARCHITECTURE.md, kept true: import direction between floors, no import cycles.

Floors, from the bottom: the shared base (`ssrl_core.paths`, `io`, `jobs`, `devices`, `params`, `weights`,
`lpips_jax`, `perceptual`) -> data -> augment -> models / methods -> train -> evaluate -> sweeps ->
the command line and the app (`ssrl_core.cli`, `ssrl_app`, `pages`, `app.py`). A module may import
its own floor and the floors below, never one above; `evaluate` in particular never imports `train`
(the checkpoint contract is `ssrl_core.models.encoder_file`). The paper pipeline (`paper/`, the
`ssrl-paper` command) sits beside the product, on top: it imports `ssrl_core` and nothing of the
app, and no product module imports it. Every import counts, also one inside a function; imports
under `if TYPE_CHECKING:` do not (they never run). Imports are read with `ast`, nothing is imported.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from app_support import ROOT

BASE = ("paths", "io", "jobs", "devices", "params", "weights", "lpips_jax", "perceptual", "csvio", "oserrors",
        "checksums")
FLOORS = {"base": 0, "data": 1, "augment": 2, "models": 3, "methods": 3, "train": 4, "evaluate": 5,
          "sweeps": 6, "cli": 7, "app": 7, "paper": 8}
PRODUCT = ("ssrl_core", "ssrl_app", "pages", "app")

# Known exceptions, each with the issue that tracks it. Nothing else may cross a floor upwards.
ALLOWED_UPWARDS: set[tuple[str, str]] = set()
# Sweeps train each point, so they are their own floor above training and evaluation
# (`ssrl_core.sweeps`); no evaluate module imports train.
EVALUATE_IMPORTS_TRAIN: set[str] = set()
# Import cycles still present, one entry per strongly connected component (none: the last one,
# data/npz -> data/mitocheck -> data/folder -> data/npz, went with data/mitocheck_names.py).
KNOWN_CYCLES: list[frozenset[str]] = []


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = list((ROOT / "ssrl_core").rglob("*.py")) + list((ROOT / "ssrl_app").rglob("*.py"))
    files += list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"] + list((ROOT / "paper").rglob("*.py"))
    return {_module_name(f): f for f in files if "__pycache__" not in f.parts}


SOURCES = _sources()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> set[str]:
    """The first-party modules `module` imports (a `from pkg import name` counts `pkg.name` when
    that is a module of ours, else `pkg`)."""
    path = SOURCES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in SOURCES else target for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in SOURCES:  # `import ssrl_core.train.jobs` -> that module
                name = name.rpartition(".")[0]
            if name and name != module and name.split(".")[0] in ("ssrl_core", "ssrl_app", "pages", "paper"):
                out.add(name)
    return out


def floor_of(module: str) -> int | None:
    """The floor of a module; None for package roots that only gather names (`ssrl_core`)."""
    parts = module.split(".")
    if parts[0] in ("ssrl_app", "pages", "app"):
        return FLOORS["app"]
    if parts[0] == "paper":
        return FLOORS["paper"]
    if len(parts) == 1:
        return None
    if parts[1] in BASE:
        return FLOORS["base"]
    if parts[1] == "__main__":
        return FLOORS["cli"]
    return FLOORS[parts[1]]


def test_every_module_has_a_floor() -> None:
    unknown = [m for m in SOURCES if m.startswith("ssrl_core.") and m.split(".")[1] not in FLOORS
               and m.split(".")[1] not in BASE + ("__main__",)]
    assert not unknown, f"modules outside the documented floors (add them to docs/ARCHITECTURE.md): {unknown}"


def test_no_floor_imports_a_higher_floor() -> None:
    bad = []
    for module in sorted(SOURCES):
        here = floor_of(module)
        if here is None:
            continue
        for target in sorted(imports_of(module)):
            there = floor_of(target)
            if there is None or there <= here:
                continue
            if any(module == a and (target == b or target.startswith(b + ".")) for a, b in ALLOWED_UPWARDS):
                continue
            bad.append(f"{module} -> {target}")
    assert not bad, "a lower floor imports a higher one:\n  " + "\n  ".join(bad)


def test_the_product_never_imports_the_paper_pipeline() -> None:
    """`ssrl_core`, `ssrl_app`, the pages and app.py work without `paper/` (issue 26 item 2): what the app
    needs from the reproduction (the held-out rules, the sweep summary) it reads from `pretrained/`.
    The paper pipeline uses the core only, never the app."""
    product = [f"{m} -> {t}" for m in SOURCES if m.split(".")[0] in PRODUCT for t in imports_of(m)
               if t.split(".")[0] == "paper"]
    assert not product, "the product imports the paper pipeline:\n  " + "\n  ".join(product)
    paper = [f"{m} -> {t}" for m in SOURCES if m.split(".")[0] == "paper" for t in imports_of(m)
             if t.split(".")[0] not in ("paper", "ssrl_core")]
    assert not paper, "the paper pipeline imports the app:\n  " + "\n  ".join(paper)
    assert any(m.startswith("paper.") for m in SOURCES) and "ssrl_core.reproduce" not in SOURCES
    assert "paper.plan" in imports_of("paper.runner")  # the checker sees the paper's own imports


def test_evaluate_never_imports_train_and_pages_use_the_public_core() -> None:
    """`evaluate` reads checkpoints through `models.encoder_file`; pages import `ssrl_app` and
    `ssrl_core` names, never another page."""
    evaluate_train = {m for m in SOURCES if m.startswith("ssrl_core.evaluate")
                      and any(t.startswith("ssrl_core.train") for t in imports_of(m))}
    assert evaluate_train == EVALUATE_IMPORTS_TRAIN, (
        "evaluate modules importing train (only the known exception may, and it must still need to: "
        f"update EVALUATE_IMPORTS_TRAIN when it is fixed): {sorted(evaluate_train)}")
    page_page = [f"{m} -> {t}" for m in SOURCES if m.startswith("pages.") for t in imports_of(m)
                 if t.startswith("pages")]
    assert not page_page


def _cycles() -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan) over the imports of ssrl_core
    and of the paper pipeline."""
    ours = ("ssrl_core", "paper")
    graph = {m: {t for t in imports_of(m) if t.startswith(ours)} for m in SOURCES if m.startswith(ours)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    found = _cycles()
    cycles = [c for c in found if c not in KNOWN_CYCLES]
    assert not cycles, "import cycles among ssrl_core modules:\n  " + "\n  ".join(
        " <-> ".join(sorted(c)) for c in cycles)
    fixed = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not fixed, f"these known cycles are gone: remove them from KNOWN_CYCLES: {fixed}"


def test_known_upward_imports_are_still_needed() -> None:
    """An exception that is no longer needed is removed, so the list only shrinks."""
    stale = [f"{a} -> {b}" for a, b in ALLOWED_UPWARDS
             if a in SOURCES and not any(t == b or t.startswith(b + ".") for t in imports_of(a))]
    assert not stale, f"remove from ALLOWED_UPWARDS (fixed): {stale}"


def test_the_checker_sees_a_real_upward_import() -> None:
    """The parser is not blind: the CLI imports training, and training imports the data floor."""
    assert "ssrl_core.train.jobs" in imports_of("ssrl_core.cli.train_cmds")
    assert floor_of("ssrl_core.train.loop") > floor_of("ssrl_core.data.cellset")
    assert any(t.startswith("ssrl_core.data") for t in imports_of("ssrl_core.train.data"))


# issue 11: pages and app modules go through ssrl_app/shell/state.py for the session state. Files that
# may still touch st.session_state or spell a key themselves (none now; keep it empty).
RAW_STATE: set[str] = set()


@functools.cache
def _run_fields() -> dict[str, ast.Call]:
    """The run config's fields as declared in `train.fields.FIELDS` (dotted path -> its `Param` call):
    a path such as `data.max_cells` names a run field, not a session-state key."""
    tree = ast.parse(SOURCES["ssrl_core.train.fields"].read_text(encoding="utf-8"))
    table = next(n.value for n in ast.walk(tree)
                 if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "FIELDS")
    keys = [k.value for k in table.keys]
    assert len(keys) == len(set(keys)), "a run field declared twice in train.fields.FIELDS"
    return dict(zip(keys, table.values))


def _raw_state(tree: ast.AST) -> list[str]:
    """`st.session_state` uses, and key texts of the app's own state (`"ssrl.x"`), in one file."""
    found = [f"line {n.lineno}: st.session_state" for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and n.attr == "session_state"]
    found += [f"line {n.lineno}: {n.value!r}" for n in ast.walk(tree)
              if isinstance(n, ast.Constant) and isinstance(n.value, str)
              and re.fullmatch(r"(ssrl|data|plate|aug)\.[a-z_]+", n.value) and n.value not in _run_fields()]
    return found


def test_pages_reach_the_session_state_through_state_py() -> None:
    app = {m: p for m, p in SOURCES.items() if m == "app" or m.startswith(("pages.", "ssrl_app."))}
    bad = {m: f for m, p in app.items() if m != "ssrl_app.shell.state" and m not in RAW_STATE
           and (f := _raw_state(ast.parse(p.read_text(encoding="utf-8"))))}
    assert not bad, f"use ssrl_app.shell.state's keys and get/put/pop/setdefault/bump/forget: {bad}"
    still = [m for m in RAW_STATE if not _raw_state(ast.parse(app[m].read_text(encoding="utf-8")))]
    assert not still, f"these files no longer touch the raw session state: remove them from RAW_STATE: {still}"
    assert _raw_state(ast.parse('st.session_state["ssrl.x"] = 1')) == [
        "line 1: st.session_state", "line 1: 'ssrl.x'"]  # the checker sees a raw use


def test_streamlit_internals_stay_in_one_function() -> None:
    """Only `ssrl_app.shell.entry` touches Streamlit's private modules (`streamlit.runtime`, `streamlit.web`,
    `streamlit.elements`); `tests/test_streamlit_internals.py` pins what it relies on."""
    private = ("streamlit.runtime", "streamlit.web", "streamlit.elements", "streamlit.proto")
    found = []
    for module, path in SOURCES.items():
        if module == "ssrl_app.shell.entry":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{module}: {n}" for n in names if n.startswith(private)]
    assert not found, f"Streamlit internals outside ssrl_app/shell/entry.py: {found}"


def test_no_module_over_300_lines() -> None:
    """Short modules with one job each (docs/ARCHITECTURE.md): split where a second concept lives inside."""
    long = {m: n for m, p in SOURCES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert not long, f"modules over 300 lines: {long}"


# issue 26 item 5: one table of data sources (`ssrl_core/data/sources.py`). Inside the data floor,
# only the table and each source's own module (its name, channels, reader, download) name a
# dataset; every other module works on any dataset and guesses nothing from a file's name.
DATASET_WORDS = ("cifar10", "bbbc021", "mitocheck", "mnist", "demo_nuclei")
SOURCE_MODULES = {"ssrl_core.data.sources", "ssrl_core.data.cifar10", "ssrl_core.data.bbbc021",
                  "ssrl_core.data.mitocheck", "ssrl_core.data.mitocheck_names", "ssrl_core.data.mnist",
                  "ssrl_core.data.demo", "ssrl_core.data.samples", "ssrl_core.data.samples.build"}


def _dataset_words(tree: ast.AST) -> list[str]:
    """Dataset names in a module's code (strings, names, imports; not its docstrings or comments)."""
    docs = {id(b[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and (b := n.body) and isinstance(b[0], ast.Expr) and isinstance(b[0].value, ast.Constant)}
    words: list[tuple[int, str]] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            words.append((n.lineno, n.value))
        elif isinstance(n, ast.Name):
            words.append((n.lineno, n.id))
        elif isinstance(n, ast.Attribute):
            words.append((n.lineno, n.attr))
        elif isinstance(n, ast.alias):
            words.append((getattr(n, "lineno", 0), n.name))
        elif isinstance(n, ast.ImportFrom):
            words.append((n.lineno, n.module or ""))
    return [f"line {line}: {text!r}" for line, text in words if any(w in text.lower() for w in DATASET_WORDS)]


def test_only_the_source_table_names_datasets_in_the_data_floor() -> None:
    data = {m: p for m, p in SOURCES.items() if m.startswith("ssrl_core.data")}
    assert SOURCE_MODULES <= set(data), sorted(SOURCE_MODULES - set(data))
    bad = {m: found for m, p in data.items() if m not in SOURCE_MODULES
           and (found := _dataset_words(ast.parse(p.read_text(encoding="utf-8"))))}
    assert not bad, f"dataset names outside ssrl_core/data/sources.py and the sources' own modules: {bad}"
    assert _dataset_words(ast.parse('"""BBBC021 in a docstring is fine."""\nif "bbbc021" in stem: pass')) == [
        "line 2: 'bbbc021'"]  # the checker sees a name guess, not the docstring


def test_run_settings_import_in_one_direction() -> None:
    """issue 26: `train.fields` declares, `train.checks` validates from it, `train.overrides` edits a
    plain dict and imports neither, `train.config` builds on all three (no triangle)."""
    train = {m for m in SOURCES if m.startswith("ssrl_core.train.")}
    assert not imports_of("ssrl_core.train.overrides") & train, imports_of("ssrl_core.train.overrides")
    assert not imports_of("ssrl_core.train.fields") & train
    assert imports_of("ssrl_core.train.checks") & train == {"ssrl_core.train.fields"}
    assert {"ssrl_core.train.fields", "ssrl_core.train.checks", "ssrl_core.train.overrides"} <= \
        imports_of("ssrl_core.train.config")


def _calls(tree: ast.AST, *names: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", None)) in names]


def _number(node: ast.AST | None) -> bool:
    node = node.operand if isinstance(node, ast.UnaryOp) else node
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def test_each_run_field_is_declared_once_with_its_default_and_range() -> None:
    """Every field of `RunConfig` and its sections is `declared(PATH)` once in train/config.py, each
    PATH has one declaration in `train.fields.FIELDS` with a default and (numbers) a range, no other
    training module declares a `Param`, and the Train page writes no range of its own."""
    declared = _run_fields()
    for path, call in declared.items():
        kind, default = call.args[0].value, call.args[1]
        assert isinstance(default, (ast.Constant, ast.Dict, ast.UnaryOp)), path
        if kind in ("int", "float"):
            low, high = call.args[3], call.args[4]
            assert _number(low) or isinstance(low, (ast.Name, ast.BinOp)), path
            # the learning rate alone has no upper bound: a huge one ends in a plain "loss became NaN"
            assert path == "lr" or not (isinstance(high, ast.Constant) and high.value is None), path
    config_tree = ast.parse(SOURCES["ssrl_core.train.config"].read_text(encoding="utf-8"))
    used = [c.args[0].value for c in _calls(config_tree, "declared")]
    assert sorted(used) == sorted(declared), "each declared field used once by the dataclasses, and only those"
    others = [m for m in SOURCES if m.startswith("ssrl_core.train.") and m != "ssrl_core.train.fields"
              and _calls(ast.parse(SOURCES[m].read_text(encoding="utf-8")), "Param")]
    assert not others, f"run fields are declared in ssrl_core/train/fields.py only: {others}"
    ranges = _own_ranges(ast.parse(SOURCES["pages.train"].read_text(encoding="utf-8")))
    assert not ranges, f"pages/train.py draws a run field with a range of its own (use train.fields): {ranges}"
    assert _own_ranges(ast.parse("box.number_input('x', 0, max_value=10)")) == ["line 1"]  # the scan sees one


def _own_ranges(tree: ast.AST) -> list[str]:
    """Number boxes and sliders given a numeric literal as their bounds or value."""
    return [f"line {c.lineno}" for c in _calls(tree, "number_input", "slider", "number", "setting")
            if any(_number(a) for a in c.args[1:3])
            or any(_number(k.value) for k in c.keywords if k.arg in ("min_value", "max_value", "value"))]


# issue 26 item 4: `ssrl_app/` by role. `shell/` is the app's frame and what several pages share
# (state, page, session, sidebar, loaders, errors, entry, selection, charts, images, ...); each page
# that has widgets of its own keeps them in a sub-package named after it (`home` is app.py's Home
# page). Rules with no Streamlit in them live in ssrl_core, so the CLI applies them too.
PAGE_OF_PACKAGE = {"home": "app", "augment": "pages.augment", "data": "pages.data", "explore": "pages.explore",
                   "train": "pages.train", "bias": "pages.bias"}


def _app_package(module: str) -> str | None:
    """`shell`, a page package's name, or None for a module at the top of ssrl_app (or outside it)."""
    parts = module.split(".")
    if parts[0] != "ssrl_app" or len(parts) < 2:
        return None
    return parts[1] if len(parts) > 2 or (ROOT / "ssrl_app" / parts[1]).is_dir() else None


def test_app_modules_sit_by_role() -> None:
    """Every sub-package of ssrl_app is the shell or a page's; the shell imports no page package; a
    page package is imported only by its page and its own modules (and tests); no module sits at the
    top of ssrl_app."""
    packages = {p.name for p in (ROOT / "ssrl_app").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages - {"shell"} <= set(PAGE_OF_PACKAGE), f"ssrl_app sub-packages that are no page's: {packages}"
    assert "shell" in packages and {"augment", "data", "explore", "train", "home", "bias"} <= packages
    for name, page in PAGE_OF_PACKAGE.items():
        assert name not in packages or page in SOURCES, f"ssrl_app/{name}/ has no page {page}"
    graph = {m: imports_of(m) for m in SOURCES}
    bad = []
    for module in sorted(SOURCES):
        for target in sorted(graph[module]):
            where = _app_package(target)
            if where is None or where == "shell" or _app_package(module) == where:
                continue
            if module != PAGE_OF_PACKAGE[where]:
                bad.append(f"{module} -> {target} (only {PAGE_OF_PACKAGE[where]} may)")
    assert not bad, "a page's own widgets used elsewhere (move them to ssrl_app/shell/):\n  " + "\n  ".join(bad)
    top = sorted(m for m in SOURCES if m.startswith("ssrl_app.") and m.count(".") == 1 and _app_package(m) is None)
    assert not top, f"modules at the top of ssrl_app (put each in ssrl_app/shell/ or its page's folder): {top}"


def _imports_streamlit(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
            return True
    return False


def test_streamlit_stays_in_the_app() -> None:
    """Only the app (`app.py`, `pages/`, `ssrl_app/`) imports Streamlit: ssrl_core, the CLI and
    everything else in the repository run without it (the tests drive the app, so they may)."""
    skip = {".venv", "__pycache__", "tests", ".git", "data", ".cache", "runs"}
    outside = [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)
               and p.relative_to(ROOT).parts[0] not in ("ssrl_app", "pages") and p.name != "app.py"]
    assert any(p.relative_to(ROOT).parts[0] == "ssrl_core" for p in outside)
    found = sorted(str(p.relative_to(ROOT)) for p in outside if _imports_streamlit(p))
    assert not found, f"Streamlit imported outside the app: {found}"
    assert _imports_streamlit(ROOT / "ssrl_app" / "shell" / "state.py")  # the checker sees an import


def test_app_modules_without_streamlit_are_display_or_session_helpers() -> None:
    """The app's modules that never import Streamlit are display helpers (colours, labels, figures,
    pictures) or the app's own bookkeeping; a new one is a domain rule in disguise until shown
    otherwise: put the rule in ssrl_core (as `models.fit` and `train.estimate`) and list it here."""
    known = {"ssrl_app", "ssrl_app.shell", "ssrl_app.augment", "ssrl_app.data", "ssrl_app.explore",
             "ssrl_app.train", "ssrl_app.home", "ssrl_app.bias", "ssrl_app.shell.charts",
             "ssrl_app.shell.figures", "ssrl_app.shell.images", "ssrl_app.shell.labels", "ssrl_app.shell.uploads",
             "ssrl_app.shell.checkpoints", "ssrl_app.shell.estimate", "ssrl_app.shell.precompute",
             "ssrl_app.augment.finetune"}
    plain = {m for m, p in SOURCES.items() if m.startswith("ssrl_app") and not _imports_streamlit(p)}
    assert plain <= known, f"app modules without Streamlit, not known as display helpers: {sorted(plain - known)}"


def test_tests_mirror_the_packages() -> None:
    """issue 26 item 7: tests sit by what they test (`tests/core/<package>`, `tests/app`, `tests/browser`,
    `tests/cli`, `tests/paper`); only the layout checks stay at the top. File names are unique across
    folders (pytest imports test files by name)."""
    tests = ROOT / "tests"
    packages = {p.name for p in (ROOT / "ssrl_core").iterdir() if (p / "__init__.py").is_file()}
    allowed = {"app", "browser", "cli", "paper", "core"} | {f"core/{p}" for p in packages}
    files = [p for p in tests.rglob("test_*.py") if "data" not in p.relative_to(tests).parts[:1]]
    where = {p.parent.relative_to(tests).as_posix() for p in files}
    assert where - {"."} <= allowed, sorted(where - {"."} - allowed)
    assert {p.name for p in files if p.parent == tests} == {"test_architecture.py", "test_function_imports.py"}
    names = [p.name for p in files]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert len(where) >= 10  # the suite is spread over the packages


def test_every_long_file_of_the_suite_order_is_one_test_file() -> None:
    """`LONG_FILES_FIRST` (conftest.py) names real files: a renamed file would silently lose its place."""
    from conftest import LONG_FILES_FIRST

    tests = Path(__file__).parent
    for name in LONG_FILES_FIRST:
        found = list(tests.rglob(name))
        assert len(found) == 1, f"{name}: {found or 'no such test file'}"
    assert len(set(LONG_FILES_FIRST)) == len(LONG_FILES_FIRST)
