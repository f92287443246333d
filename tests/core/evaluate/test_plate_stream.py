"""A plate's profiles read in row groups (`ssrl_core.evaluate.plate_stream`) equal the in-memory
protocol: well medians as pycytominer.aggregate, per-plate normalisation as `normalise`, mAP as
`ssrl map` computes it from the whole table; and the streamed table writer writes the very table
`write_table` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssrl_core.evaluate.export import embedding_frame, read_table, write_table
from ssrl_core.evaluate.map_copairs import activity_map
from ssrl_core.evaluate.normalise import normalise
from ssrl_core.evaluate.plate_stream import normalised_chunks, plate_profiles, plate_scale, well_medians
from ssrl_core.evaluate.profiles import cell_profiles, feature_columns, well_profiles
from ssrl_core.evaluate.table_stream import write_embedding_table

N, D, ROWS = 2400, 12, 256  # 10 row groups


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> tuple[Path, np.ndarray, pd.DataFrame]:
    """Two plates x 12 wells (4 DMSO, 4 x 2 doses of a weak compound), the second plate shifted,
    cells in random order (not grouped by well), written in row groups of 256 cells."""
    rng = np.random.default_rng(0)
    wells = [f"B{i:02d}" for i in range(12)]
    well = rng.choice(wells, N)
    plate = rng.choice(["P1", "P2"], N)
    compound = np.where(np.isin(well, wells[:4]), "DMSO", "taxol")
    dose = np.where(compound == "DMSO", 0.0, np.where(np.isin(well, wells[4:8]), 1.0, 3.0))
    meta = pd.DataFrame({"plate": plate, "well": well, "site": rng.integers(1, 4, N), "compound": compound,
                         "concentration": dose})
    x = rng.normal(size=(N, D)) + (dose[:, None] * 0.08) * rng.normal(size=D) + 2.0 * (plate == "P2")[:, None]
    x = x.astype(np.float32)
    path = tmp_path_factory.mktemp("plate") / "plate.parquet"
    write_embedding_table(meta, x, path, dataset="screen", rows=ROWS)
    return path, x, meta


def test_the_row_group_writer_writes_the_table_write_table_writes(plate, tmp_path) -> None:
    path, x, meta = plate
    import pyarrow.parquet as pq

    assert pq.ParquetFile(path).num_row_groups == N // ROWS + 1
    ref = write_table(embedding_frame(meta, x, dataset="screen"), tmp_path / "ref.parquet")
    pd.testing.assert_frame_equal(read_table(path), read_table(ref))  # read_table checks the digest too


def test_well_medians_and_normalisation_equal_the_in_memory_protocol(plate) -> None:
    path, x, meta = plate
    med, wells = well_medians(path)
    ref = well_profiles(cell_profiles(x, meta))
    assert list(wells["plate"]) == list(ref["Metadata_Plate"]) and list(wells["well"]) == list(ref["Metadata_Well"])
    assert (wells["cells"].to_numpy() == ref["Metadata_Object_Count"].to_numpy()).all()
    assert list(wells["compound"]) == list(ref["Metadata_compound"])  # constant within the well: kept
    np.testing.assert_array_equal(med, ref[feature_columns(ref)].to_numpy(dtype=np.float32))
    scale = plate_scale(path)
    streamed = np.concatenate([z for _, z in normalised_chunks(path, scale)])
    whole = normalise(x, meta)
    assert scale.scope == whole.scope == "per plate" and scale.control == whole.control == "DMSO"
    np.testing.assert_allclose(streamed, whole.features, atol=2e-6)
    one = plate_scale(path, per_plate=False)  # the same rules choose the same reference
    assert one.scope == normalise(x, meta, per_plate=False).scope == "all cells"


def test_plate_map_equals_ssrl_map_on_the_whole_table(plate) -> None:
    path, x, meta = plate
    got = plate_profiles(path, null_size=2000, seed=0)
    label = np.where(meta["compound"] == "DMSO", "DMSO", meta["compound"] + " @ " + meta["concentration"].astype(str))
    ref = activity_map(normalise(x, meta, clip=None).features, meta, label, level="well", null_size=2000, seed=0)
    mine, ref = (t.sort_values("treatment").reset_index(drop=True) for t in (got["map"], ref))
    assert list(mine["treatment"]) == list(ref["treatment"]) == ["taxol @ 1.0", "taxol @ 3.0"]
    np.testing.assert_allclose(mine["mean_average_precision"], ref["mean_average_precision"], atol=1e-6)
    np.testing.assert_allclose(mine["p_value"], ref["p_value"], atol=1e-9)
    assert 0 < ref["mean_average_precision"].min() < 1  # neither chance nor a foregone 1
    assert len(got["wells"]) == 24 and got["features"].shape == (24, D)


def test_ssrl_map_stream_prints_the_numbers_of_ssrl_map(plate, capsys) -> None:
    import json

    from ssrl_core.cli import main

    path = plate[0]
    out = {}
    for extra in ([], ["--stream"]):
        assert main(["map", str(path), "--null-size", "2000", "--json", *extra]) == 0
        out[bool(extra)] = {r["treatment"]: r for r in json.loads(capsys.readouterr().out)["treatments"]}
    assert set(out[True]) == set(out[False]) == {"taxol @ 1.0", "taxol @ 3.0"}
    for t in out[False]:
        assert out[True][t]["mean_average_precision"] == pytest.approx(out[False][t]["mean_average_precision"], abs=1e-6)
    assert main(["map", str(path), "--stream", "--same-plate"]) != 0
