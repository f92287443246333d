"""The app opened to a room (issue 10): no traceback reaches the browser, and the Data page's
folder box reads only the data folder and the uploads while the server listens beyond localhost."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import tomllib

from ssrl_core import paths


def test_config_hides_error_details_and_listens_on_localhost() -> None:
    config = tomllib.loads((paths.PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["address"] == "127.0.0.1"
    assert config["runner"]["postScriptGC"] is False  # no full garbage collection after every click


def _page() -> None:
    from ssrl_app.shell.errors import plain_errors

    with plain_errors("Could not draw the chart"):
        raise ZeroDivisionError("division by zero deep inside")
    import streamlit as st

    st.write("the page goes on")


def test_unexpected_error_is_one_sentence_in_the_page_and_a_traceback_in_the_log(
        caplog: pytest.LogCaptureFixture) -> None:
    from streamlit.testing.v1 import AppTest

    with caplog.at_level(logging.ERROR, logger="ssrl_app"):
        at = AppTest.from_function(_page).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Could not draw the chart: an unexpected error (ZeroDivisionError); "
                                           "the details are in the server's log."]
    assert at.markdown[0].value == "the page goes on"
    logged = [r for r in caplog.records if r.name == "ssrl_app"]
    assert logged and logged[0].exc_info and "division by zero deep inside" in str(logged[0].exc_info[1])


@pytest.mark.parametrize("address", [None, "0.0.0.0"])
def test_folder_box_open_to_the_network_reads_only_the_data_folder_and_uploads(
        address: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrl_app.data import data_import

    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    (tmp_path / "data" / "mine").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    upload = paths.uploads_dir() / "session" / "batch"
    upload.mkdir(parents=True)
    monkeypatch.setattr(data_import.st, "get_option", lambda key: address if key == "server.address" else None)
    assert data_import.open_to_network()
    with pytest.raises(PermissionError) as info:
        data_import.check_folder(str(tmp_path / "elsewhere"))
    assert str(info.value) == (f"this app is open to the network, so it only imports folders inside the data folder "
                               f"({(tmp_path / 'data').resolve()}) or the uploads; copy the folder there, or upload "
                               "the files.")
    with pytest.raises(PermissionError):
        data_import.check_folder(str(tmp_path / "data" / ".." / "elsewhere"))  # no way out through '..'
    assert data_import.check_folder(str(tmp_path / "data" / "mine")) == (tmp_path / "data" / "mine").resolve()
    assert data_import.check_folder(str(upload)) == upload.resolve()


def test_folder_box_on_localhost_reads_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrl_app.data import data_import

    monkeypatch.setattr(data_import.st, "get_option", lambda key: "127.0.0.1")
    assert not data_import.open_to_network()
    assert data_import.check_folder(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(FileNotFoundError, match="There is no folder at"):
        data_import.check_folder(str(tmp_path / "absent"))
