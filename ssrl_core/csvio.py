"""CSV in and out: the one reader of users' CSV files and the one writer of every CSV we make.

Reading (`read_csv`): a CSV comes from Excel, R, a plate reader or a text editor, so its
encoding is found, not assumed: a UTF-8 byte-order mark (Excel's "CSV UTF-8"), UTF-16 with a
mark (Excel's "Unicode text", tab-separated), UTF-8, and otherwise Windows-1252 / Latin-1 (Excel's
plain "CSV" on Windows), which is said in the returned `encoding`. Comma, semicolon and tab are
recognised. An empty file, a binary file or a table pandas cannot parse is a `CSVError`
naming the file and what to do, never a bare codec or parser error.

Writing (`write_csv`, `csv_text`): every CSV the product writes goes through here, so a cell
cannot smuggle a spreadsheet formula into the file (CSV injection, OWASP): a text cell or column
name that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with a single
quote, which makes Excel, LibreOffice and Google Sheets show it as text. Numbers, and text that is
only a number (`-1.5`), are left as they are. `unescape` undoes the quote when our own CSVs are
read back (`read_csv(..., ours=True)`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ssrl_core.io import atomic_write

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_BYTES = 2 << 30  # a CSV larger than this is not a plate map or a metadata table


class CSVError(ValueError):
    """A CSV file that cannot be read; the message names the file and what to do."""


# -- writing ---------------------------------------------------------------------------------------

def neutralise(value: Any) -> Any:
    """`value` made safe for a spreadsheet: text starting with a formula character gets a leading
    `'`; numbers, missing values and plain numeric text are returned unchanged."""
    if not isinstance(value, str) or not value or not value.startswith(TRIGGERS) or _NUMBER.match(value):
        return value
    return "'" + value


def unescape(value: Any) -> Any:
    """The inverse of `neutralise` for text read back from one of our CSVs."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1:].startswith(TRIGGERS) \
            and not _NUMBER.match(value[1:]):
        return value[1:]
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells and column names are neutralised (numeric columns untouched)."""
    out = df.copy()
    out.columns = [neutralise(str(c)) if isinstance(c, str) else c for c in out.columns]
    for col in out.columns:
        if out[col].dtype.kind not in "biufcmM":  # text, objects, categories
            out[col] = out[col].map(neutralise)
    return out


def csv_text(df: pd.DataFrame, index: bool = False) -> str:
    """The CSV text of `df` with every cell neutralised (for downloads). Lines end in CRLF, as in
    RFC 4180, so a field holding a carriage return is quoted too and cannot split a row."""
    return safe_frame(df).to_csv(index=index, lineterminator="\r\n")


def write_csv(df: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write `df` as UTF-8 CSV, atomically, with every cell neutralised; returns the path."""
    text = csv_text(df, index=index)
    return atomic_write(path, lambda p: p.write_bytes(text.encode("utf-8")))


# -- reading ---------------------------------------------------------------------------------------

def decode(raw: bytes, name: str) -> tuple[str, str]:
    """(text, encoding) of a CSV's bytes; CSVError naming `name` for binary data."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CSVError(f"{name} starts like UTF-16 text but is not valid UTF-16; save it again as "
                           "'CSV UTF-8'") from None
    nul = raw[:4096].count(b"\x00")
    if nul:
        sample = raw[:4096]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        for enc, ok in (("utf-16-le", odd > 0.3 * len(sample) / 2 and even == 0),
                        ("utf-16-be", even > 0.3 * len(sample) / 2 and odd == 0)):
            if ok:
                try:
                    return raw.decode(enc), enc
                except UnicodeDecodeError:
                    break
        raise CSVError(f"{name} is not a text file (it holds binary data, {nul} zero bytes in its first 4 kB); "
                       "give a CSV table saved as text")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _sep(text: str) -> str:
    """The field separator of the first lines: comma, semicolon or tab (comma when unsure)."""
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def read_csv(source: str | Path | bytes | IO[bytes], name: str | None = None, ours: bool = False,
             **kwargs: Any) -> pd.DataFrame:
    """Read a CSV file (a path, its bytes, or an open binary file such as an upload).

    The encoding and separator are found as described in the module docstring; `kwargs` go to
    `pandas.read_csv` (e.g. `dtype=str`). With `ours=True` (a file this product wrote) the
    spreadsheet-safety quote is removed again. Column names lose stray spaces and byte-order
    marks. Every problem is a `CSVError` naming the file.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CSVError(f"{name} is {size / 2**30:.1f} GB, more than the {MAX_BYTES / 2**30:.0f} GB a CSV "
                           "table may have here")
        raw = path.read_bytes()
    elif isinstance(source, bytes):
        raw = source
    else:
        raw = source.read()
        name = name or str(getattr(source, "name", "the CSV file"))
    name = name or "the CSV file"
    text, _ = decode(raw, name)
    if not text.strip():
        raise CSVError(f"{name} is empty; it needs a header row (column names) and one row per item")
    kwargs.setdefault("sep", _sep(text))
    try:
        table = pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CSVError(f"{name} cannot be read as a CSV table ({first}); save it as CSV with one header row") \
            from None
    table.columns = [str(c).replace("\ufeff", "").strip() for c in table.columns]
    if ours:
        table.columns = [unescape(c) for c in table.columns]
        for col in table.columns:
            if table[col].dtype.kind not in "biufcmM":
                table[col] = table[col].map(unescape)
    return table
