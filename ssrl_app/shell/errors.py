"""Plain-words errors for the pages: an expected problem is one sentence, never a traceback.

The pages only read widgets, call `ssrl_core` and draw. A problem the user can cause or fix (a bad
file, bad YAML, no network, a checkpoint that does not fit) is shown with `plain_errors` or
`message`; anything else is a bug: its traceback goes to the server's log, and the browser gets
one plain sentence (`.streamlit/config.toml` sets `showErrorDetails = "none"` for the rest).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import streamlit as st

from ssrl_core.oserrors import plain

LOG = logging.getLogger("ssrl_app")

# Problems a user can cause or fix (bad file, bad YAML, no network, a checkpoint that does not
# fit): shown as a sentence, never as a traceback.
EXPECTED = (ValueError, FileNotFoundError, KeyError, RuntimeError, PermissionError, OSError,
            TimeoutError, ConnectionError, MemoryError)


@contextlib.contextmanager
def plain_errors(what: str, stop: bool = False) -> Iterator[None]:
    """Show an expected problem as one plain sentence (`what`: the action that failed)."""
    try:
        yield
    except EXPECTED as exc:
        st.error(f"{what}: {message(exc)}")
        if stop:
            st.stop()
    except Exception as exc:  # a bug: the traceback stays on the server, never in the browser
        LOG.exception("%s: unexpected error", what)
        st.error(f"{what}: an unexpected error ({type(exc).__name__}); the details are in the server's log.")
        if stop:
            st.stop()


@contextlib.contextmanager
def at_the_edge(what: str = "This page") -> Iterator[None]:
    """The app's edge for what the operating system refuses (a full disk, a read-only folder,
    `SSRL_RUNS` pointing at a file, too little memory): one plain sentence with the file and what
    to do, instead of Streamlit's redacted error. `app.py` runs every page inside it."""
    try:
        yield
    except (OSError, MemoryError) as exc:
        LOG.warning("%s: %s", what, exc)
        st.error(f"{what} could not go on: {message(exc)}")


def message(exc: BaseException) -> str:
    """The user-facing text of an exception: the CLI's words (`ssrl_core.oserrors.plain`: a full
    disk, a read-only folder and the like said with the file and what to do; KeyError's quotes
    removed)."""

    return plain(exc)
