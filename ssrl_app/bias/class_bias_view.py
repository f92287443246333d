"""Bias page: a finished sweep's per-class bias (Bendidi et al. 2024, section 3.1), browsable
without retraining.

Sources: the shipped CIFAR-10 result (`pretrained/sweeps/cifar10/summary.json`, written by
`ssrl-paper class-bias`) and every sweep folder of this machine with results (`<runs>/sweeps/...`,
`<runs>/sweep-*`). Both show the same views: per-class curves, the verdicts, opposite pairs,
trends, and the class properties with their ANOVA (for a user's sweep, measured on demand with a
fixed reference encoder and kept in the sweep folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ssrl_app.shell import charts
from ssrl_app.shell.errors import message
from ssrl_core import paths
from ssrl_core.csvio import read_csv, write_csv
from ssrl_core.evaluate import class_properties as cprops
from ssrl_core.sweeps import class_bias, class_verdicts

PROPS_FILE = "class_properties.csv"
REFERENCES = {"ImageNet VGG16 (fixed, as in the paper)": "imagenet-vgg16",
              "hand-made image features": "hand-features"}
TREND_WORDS = {"ascending": "gets better", "descending": "gets worse", "flat": "no clear change"}


def user_sweeps() -> list[Path]:
    """Sweep folders with a results.csv under `<runs>/sweeps` (two levels) and `<runs>/sweep-*`."""
    runs = paths.runs_dir()
    found: list[Path] = []
    base = runs / "sweeps"
    if base.is_dir():
        for p in sorted(base.iterdir()):
            found += class_bias.find_sweeps(p) if p.is_dir() else []
    found += [p for p in sorted(runs.glob("sweep-*")) if (p / "results.csv").is_file()]
    return list(dict.fromkeys(found))


@st.cache_data(show_spinner=False, max_entries=32)
def _summary_of(path: str, stamp: float) -> dict[str, Any]:
    """A sweep folder's summary (cached until its results.csv changes)."""
    return class_bias.sweep_summary(path, n_null=100)


def _stamp(path: Path) -> float:
    f = path / "results.csv"
    return f.stat().st_mtime if f.is_file() else 0.0


def sources() -> dict[str, dict[str, Any]]:
    """Label -> {kind: shipped | mine, sweep: summary or None, path, properties}."""
    out: dict[str, dict[str, Any]] = {}
    shipped = class_bias.load_summary()
    if shipped:
        for s in shipped.get("sweeps", []):
            out[f"Shipped CIFAR-10 result: {s['method']}, {s['parameter']}"] = {
                "kind": "shipped", "sweep": s, "properties": shipped.get("properties"),
                "reference": shipped.get("reference_encoder"), "training_check": shipped.get("training_check")}
    for p in user_sweeps():
        out[f"My sweep: {p.parent.name + '/' if p.parent != paths.runs_dir() / 'sweeps' else ''}{p.name}"] = {
            "kind": "mine", "path": p}
    return out


def show() -> None:
    """The whole section: pick a result, then its views."""
    st.divider()
    st.subheader("Which classes win or lose when one augmentation changes?")
    st.caption("Bendidi et al. 2024, section 3.1: the same augmentation setting can help some classes and hurt "
               "others, while the overall accuracy hardly moves. Browse the shipped CIFAR-10 result or your own "
               "finished sweeps; nothing is retrained.")
    found = sources()
    if not found:
        st.info("No finished sweep yet: run one above, or `ssrl-paper class-bias` for the shipped CIFAR-10 result.")
        return
    label = st.selectbox("Sweep result", list(found), key="w.class_bias.pick")
    item = found[label]
    sweep = item.get("sweep")
    if item["kind"] == "mine":
        try:
            sweep = _summary_of(str(item["path"]), _stamp(item["path"]))
        except Exception as exc:  # too few values so far, an unreadable folder: plain words
            st.info(f"This sweep cannot be summarised yet: {message(exc)}")
            return
    tc = item.get("training_check")
    if tc:
        text = (f"Floor: an untrained {tc.get('encoder')} scores {tc['random_top1']:.1%} with the same probe; these "
                f"short runs average {tc['ssl_top1']:.1%}.")
        if tc.get("start_encoder"):
            text += (f" Each run was fine-tuned from the shipped {tc['start_encoder']}, which scores "
                     f"{tc['start_top1']:.1%} on its own.")
        (st.caption if tc.get("learned") else st.warning)(
            text + ("" if tc.get("learned") else " They barely learned, so read the curves as mostly noise."))
    draw(sweep)
    properties_section(item, sweep)


def draw(s: dict[str, Any]) -> None:
    """Verdicts, per-class curves, trends and opposite pairs of one sweep summary."""
    c = st.columns(2) + st.columns(2)  # two per row: the labels are never cut at 1024 px
    c[0].metric("Opposite-pair classes", f"{s['ratio']:.0%}",
                help="Share of classes with an opposite partner: a class whose accuracy curve goes against theirs "
                     "(correlation below -0.3, p < 0.05), as in the paper.")
    c[1].metric("Expected by chance", f"{s['null_mean']:.0%}" if pd.notna(s.get("null_mean")) else "n/a",
                help="The same share when each class's curve is shuffled over the values on its own: with few values "
                     "and noisy curves, opposite pairs also appear by chance.")
    c[2].metric("Overall accuracy change", f"{s['overall_change']:+.1%}",
                help="Fitted change of the overall test accuracy over the whole swept range.")
    top = max(s["slopes"], key=lambda r: abs(r["change"]) if pd.notna(r["change"]) else -1)
    c[3].metric("Largest class change", f"{top['change']:+.1%}", help=f"class {top['class']}")
    st.caption(f"{s['method']}, {s['parameter']}: {len(s['values'])} values × {len(s['seeds'])} seeds "
               f"({s['runs']} runs, {s.get('backbone')}); probe scored on {s['probe'].get('n_test')} images.")
    for v in class_verdicts.verdicts({"sweeps": [s]}):
        if v["holds"] is None:
            continue
        st.markdown(f"- **{'holds' if v['holds'] else 'does not hold'}**: {v['claim']} — "
                    f"{'; '.join(v.get('evidence', []))}")
    curves = pd.DataFrame(s["curves"])
    curves["low"], curves["high"] = curves["mean"] - curves["std"].fillna(0), curves["mean"] + curves["std"].fillna(0)
    curves["opposite partner"] = curves["class"].isin(s["opposite_classes"]).map({True: "yes", False: "no"})
    overall = pd.DataFrame(s["overall"])
    x = alt.X("value:Q", title=s["parameter"])
    y_title = "probe accuracy (test)"
    base = alt.Chart(curves).encode(x=x, color=alt.Color("class:N", scale=charts.category_scale(charts.domain_of(curves["class"])), title="class"))
    lines = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title=y_title, scale=alt.Scale(zero=False)),
        strokeDash=alt.StrokeDash("opposite partner:N", scale=alt.Scale(domain=["yes", "no"], range=[[1, 0], [4, 3]])),
        tooltip=["class", "value", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("std:Q", format=".3f")])
    bars = base.mark_errorbar().encode(y=alt.Y("low:Q", title=y_title), y2="high:Q")
    whole = alt.Chart(overall).mark_line(color="black", strokeWidth=3, point=alt.OverlayMarkDef(color="black")).encode(
        x=x, y=alt.Y("mean:Q", title=y_title),
        tooltip=[alt.Tooltip("value:Q"), alt.Tooltip("mean:Q", title="overall", format=".3f")])
    st.altair_chart((bars + lines + whole).properties(height=360), width="stretch")
    st.caption("Black: overall accuracy. Solid: classes with an opposite partner; dashed: the others. Bars: ± one standard deviation "
               "over seeds.")
    slopes = pd.DataFrame(s["slopes"])
    slopes["what happens"] = slopes["trend"].map(TREND_WORDS)
    st.markdown("**Each class's trend** (change = fitted accuracy change over the swept range; p < 0.05 to count)")
    st.dataframe(slopes[["class", "change", "p", "range", "trend", "what happens"]].round(3), hide_index=True,
                 key="w.class_bias.slopes")
    pairs = pd.DataFrame(s["opposite_pairs"])
    st.markdown(f"**Opposite pairs** ({len(pairs)} of {s['n_pairs']} pairs)")
    if pairs.empty:
        st.caption("No pair of classes moves in opposite directions here.")
    else:
        words = {"class_a": "class", "class_b": "against", "pearson_r": "Pearson r", "pearson_p": "p",
                 "spearman_r": "Spearman r", "spearman_p": "p (Spearman)"}
        st.dataframe(pairs[list(words)].rename(columns=words).round(3), hide_index=True, key="w.class_bias.pairs")


COUNTS = "classes better / worse / flat"


def properties_section(item: dict[str, Any], s: dict[str, Any]) -> None:
    """Class properties (paper Table 1) and the ANOVA against this sweep's trends."""
    st.markdown("**Class properties** (intrinsic dimension, texture, Fourier, feature spread) and whether they "
                "differ between the classes that get better, worse or stay flat (one-way ANOVA)")
    props, ref = item.get("properties"), item.get("reference")
    if item["kind"] == "mine":
        f = Path(item["path"]) / PROPS_FILE
        if f.is_file():
            props, ref = read_csv(f, ours=True, sep=",").to_dict(orient="records"), "measured for this sweep"
        else:
            c = st.columns([3, 1], vertical_alignment="bottom")
            pick = c[0].selectbox("Reference encoder", list(REFERENCES), key="w.class_bias.ref")
            if c[1].button("Measure class properties", key="w.class_bias.measure"):
                with st.spinner("Embedding up to 300 images per class and measuring them…"):
                    try:
                        measure_for_sweep(Path(item["path"]), REFERENCES[pick])
                    except Exception as exc:
                        st.error(f"The class properties could not be measured: {message(exc)}")
                    else:
                        st.rerun()
            return
    if not props:
        st.caption("No class properties in this result.")
        return
    table = pd.DataFrame(props)
    st.caption(f"Reference encoder: {ref}. Each property's values per class are in the table below the test.")
    anova = s.get("anova")
    if anova is None:
        anova = cprops.property_anova(table, pd.DataFrame(s["slopes"])).to_dict(orient="records")
    shown = pd.DataFrame(anova)
    shown["property"] = shown["property"].map(lambda p: cprops.PROPERTY_NAMES.get(p, p))
    shown[COUNTS] = [f"{a} / {d} / {f}" for a, d, f in zip(shown["n_ascending"], shown["n_descending"], shown["n_flat"])]
    st.dataframe(shown[["property", "F", "p", COUNTS]].round(4), hide_index=True, key="w.class_bias.anova")
    notes = [f"{p}: {n}" for p, n in zip(shown["property"], shown.get("note", [])) if isinstance(n, str) and n]
    if notes:
        st.caption(" · ".join(notes))
    with st.expander("Every class property, per class (a wide table)"):
        st.dataframe(table.rename(columns=cprops.PROPERTY_NAMES).round(4), hide_index=True, key="w.class_bias.props")


def measure_for_sweep(sweep_dir: Path, encoder: str, per_class: int = 300) -> Path:
    """Measure the class properties of a sweep's dataset (its training selection) and keep them."""
    import json

    from ssrl_core.train.config import DataConfig
    from ssrl_core.train.data import load_cells

    meta = json.loads((sweep_dir / "sweep.json").read_text())
    data = dict((meta.get("base") or {}).get("data") or {})
    data.pop("max_cells", None)
    cells = load_cells(DataConfig(**data))
    table = cprops.measure(cells, encoder, column=meta.get("probe_column", "label"), max_per_class=per_class)
    return write_csv(table, sweep_dir / PROPS_FILE)
