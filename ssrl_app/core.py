"""Importing ssrl_core parts from a page, with a plain message when a part is missing.

The pages only read widgets, call `ssrl_core` and draw. If a part of the core is not installed
(or fails to import), the page says so in words instead of showing a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType
from typing import Iterator

import streamlit as st

# Problems a user can cause or fix (bad file, bad YAML, no network, a checkpoint that does not
# fit): shown as a sentence, never as a traceback.
EXPECTED = (ValueError, FileNotFoundError, KeyError, RuntimeError, PermissionError, OSError,
            TimeoutError, ConnectionError)


def need(module: str, what: str) -> ModuleType:
    """Import `module` or stop the page with "`what` is not available in this installation"."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        st.info(f"{what} is not available in this installation yet ({exc}).")
        st.stop()
        raise  # unreachable: st.stop() raises


def optional(module: str) -> ModuleType | None:
    """Import `module`, or None when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@contextlib.contextmanager
def plain_errors(what: str, stop: bool = False) -> Iterator[None]:
    """Show an expected problem as one plain sentence (`what`: the action that failed)."""
    try:
        yield
    except EXPECTED as exc:
        st.error(f"{what}: {message(exc)}")
        if stop:
            st.stop()


def message(exc: BaseException) -> str:
    """The user-facing text of an exception (KeyError's quotes removed)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text or type(exc).__name__
