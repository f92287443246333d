"""Making sure every page runs through app.py (navigation, sidebar, page settings).

Streamlit's older multipage mode runs a file of a `pages/` folder on its own. A fresh server
starts in that mode, so a first visit straight to e.g. /augment would show that page without
the shared sidebar. The app calls `st.navigation`, which ends that mode; each page calls
`through_app()` first (through `ssrl_app.page.open_page`), which ends it too and reruns
through app.py if needed.
"""

from __future__ import annotations

import streamlit as st


def through_app() -> None:
    """Rerun through app.py when Streamlit ran this page file directly (old `pages/` mode)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this internal: nothing to fix
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
