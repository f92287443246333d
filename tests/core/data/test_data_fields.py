"""Nucleus detection and crops on real fields with ground-truth masks (ssrl_core.data.fields)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from ssrl_core.data.fields import detect_nuclei, match_detections, nucleus_crops


def _score(pairs):
    total = {"true": 0, "detected": 0, "matched": 0}
    for img, lab in pairs:
        cents, labels = detect_nuclei(tifffile.imread(img))
        assert labels.shape == tifffile.imread(img).shape[:2]
        s = match_detections(cents, tifffile.imread(lab))
        for k in total:
            total[k] += s[k]
    return total["matched"] / total["true"], total["matched"] / total["detected"], total


@pytest.mark.parametrize("subset", ["stardist_dsb2018", "bbbc007"])
def test_detection_recall_precision_on_real_fields(shared_data, subset):
    folder = shared_data / "fields" / subset
    if subset == "stardist_dsb2018":
        pairs = [(folder / "img2d.tif", folder / "mask2d.tif")]
    else:
        pairs = [(p.with_name(p.name.replace("_labels", "")), p) for p in sorted(folder.glob("*_labels.tif"))]
    assert pairs
    recall, precision, counts = _score(pairs)
    print(f"{subset}: recall {recall:.3f} precision {precision:.3f} {counts}")
    assert recall >= 0.90
    assert precision >= 0.85


def test_match_counts_one_detection_per_nucleus():
    truth = np.zeros((20, 20), np.int32)
    truth[2:8, 2:8] = 1
    truth[12:18, 12:18] = 2
    s = match_detections(np.array([[4, 4], [5, 5], [15, 15], [10, 1]], float), truth)
    assert (s["matched"], s["detected"], s["true"]) == (2, 4, 2)
    assert s["recall"] == 1.0 and s["precision"] == 0.5


def _blobs(shape=(120, 140), centres=((30, 30), (60, 90), (100, 40), (5, 70)), r=6, dtype=np.uint16):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    img = np.full(shape, 100.0)
    for cy, cx in centres:
        img += 3000 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    rng = np.random.default_rng(0)
    return (img + rng.normal(0, 10, shape)).clip(0).astype(dtype)


def test_crops_are_centred_and_border_choice_is_applied():
    dna = _blobs()
    other = (dna // 2).astype(np.uint16)
    field = np.stack([other, dna], axis=-1)  # nuclear channel is index 1
    cells = nucleus_crops(field, size=32, nuclear_channel=1, channels=["actin", "DAPI"], meta={"plate": "P1"})
    # the nucleus at row 5 is too close to the top edge: skipped by default
    assert len(cells) == 3
    assert cells.images.dtype == np.uint16 and cells.shape == (32, 32, 2)
    assert set(cells.meta["plate"]) == {"P1"} and (cells.meta["area"] > 20).all()
    for img in cells.images:  # brightest pixel of the nuclear channel sits at the centre
        r, c = np.unravel_index(np.argmax(img[..., 1]), (32, 32))
        assert abs(r - 16) <= 2 and abs(c - 16) <= 2
    padded = nucleus_crops(field, size=32, nuclear_channel=1, border="pad")
    assert len(padded) == 4
    edge = padded.images[np.argmin(padded.meta["y"].to_numpy())]
    assert edge[0, 0, 1] == np.median(field[..., 1])  # filled with the field's median


def test_crop_errors_are_plain():
    with pytest.raises(ValueError, match="nuclear channel 3"):
        nucleus_crops(np.zeros((50, 50, 2), np.uint8), size=16, nuclear_channel=3)
    with pytest.raises(ValueError, match="border"):
        nucleus_crops(np.zeros((50, 50), np.uint8), size=16, border="wrap")
    empty = nucleus_crops(np.zeros((50, 50), np.uint8), size=16)
    assert len(empty) == 0 and empty.shape == (16, 16, 1)
