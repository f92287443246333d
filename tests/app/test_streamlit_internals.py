"""The one Streamlit internal the app relies on (and the one the tests' speed relies on), checked so
an upgrade fails here, loudly.

A top-level `pages/` folder puts a fresh Streamlit server in its older multipage mode (each page file
run on its own, without app.py's sidebar). Streamlit 1.67 offers no public switch, so
`ssrl_app.shell.entry` flips `PagesManager.uses_pages_directory`; these tests pin that behaviour, and
`tests/test_architecture.py` keeps every other module free of `streamlit.runtime`.
"""

from __future__ import annotations

import streamlit

from ssrl_app.shell import entry

from app_support import ROOT


def test_streamlit_still_detects_a_pages_folder_the_way_entry_undoes(tmp_path):
    manager = entry._pages_manager()
    assert manager is not None, (f"Streamlit {streamlit.__version__} has no PagesManager.uses_pages_directory: "
                                 "find the new way to leave the pages/ mode in ssrl_app/shell/entry.py")
    saved = manager.uses_pages_directory
    try:
        (tmp_path / "pages").mkdir()
        (tmp_path / "app.py").write_text("")
        manager.uses_pages_directory = None  # as a fresh server starts
        manager(str(tmp_path / "app.py"))
        assert entry.in_pages_directory_mode(), "a pages/ folder no longer starts the old mode: entry.py may go"
        assert entry.end_pages_directory_mode() is True
        assert not entry.in_pages_directory_mode()
        assert entry.end_pages_directory_mode() is False  # once is enough
    finally:
        manager.uses_pages_directory = saved


def test_the_app_runs_its_pages_through_navigation():
    """app.py's navigation names every page file, so `st.navigation` (the public way) is what runs them."""
    root = ROOT
    source = (root / "app.py").read_text(encoding="utf-8")
    assert "st.navigation(" in source
    for page in sorted((root / "pages").glob("*.py")):
        assert f"pages/{page.name}" in source, f"{page.name} is not in app.py's navigation"


def test_apptest_still_finds_components_through_the_scanner_the_tests_scan_once():
    """`tests/conftest.py` scans the installed packages for components once per process: each AppTest
    must still get them from `manifest_scanner.scan_component_manifests` (else the scan runs per AppTest
    again, or the tests no longer see what a server sees)."""
    import inspect

    from streamlit.components.v2 import component_manager, manifest_scanner

    source = inspect.getsource(component_manager.BidiComponentManager.discover_and_register_components)
    assert "scan_component_manifests" in source and "manifest_scanner" in source
    assert callable(getattr(manifest_scanner, "scan_component_manifests", None))
