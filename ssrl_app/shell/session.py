"""A browser refresh keeps the session: the choices live in a small file named in the URL.

Every script run ends with `save()`: the dataset, the cell selection (filters), the checkpoint
in use, the two Augment recipes, the followed run and the imported folders are written (only when
they changed) to `cache_dir()/sessions/<id>.json`, and the URL gets `?s=<id>`. A refresh (a new
Streamlit session with the same URL) calls `restore()` at its first run, which reads the file
back. The same content can be downloaded ("Save this session") and opened again later, on this
or another computer ("Open a session").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import streamlit as st

from ssrl_app.shell import state
from ssrl_core import paths
from ssrl_core.io import atomic_write_text

PARAM = "s"
VERSION = 1
_ID = re.compile(r"^[0-9a-f]{12}$")


def _file(sid: str) -> Path:
    return paths.cache_dir() / "sessions" / f"{sid}.json"


def snapshot() -> dict[str, Any]:
    """What a session keeps, as plain JSON-able data."""
    out: dict[str, Any] = {"format": "ssrl-session", "version": VERSION}
    for key, name in ((state.DATASET, "dataset"), (state.CHECKPOINT, "checkpoint"), (state.ACTIVE_RUN, "run"),
                      (state.FILTERS, "filters"), (state.EXTRA_DATASETS, "imported")):
        value = state.get(key)
        if value:
            out[name] = value
    for key, name in ((state.RECIPE_A, "recipe_a"), (state.RECIPE_B, "recipe_b")):
        r = state.get(key)
        if r is not None and hasattr(r, "to_dict"):
            out[name] = r.to_dict()
    shown = state.get(state.EMBED_RESULT)
    if isinstance(shown, dict) and "index" in shown:  # what Explore showed (its numbers are cached on disk)
        out["explore"] = {"dataset": shown["dataset"], "encoder": shown["encoder"], "label": shown["label"],
                          "cells": [int(i) for i in shown["index"]]}
    return out


def apply(data: dict[str, Any]) -> list[str]:
    """Put a snapshot back into the session state; returns the problems (e.g. a file now gone)."""
    from ssrl_core.augment import Recipe

    if not isinstance(data, dict) or data.get("format") != "ssrl-session":
        raise ValueError("this is not a session file saved by this app")
    problems = []
    state.forget("w.data.f.")  # the Data page's filter boxes show the opened filters
    imported = [p for p in data.get("imported", []) if Path(str(p)).exists()]
    problems += [f"the imported folder {p} is gone" for p in data.get("imported", []) if p not in imported]
    if imported:
        state.put(state.EXTRA_DATASETS, imported)
    if isinstance(data.get("filters"), dict):
        state.put(state.FILTERS, {str(k): dict(v) for k, v in data["filters"].items() if isinstance(v, dict)})
    if data.get("dataset"):
        state.put(state.PENDING_DATASET, str(data["dataset"]))
    ckpt = data.get("checkpoint")
    if ckpt and (not str(ckpt).endswith(".pt") or Path(str(ckpt)).is_file()):
        state.put(state.CHECKPOINT, str(ckpt))
    elif ckpt:
        problems.append(f"the checkpoint {Path(str(ckpt)).name} is gone")
    if data.get("run") and Path(str(data["run"])).is_dir():
        state.put(state.ACTIVE_RUN, str(data["run"]))
    for key, name in ((state.RECIPE_A, "recipe_a"), (state.RECIPE_B, "recipe_b")):
        if isinstance(data.get(name), dict):
            try:
                state.put(key, Recipe.from_dict(data[name]))
            except ValueError as exc:
                problems.append(f"{name.replace('_', ' ')} could not be read ({exc})")
    if isinstance(data.get("explore"), dict) and data["explore"].get("cells"):
        state.put(state.PENDING_EMBED, dict(data["explore"]))  # Explore shows it again (from the disk cache)
    state.bump(state.RECIPE_VERSION)
    return problems


def restore() -> None:
    """At a session's first run: adopt the URL's session id and read its file back."""
    if state.get(state.RESTORED):
        return
    state.put(state.RESTORED, True)
    sid = str(st.query_params.get(PARAM, ""))
    if not _ID.match(sid):
        return
    state.put(state.SESSION_ID, sid)  # the same uploads folder as before the refresh
    path = _file(sid)
    if path.is_file():
        try:
            apply(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):  # a damaged file: start afresh
            pass


def save() -> None:
    """Write this session's file when it changed, and name it in the URL."""
    sid = state.session_id()
    text = json.dumps(snapshot(), sort_keys=True, default=str)
    if state.get(state.SESSION_SAVED) != text:
        try:
            path = _file(sid)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
            state.put(state.SESSION_SAVED, text)
        except OSError:  # a read-only cache: the session is simply not kept
            return
    if st.query_params.get(PARAM) != sid:
        st.query_params[PARAM] = sid


def sidebar_box() -> None:
    """"Save this session" (a JSON download) and "Open a session" in the sidebar."""
    with st.sidebar.expander("Session"):
        st.caption("Kept across refreshes of this page. Save it to come back to it later.")
        st.download_button("Save this session", json.dumps(snapshot(), indent=1, default=str),
                           file_name="ssrl-session.json", mime="application/json", key="session.save",
                           on_click="ignore")
        up = st.file_uploader("Open a session", type=["json"], key="session.open")
        if up is not None and st.button("Open it", key="session.apply"):
            try:
                problems = apply(json.loads(up.getvalue().decode("utf-8", "replace")))
            except ValueError as exc:
                st.error(f"This file cannot be opened: {exc}")
            else:
                for p in problems:
                    st.warning(p)
                st.rerun()
