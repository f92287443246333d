"""Colours that tell categories apart, and a category keeps its colour on every map (issue 25 item 3).

The palette: 24 colours, any two at least 15 apart in CIEDE2000 (skimage, the standard formula),
all readable on white. On the Explore map (AppTest, real page), each value of the colour column
gets its own colour, and the same value keeps it when the cells in use are a subset; a slide
figure gives a value the colour it has on the page.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
from skimage.color import deltaE_ciede2000, rgb2lab

from ssrl_app.shell import charts, figures

from app_support import app_on, problems


def _lab(hex_colour: str) -> np.ndarray:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return rgb2lab(np.array([[rgb]]))[0, 0]


def test_palette_has_24_distinct_colours_readable_on_white():
    assert len(charts.PALETTE) >= 20 and len(set(c.lower() for c in charts.PALETTE)) == len(charts.PALETTE)
    labs = {c: _lab(c) for c in charts.PALETTE}
    closest = min(float(deltaE_ciede2000(labs[a], labs[b])) for a, b in itertools.combinations(charts.PALETTE, 2))
    assert closest >= 15, closest  # the old palette had pairs at 3-8 (two reds, two browns, two blues)
    assert all(lab[0] <= 88 for lab in labs.values())  # no near-white colour on the white page


def test_domain_sorts_numbers_as_numbers_and_scale_is_stable():
    assert charts.domain_of(["10", "2", "1", None]) == ["1", "2", "10"]
    assert charts.domain_of(["b", "a", "b"]) == ["a", "b"]
    full = charts.domain_of([f"p{i}" for i in range(16)])
    scale = charts.category_scale(full).to_dict()
    assert len(set(scale["range"])) == 16  # 16 phenotypes: 16 colours
    assert dict(zip(scale["domain"], scale["range"]))["p3"] == charts.PALETTE[full.index("p3")]
    cols, cats = figures._colours(pd.Series(["p3", "p0"]))
    assert cats == ["p0", "p3"] and list(cols) == [charts.PALETTE[1], charts.PALETTE[0]]


def _map_colours(at) -> dict[str, str]:
    spec = next(s for s in (json.loads(c.proto.spec) for c in at.get("vega_lite_chart"))
                if s.get("encoding", {}).get("x", {}).get("field") == "x")
    scale = spec["encoding"]["color"]["scale"]
    return dict(zip(scale["domain"], scale["range"]))


def test_explore_map_colours_are_distinct_and_follow_the_value_not_the_subset(tiny_env):
    at = app_on("pages/explore.py")
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    at.selectbox(key="w.explore.color").select("label").run()
    assert not problems(at), problems(at)
    every = _map_colours(at)
    assert sorted(every) == ["0", "1", "2", "3"] and len(set(every.values())) == 4
    # only the cells of plate P2 in use: the map shows a subset, label "3" keeps its colour
    at.session_state["ssrl.filters"] = {at.session_state["ssrl.dataset"]: {"plate": ["P2"]}}
    at.run()
    next(b for b in at.button if b.label == "Embed").click().run()
    assert not problems(at), problems(at)
    assert _map_colours(at)["3"] == every["3"]
