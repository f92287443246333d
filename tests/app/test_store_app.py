"""The Data page on a lazy cell store: metadata, filters and gallery work, pixels stay on disk."""

from __future__ import annotations

from app_support import TINY, app_on, problems


def test_data_page_opens_filters_and_previews_a_lazy_store(tiny_env, monkeypatch):
    from ssrl_core.data import registry
    from ssrl_core.data.npz import load_npz
    from ssrl_core.data.store import save_store

    npz = tiny_env / f"{TINY}.npz"
    save_store(load_npz(npz), tiny_env / f"{TINY}.cells", chunk_cells=16)
    npz.unlink()
    monkeypatch.setattr("ssrl_core.data.store.IN_MEMORY_BYTES", 0)  # opened lazily, as a big store
    registry.clear_cache()
    assert registry.load_dataset(TINY).lazy
    at = app_on("pages/data.py")
    assert not problems(at), problems(at)
    assert at.metric[0].value == "64"
    assert any("stay on disk" in c.value for c in at.caption)
    assert len(at.get("image")) >= 1
    at.multiselect(key=f"w.data.f.{TINY}.plate").set_value(["P1"]).run()
    assert not problems(at), problems(at)
    assert any("32 of 64 cells" in c.value for c in at.caption)
