"""Making sure every page runs through app.py (navigation, sidebar, page settings).

Streamlit's older multipage mode runs a file of a `pages/` folder on its own. A fresh server
starts in that mode (the product's layout names a top-level `pages/` folder), so a first visit
straight to e.g. /augment would show that page without the shared sidebar. The app calls
`st.navigation`, which ends that mode; each page calls `through_app()` first (through
`ssrl_app.shell.page.open_page`), which ends it too and reruns through app.py if needed.

Streamlit 1.67 has no public switch for this (its docs advise not to name the folder `pages/`
when using `st.navigation`), so the one private flag it keeps, `PagesManager.uses_pages_directory`,
is read and written here and nowhere else: the tests reuse `end_pages_directory_mode`, and
`tests/test_streamlit_internals.py` fails loudly when an upgrade renames or moves it.
"""

from __future__ import annotations

import streamlit as st


def _pages_manager():
    """Streamlit's private PagesManager class, or None when this Streamlit has none."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return None
    return PagesManager if hasattr(PagesManager, "uses_pages_directory") else None


def in_pages_directory_mode() -> bool:
    """True while Streamlit runs `pages/` files on their own (the older multipage mode)."""
    manager = _pages_manager()
    return bool(manager is not None and manager.uses_pages_directory)


def end_pages_directory_mode() -> bool:
    """Leave the older multipage mode for good (as `st.navigation` does); True if it was on."""
    manager = _pages_manager()
    if manager is None or not manager.uses_pages_directory:
        return False
    manager.uses_pages_directory = False
    return True


def through_app() -> None:
    """Rerun through app.py when Streamlit ran this page file directly (old `pages/` mode)."""
    if end_pages_directory_mode():
        st.rerun()
