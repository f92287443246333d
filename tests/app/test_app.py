"""App tests without a browser: helpers, Home, Data and Augment pages (Streamlit AppTest)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from app_support import TINY, app_on, problems


def test_default_dataset_prefers_demo_then_mnist():
    from ssrl_app.shell.loaders import default_dataset
    assert default_dataset(["a", "mnist-5k", "demo_nuclei"]) == "demo_nuclei"
    assert default_dataset(["a", "mnist-5k"]) == "mnist-5k"
    assert default_dataset(["a"]) == "a"
    assert default_dataset([]) is None


def test_sanitise_blocks_paths_and_odd_characters():
    from ssrl_core.data.names import safe_filename as sanitise
    assert sanitise("../../etc/passwd") == "passwd"
    assert sanitise("C:\\Users\\me\\cell 01 (copy).tif") == "cell_01_copy_.tif"
    assert sanitise(".hidden.png") == "hidden.png"
    assert "/" not in sanitise("a/b/../../c.tif") and sanitise("") == "file"


def test_the_app_accepts_every_image_file_the_core_reads(tmp_path):
    """One list of image suffixes: a JPEG upload is offered and read like a TIFF."""
    from ssrl_app.data import data_import
    from ssrl_core.data.imagefile import read_image
    from ssrl_core.data.names import IMAGE_SUFFIXES

    assert ".jpg" in IMAGE_SUFFIXES and ".jpeg" in IMAGE_SUFFIXES
    assert {"jpg", "jpeg", "tif", "png", "csv"} <= set(data_import.UPLOAD_TYPES)  # the uploader offers them
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(tmp_path / "cell.jpg")
    assert read_image(tmp_path / "cell.jpg").shape[:2] == (20, 20)


class _Up:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_save_uploads_stays_in_session_folder_and_keeps_duplicates():
    from ssrl_app.shell.uploads import save_uploads
    from ssrl_core import paths
    folder = save_uploads([_Up("../evil.png", b"1"), _Up("evil.png", b"2")], "sess/../x", "batch 1")
    assert folder.resolve().is_relative_to(paths.uploads_dir().resolve())
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["evil.png", "evil_2.png"]
    assert (folder / "evil_2.png").read_bytes() == b"2"


def test_home_shows_sidebar_with_dataset_device_and_weights(tiny_env):
    at = app_on()
    assert not problems(at)
    assert at.sidebar.selectbox(key="ssrl.dataset").value == TINY
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Compute:" in captions and ("CPU" in captions or "GPU" in captions)
    assert "weights" in captions and "Running jobs" in captions


def test_data_page_gallery_filters_and_counts(tiny_env):
    at = app_on("pages/data.py")
    assert not problems(at), problems(at)
    assert at.metric[0].value == "64"
    assert len(at.get("image")) >= 1
    plate = at.multiselect(key=f"w.data.f.{TINY}.plate")
    plate.set_value(["P1"]).run()
    assert any("32 of 64 cells" in c.value for c in at.caption)


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 20), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_data_page_imports_uploaded_pngs_with_csv(tiny_env):
    at = app_on("pages/data.py")
    csv = b"file,label\ncell_a.png,round\ncell_b.png,flat\n"
    at.file_uploader(key="w.data.upload").set_value(
        [("cell a.png", _png(10), "image/png"), ("cell_b.png", _png(200), "image/png"),
         ("meta.csv", csv, "text/csv")]).run()
    next(b for b in at.button if b.label == "Import these files").click().run()
    at.run()  # the sidebar picks the imported set up on the next run
    assert not problems(at), problems(at)
    assert at.metric[0].value == "2", [m.value for m in at.metric]
    assert "imported" in at.session_state["ssrl.dataset"] or "upload-" in at.session_state["ssrl.dataset"]


def _preview_urls(at) -> list[str]:
    return [u for img in at.get("image") for u in img.value]


def test_augment_preset_changes_the_views(tiny_env):
    at = app_on("pages/augment.py")
    assert not problems(at), problems(at)
    before = _preview_urls(at)
    assert before
    at.selectbox(key="w.aug.ssrl.recipe_a.preset").select("mnist-set2")
    next(b for b in at.button if b.label == "Apply preset").click().run()
    assert not problems(at), problems(at)
    assert at.session_state["ssrl.recipe_a"].name == "mnist-set2"
    assert _preview_urls(at) != before


def test_augment_parameter_change_and_lpips_captions(tiny_env):
    at = app_on("pages/augment.py")
    captions = [c for img in at.get("image") for c in img.captions]
    assert any("LPIPS" in c for c in captions)
    before = _preview_urls(at)
    slider = next(s for s in at.slider if s.key and s.key.endswith(".0.p"))  # first step's probability
    slider.set_value(0.0).run()
    assert not problems(at)
    assert at.session_state["ssrl.recipe_a"].steps[0].p == 0.0
    assert _preview_urls(at) != before


def test_augment_bad_yaml_shows_the_recipe_error(tiny_env):
    at = app_on("pages/augment.py")
    at.text_area(key="w.aug.ssrl.recipe_a.text").input("name: x\nsteps:\n  - name: no_such_step\n").run()
    next(b for b in at.button if b.key == "w.aug.ssrl.recipe_a.load").click().run()
    errors = [e.value for e in at.error]
    assert any("could not be loaded" in e and "no_such_step" in e for e in errors), errors
    assert not problems(at)


def test_augment_yaml_round_trip_import(tiny_env):
    from ssrl_core.augment import get_preset
    at = app_on("pages/augment.py")
    text = get_preset("simclr").to_yaml()
    at.text_area(key="w.aug.ssrl.recipe_a.text").input(text).run()
    next(b for b in at.button if b.key == "w.aug.ssrl.recipe_a.load").click().run()
    assert at.session_state["ssrl.recipe_a"].name == "simclr"
    assert not at.error


def test_recipe_editor_adds_every_catalog_step_with_valid_controls(tiny_env):
    """Every transform of the catalog gets controls within its Param and keeps the recipe valid."""
    from ssrl_core.augment import CATALOG
    at = app_on("pages/augment.py")
    for name in sorted(CATALOG):
        picker = next(s for s in at.selectbox if s.key and s.key.endswith(".addpick"))
        picker.set_value(name)
        next(b for b in at.button if b.label == "Add").click().run()
        assert not problems(at), (name, problems(at))
    recipe = at.session_state["ssrl.recipe_a"]
    assert [s.name for s in recipe.steps][-len(CATALOG):] == sorted(CATALOG)
    recipe.validate()  # raises RecipeError listing problems, if any
    # remove the last step and move the first one down: order follows
    first = recipe.steps[0].name
    next(b for b in at.button if b.key and b.key.endswith(".0.down")).click().run()
    assert at.session_state["ssrl.recipe_a"].steps[1].name == first
    n = len(at.session_state["ssrl.recipe_a"].steps)
    next(b for b in at.button if b.key and b.key.endswith(f".{n - 1}.rm")).click().run()
    assert len(at.session_state["ssrl.recipe_a"].steps) == n - 1


def test_download_without_network_gives_a_plain_message(tiny_env, monkeypatch):
    monkeypatch.setenv("SSRL_MITOCHECK_URL", "http://127.0.0.1:9/contents")  # nothing listens there
    at = app_on("pages/data.py")
    from ssrl_core.data.sources import MITOCHECK, downloadable

    radio = at.radio(key="w.data.dl_source")
    assert list(radio.options) == [src.title for src in downloadable()]  # the offer is the source table
    assert radio.value == MITOCHECK.title and any(MITOCHECK.description in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Download").click().run()
    assert not problems(at), problems(at)
    errors = [e.value for e in at.error]
    assert any("download did not work" in e for e in errors), errors
