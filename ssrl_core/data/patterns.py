"""File-name patterns of plate imagers: which well, site and channel a field file holds.

Built-in layouts (names matched case-insensitively, on the file name only):

- `bbbc`: the Broad Bioimage Benchmark Collection style, `{well}_s{site}_w{channel}`, with an
  optional plate prefix and any suffix, e.g. `Week1_22123_B02_s1_w1.tif` (BBBC021, BBBC022).
- `imagexpress`: Molecular Devices ImageXpress / MetaXpress export,
  `{plate}_{well}_s{site}_w{channel}{GUID}.tif`; the site is absent for one-site wells and the
  36-character GUID is optional, e.g. `Plate1_A01_s2_w1A1B2C3D4-....tif`.
- `operetta`: PerkinElmer Opera Phenix / Operetta (Harmony export),
  `r{row:02}c{col:02}f{field:02}p{plane:02}-ch{channel}sk{t}fk{t}fl{t}.tiff`, e.g.
  `r01c01f01p01-ch1sk1fk1fl1.tiff` (well A01, field 1, channel 1).
- `cellomics`: Thermo Cellomics ArrayScan, `{plate}_{well}f{field:02}d{channel}.TIF`, e.g.
  `AS_09125_050116030001_D03f00d0.tif` (CellProfiler's ExampleHuman; fields and channels
  count from 0), an optional `_<GUID>` after the channel.
- `cellvoyager`: Yokogawa CellVoyager CV7000 / CV8000,
  `{plate}_{well}_T{time:04}F{field:03}L{line:02}A{action:02}Z{plane:02}C{channel:02}.tif`,
  e.g. `W0018_B03_T0001F001L01A01Z01C01.tif`.
- `incucyte`: Sartorius Incucyte export, `{vessel}[_{channel}]_{well}_{image}_{time}.tif` with the
  time as elapsed `00d04h00m` or a date `2021y05m03d_14h30m`, e.g. `VID1754_phase_A1_2_00d04h00m.tif`
  (the time is kept as metadata; only one time point per site and channel is imported).

A user pattern is either a template with `{plate}`, `{well}`, `{row}`, `{col}`, `{site}`,
`{channel}` (and any other `{name}`, kept as metadata) placeholders, e.g.
`{plate}-{well}-f{site}-c{channel}.tif`, or a Python regular expression with named groups
(`(?P<well>...)`). A well is always returned as a letter row and a two-digit column (`B02`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WELL = r"[A-Pa-p]\d{1,2}"
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_EXT = r"\.(?:tiff?|png)$"

BUILTIN: dict[str, str] = {
    "bbbc": rf"^(?:(?P<plate>.+?)_)?(?P<well>{_WELL})_s(?P<site>\d+)_w(?P<channel>\d+)(?!{_GUID}).*{_EXT}",
    "imagexpress": rf"^(?P<plate>.+?)_(?P<well>{_WELL})(?:_s(?P<site>\d+))?_w(?P<channel>\d+)(?:{_GUID})?{_EXT}",
    "operetta": r"^r(?P<row>\d{2})c(?P<col>\d{2})f(?P<site>\d{2})p(?P<plane>\d{2})-ch(?P<channel>\d+)"
                r"(?:sk\d+fk\d+fl\d+)?" + _EXT,
    "cellomics": rf"^(?P<plate>.+)_(?P<well>[A-Pa-p]\d{{2}})f(?P<site>\d{{2,}})d(?P<channel>\d)(?:_{_GUID})?{_EXT}",
    "cellvoyager": r"^(?P<plate>.+)_(?P<well>[A-Pa-p]\d{2})_T(?P<time>\d{4})F(?P<site>\d{3})L\d{2}A\d{2}"
                   r"Z(?P<plane>\d{2})C(?P<channel>\d{2})" + _EXT,
    "incucyte": rf"^(?P<plate>[^_]+)(?:_(?P<channel>[A-Za-z][A-Za-z0-9]*))?_(?P<well>{_WELL})_(?P<site>\d+)_"
                r"(?P<time>\d{2,}d\d{2}h\d{2}m|\d{4}y\d{2}m\d{2}d_\d{2}h\d{2}m)" + _EXT,
}
DESCRIPTIONS: dict[str, str] = {
    "bbbc": "BBBC style: {well}_s{site}_w{channel} (optional plate prefix), e.g. B02_s1_w1.tif",
    "imagexpress": "ImageXpress: {plate}_{well}_s{site}_w{channel}{GUID}.tif, e.g. P1_A01_s1_w1.tif",
    "operetta": "Opera / Operetta: r01c01f01p01-ch1sk1fk1fl1.tiff (row, column, field, plane, channel)",
    "cellomics": "Cellomics ArrayScan: {plate}_{well}f{field}d{channel}.tif, e.g. AS_09125_050116030001_D03f00d0.tif",
    "cellvoyager": "Yokogawa CellVoyager: {plate}_{well}_T0001F001L01A01Z01C01.tif (time, field, plane, channel)",
    "incucyte": "Incucyte: {vessel}_{channel}_{well}_{image}_{time}.tif, e.g. VID1754_phase_A1_2_00d04h00m.tif",
}
_PLACEHOLDER = {"well": _WELL, "row": r"[A-Pa-p]|\d{1,2}", "col": r"\d{1,2}", "site": r"\d+",
                "channel": r"[^_\-.]+", "plate": r".+?", "plane": r"\d+"}


class PatternError(ValueError):
    """A file-name pattern that cannot be used; the message says why."""


@dataclass(frozen=True)
class FilePattern:
    """A compiled file-name pattern: `match(name)` -> fields dict or None."""

    name: str
    regex: re.Pattern[str]

    def match(self, filename: str) -> dict[str, str] | None:
        """`{well, site, channel, plate?, ...}` for a matching file name, else None."""
        m = self.regex.match(filename)
        if not m:
            return None
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        if "well" not in g:
            if "row" not in g or "col" not in g:
                return None
            row = g.pop("row")
            row = chr(ord("A") + int(row) - 1) if row.isdigit() else row
            g["well"] = f"{row}{int(g.pop('col'))}"
        g["well"] = normalise_well(g["well"])
        g["site"] = str(int(g["site"])) if g.get("site", "").isdigit() else g.get("site", "1")
        g.setdefault("channel", "1")
        return g


def normalise_well(well: str) -> str:
    """`a1`, `A1`, `A01` -> `A01` (row letter, two-digit column); other text is returned stripped."""
    w = str(well).strip()
    m = re.fullmatch(r"([A-Za-z]{1,2})0*(\d{1,3})", w)
    return f"{m.group(1).upper()}{int(m.group(2)):02d}" if m else w


def template_to_regex(template: str) -> str:
    """A `{name}` template -> an anchored regular expression with named groups."""
    parts = re.split(r"(\{[A-Za-z_]\w*\})", template)
    out, seen = [], set()
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            key = part[1:-1]
            if key in seen:
                raise PatternError(f"the placeholder {{{key}}} appears twice in {template!r}")
            seen.add(key)
            out.append(f"(?P<{key}>{_PLACEHOLDER.get(key, r'.+?')})")
        else:
            out.append(re.escape(part))
    if not ({"well"} <= seen or {"row", "col"} <= seen):
        raise PatternError(f"the pattern {template!r} needs a {{well}} (or {{row}} and {{col}}) placeholder")
    body = "".join(out)
    return "^" + body + ("" if re.search(r"\\\.\w+$", body) else r".*" + _EXT)


def get_pattern(name_or_pattern: str) -> FilePattern:
    """A built-in pattern by name (see `BUILTIN`), a template or a regex."""
    text = str(name_or_pattern).strip()
    if text.lower() in BUILTIN:
        return FilePattern(text.lower(), re.compile(BUILTIN[text.lower()], re.IGNORECASE))
    if not text:
        raise PatternError("give a file-name pattern: " + ", ".join(BUILTIN) + " or a template like {well}_s{site}_w{channel}")
    source = text if "(?P<" in text else template_to_regex(text)
    try:
        rx = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise PatternError(f"the pattern {text!r} is not a valid regular expression: {exc}") from exc
    if "well" not in rx.groupindex and not {"row", "col"} <= set(rx.groupindex):
        raise PatternError(f"the pattern {text!r} has no (?P<well>...) group (or row and col groups)")
    return FilePattern("custom", rx)


def match_table(filenames: list[str], pattern: str, limit: int = 12) -> list[dict]:
    """How `pattern` reads the first `limit` file names: one row per file with the fields it found
    (`matched` False and empty fields for a file it does not match): the preview before an import."""
    pat = get_pattern(pattern)
    rows = []
    for name in list(filenames)[:limit]:
        g = pat.match(name)
        rows.append({"well": g.get("well", "") if g else "not matched",
                     **({k: g.get(k, "") for k in ("site", "channel", "plate")} if g else
                        {"site": "", "channel": "", "plate": ""}),
                     "other": ", ".join(f"{k}={v}" for k, v in (g or {}).items()
                                        if k not in ("plate", "well", "site", "channel")),
                     "file": name, "matched": g is not None})
    return rows


def pattern_counts(filenames: list[str]) -> dict[str, int]:
    """How many of `filenames` each built-in pattern matches (the auto choice takes the most)."""
    return {name: sum(get_pattern(name).match(f) is not None for f in filenames) for name in BUILTIN}


def detect_pattern(filenames: list[str]) -> str | None:
    """The built-in pattern that matches the most of `filenames` (None when none matches any)."""
    best, best_n = None, 0
    for name in BUILTIN:
        pat = get_pattern(name)
        n = sum(pat.match(f) is not None for f in filenames)
        if n > best_n:
            best, best_n = name, n
    return best
