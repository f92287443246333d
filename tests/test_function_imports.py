"""Imports sit at the top of their module, unless one inside a function has a reason (issue 26 item 7).

A first-party import inside a function stays there only when moving it to the top would make its
module import a heavy package it does not import yet (torch, UMAP, Streamlit...: the app's first paint
and `ssrl --help` must not wait for them) or would close an import cycle; `tests/import_graph.py` reads
the imports with `ast`. Every other one is named here, with its file and line, to be moved up.
"""

from __future__ import annotations

from pathlib import Path

from import_graph import ROOT, FunctionImport, Module, function_imports, module_graph, why_inside


def test_function_level_imports_defer_a_heavy_package_or_break_a_cycle() -> None:
    graph = module_graph()
    found = function_imports()
    assert len(found) > 20  # the reader sees them
    movable = [f"{graph[i.module].path.relative_to(ROOT)}:{i.line} ({i.function}: {', '.join(i.targets)})"
               for i in found if why_inside(graph, i) is None]
    assert not movable, "move these imports to the top of their module:\n" + "\n".join(movable)


def test_the_reader_tells_a_deferred_heavy_import_from_a_movable_one() -> None:
    graph = module_graph()
    assert "torch" in graph["ssrl_core.models.backbones"].heavy and not graph["ssrl_core.paths"].heavy
    heavy = why_inside(graph, FunctionImport("ssrl_core.paths", "f", 1, ("ssrl_core.models.backbones",)))
    assert heavy is not None and heavy.startswith("defers torch")
    assert why_inside(graph, FunctionImport("ssrl_core.models.backbones", "f", 1, ("ssrl_core.paths",))) is None
    # a.x imports a.y at the top: a.y importing a.x, even inside a function, would close a cycle
    toy = {"a": Module("a", Path("a/__init__.py")), "a.x": Module("a.x", Path("a/x.py"), {"a.y"}),
           "a.y": Module("a.y", Path("a/y.py"))}
    assert why_inside(toy, FunctionImport("a.y", "f", 1, ("a.x",))) == "breaks a cycle"
    assert why_inside(toy, FunctionImport("a.x", "f", 1, ("a.y",))) is None
