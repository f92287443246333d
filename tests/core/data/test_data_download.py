"""Downloads against a real local HTTP server on 127.0.0.1: resume, checksums, offline errors,
the MitoCheck GitHub-contents walk and the BBBC021 plate pipeline (selection on real metadata).
What a download writes carries its channel names (read from the raw file, not from a guess)."""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from ssrl_core.data import bbbc021, sources
from ssrl_core.data.download import NoNetwork, fetch, sha256_of
from ssrl_core.data.mitocheck import download_mitocheck
from ssrl_core.data.npz import load_npz


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with HTTP Range, and directories under /api/ as GitHub contents JSON."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/api/"):
            return self._listing(path[len("/api/"):])
        target = Path(self.translate_path(path))
        rng = self.headers.get("Range")
        if not rng or not target.is_file():
            return super().do_GET()
        data = target.read_bytes()
        start = int(rng.split("=")[1].split("-")[0])
        if start >= len(data):
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self.wfile.write(data[start:])

    def _listing(self, rel):
        folder = Path(self.directory) / rel
        host = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
        items = [{"name": p.name, "type": "dir" if p.is_dir() else "file",
                  "download_url": None if p.is_dir() else f"{host}/{rel}/{p.name}"} for p in sorted(folder.iterdir())]
        body = json.dumps(items).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_resumes_records_and_verifies_checksums(server, tmp_path):
    root, url = server
    payload = np.random.default_rng(0).bytes(300_000)
    (root / "big.bin").write_bytes(payload)
    dest = tmp_path / "dl" / "big.bin"
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "big.bin.part").write_bytes(payload[:100_000])  # an interrupted download
    seen = []
    fetch(f"{url}/big.bin", dest, progress=lambda done, total, name: seen.append((done, total)))
    assert dest.read_bytes() == payload
    assert seen[0] == (100_000, 300_000) and seen[-1] == (300_000, 300_000)  # resumed from the .part
    recorded = json.loads((tmp_path / "dl" / "checksums.json").read_text())
    assert recorded["big.bin"] == sha256_of(dest)
    dest.write_bytes(b"damaged")  # a damaged file is fetched again because its checksum is known
    fetch(f"{url}/big.bin", dest)
    assert dest.read_bytes() == payload
    with pytest.raises(ValueError, match="checksum"):
        fetch(f"{url}/big.bin", tmp_path / "other" / "big.bin", sha256="0" * 64)
    assert not (tmp_path / "other" / "big.bin").exists()
    with pytest.raises(FileNotFoundError, match="404"):
        fetch(f"{url}/missing.bin", tmp_path / "m.bin")


def test_offline_is_a_plain_no_network_error(tmp_path):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NoNetwork, match="no network"):
        fetch(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", timeout=2)


def _stored_channels(path: Path) -> list[str]:
    """The channel names written inside an npz (no loader, no fallback)."""
    with np.load(path, allow_pickle=False) as data:
        return [str(c) for c in data["channels"]]


def test_mitocheck_download_walks_class_folders(server, tmp_path, monkeypatch):
    root, url = server
    base = root / "repo" / "6.single_cell_images" / "mitocheck_single_cell_sample_images"
    name = "PLLT0017_19--ex2005_07_06--sp2005_04_12--tt19--c5___P00365_01___T{t:05d}___X0746___Y0848____img.png"
    for k, cls in enumerate(("Interphase", "Metaphase", "Apoptosis")):
        (base / cls).mkdir(parents=True)
        for t in range(3):
            Image.fromarray(np.full((20, 20), 40 * k + t, np.uint8)).save(base / cls / name.format(t=t))
    (base / "README.md").write_text("not a class")
    monkeypatch.setenv("SSRL_MITOCHECK_URL", f"{url}/api/repo")  # the source table's mirror variable
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    out = sources.download("mitocheck", tmp_path / "data", classes=["interphase", "Metaphase"], per_class=2)
    assert out == tmp_path / "data" / "mitocheck_sample.npz" and sources.of_file(out) is sources.MITOCHECK
    assert _stored_channels(out) == ["H2B-GFP"]  # written into the file by the download
    cells = load_npz(out)
    assert len(cells) == 4 and cells.channels == ["H2B-GFP"]
    assert sorted(cells.meta["label"]) == ["Interphase", "Interphase", "Metaphase", "Metaphase"]
    assert set(cells.meta["plate"]) == {"PLLT0017_19"} and set(cells.meta["well"]) == {"P00365"}
    with pytest.raises(ValueError, match="unknown MitoCheck phenotype"):
        download_mitocheck(tmp_path / "data", base_url=f"{url}/api/repo", classes=["Nope"])


def test_bbbc021_selection_on_real_metadata(shared_data):
    table = bbbc021.read_metadata(shared_data / "bbbc021" / "metadata")
    assert len(table) == 13200 and table["plate"].nunique() == 55
    noco = bbbc021.select_fields(table, compounds=["Nocodazole"])
    assert sorted(noco["plate"].unique()) == ["Week1_22123", "Week1_22141", "Week1_22161"]
    assert set(noco.loc[noco["concentration"] == 3.0, "moa"]) == {"Microtubule destabilizers"}
    both = bbbc021.select_fields(table, compounds=["nocodazole"], concentrations=[3.0], with_controls=True)
    assert set(both["compound"]) == {"nocodazole", "DMSO"} and both["plate"].nunique() == 3
    taxol = bbbc021.select_fields(table, compounds=["taxol"], plates=["Week4_27481"])
    assert set(taxol["plate"]) == {"Week4_27481"} and len(taxol) > 0
    with pytest.raises(ValueError, match="unknown compound"):
        bbbc021.select_fields(table, compounds=["aspirin"])


def test_bbbc021_download_and_crop_pipeline_on_a_real_field(server, shared_data, tmp_path):
    """A one-field plate zip built from a real nuclei image, served locally, goes end to end."""
    root, url = server
    meta_dir = shared_data / "bbbc021" / "metadata"
    shutil.copy(meta_dir / bbbc021.MOA_CSV, root / bbbc021.MOA_CSV)
    lines = (meta_dir / bbbc021.IMAGE_CSV).read_text().splitlines()
    header = lines[0]
    row = next(line for line in lines[1:] if ",Week1_22123," in line and line.endswith(",nocodazole,3"))
    (root / bbbc021.IMAGE_CSV).write_text(header + "\n" + row + "\n")
    cols = row.split(",")
    dna = tifffile.imread(shared_data / "fields" / "stardist_dsb2018" / "img2d.tif")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        # CSV order: DAPI (w1), Tubulin (w2), Actin (w4); crops store DAPI, Actin, Tubulin
        for fname, plane in ((cols[2], dna), (cols[4], dna // 2), (cols[6], dna // 3)):
            b = io.BytesIO()
            tifffile.imwrite(b, plane)
            zf.writestr(f"Week1_22123/{fname}", b.getvalue())
    (root / bbbc021.plate_zip_name("Week1_22123")).write_bytes(buf.getvalue())
    out = bbbc021.download_bbbc021(tmp_path / "data", compounds=["nocodazole"], concentrations=[3.0],
                                   with_controls=False, size=64, base_url=url)
    assert _stored_channels(out) == ["DAPI", "Actin", "Tubulin"]  # written into the file by the download
    cells = load_npz(out)
    assert out.name == "bbbc021_nocodazole.npz" and cells.shape == (64, 64, 3)
    assert cells.channels == ["DAPI", "Actin", "Tubulin"] and 60 < len(cells) < 130
    assert set(cells.meta["compound"]) == {"nocodazole"} and set(cells.meta["plate"]) == {"Week1_22123"}
    assert set(cells.meta["moa"]) == {"Microtubule destabilizers"} and cells.meta["site"].iloc[0] >= 1
    assert np.array_equal(cells.images[..., 1], cells.images[..., 0] // 3)  # Actin
    assert np.array_equal(cells.images[..., 2], cells.images[..., 0] // 2)  # Tubulin
    raw = tmp_path / "data" / "bbbc021_raw"
    assert bbbc021.plate_zip_name("Week1_22123") in json.loads((raw / "checksums.json").read_text())
    assert not list(raw.glob(".*.tmp"))  # the streamed crops file was cleaned up
