"""Store format measurement behind ssrl_core/data/store.py: .npy chunks read with pread vs zarr 3.

20,000 real BBBC021 crops (68x68x3 uint16, drawn with replacement from the shared set) written in
batches of 2,048, then random batches of 256 and a sequential pass read back. zarr is not a
dependency of the product: install it out of the way to rerun this, e.g.
`pip install --target /tmp/zarrtest zarr`. Results: benchmarks/scale.md ("Why .npy chunks").
"""
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, "/tmp/zarrtest")
import zarr

src = np.load("/work/shared/data/bbbc021/bbbc021_week4_dmso_cycloheximide.npz")["images"]
N = 20000; chunk = 2048
rng = np.random.default_rng(0)
data = src[rng.integers(0, len(src), N)]
root = "/tmp/storebench"
# npy chunks
d = f"{root}/npy"; shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
t = time.perf_counter()
for i in range(0, N, chunk):
    np.save(f"{d}/c{i//chunk:05d}.npy", data[i:i+chunk])
os.sync(); tw_npy = time.perf_counter() - t
for name, comp in [("zarr-none", None), ("zarr-zstd", "default")]:
    d = f"{root}/{name}"; shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    kw = {"compressors": None} if comp is None else {}
    z = zarr.create_array(store=d, shape=data.shape, chunks=(256,) + data.shape[1:], dtype=data.dtype, **kw)
    for i in range(0, N, chunk):
        z[i:i+chunk] = data[i:i+chunk]
    os.sync(); tw = time.perf_counter() - t
    size = sum(os.path.getsize(os.path.join(a, f)) for a, _, fs in os.walk(d) for f in fs)
    idx = np.sort(rng.choice(N, 256, replace=False))
    t = time.perf_counter()
    for _ in range(20):
        b = z.oindex[np.sort(rng.choice(N, 256, replace=False))]
    tr = (time.perf_counter() - t) / 20
    t = time.perf_counter()
    for i in range(0, N, 256):
        b = z[i:i+256]
    ts = time.perf_counter() - t
    print(f"{name}: write {N/tw:.0f} cells/s, size {size/1e6:.0f} MB, random batch of 256 {tr*1000:.1f} ms, sequential read {N/ts:.0f} cells/s")
# npy pread
files = sorted(os.listdir(f"{root}/npy"))
fhs = []
for f in files:
    fh = open(f"{root}/npy/{f}", "rb"); np.lib.format.read_magic(fh); np.lib.format.read_array_header_1_0(fh); fhs.append((fh.fileno(), fh.tell(), fh))
cell = int(np.prod(data.shape[1:])) * 2
def read(idx):
    out = np.empty((len(idx),) + data.shape[1:], data.dtype); buf = out.reshape(len(idx), -1).view(np.uint8)
    for j, g in enumerate(idx):
        fd, off, _ = fhs[g // chunk]
        os.preadv(fd, [buf[j]], off + (g % chunk) * cell)
    return out
t = time.perf_counter()
for _ in range(20):
    b = read(np.sort(rng.choice(N, 256, replace=False)))
tr = (time.perf_counter() - t) / 20
t = time.perf_counter()
for i in range(0, N, 256):
    b = read(np.arange(i, min(N, i + 256)))
ts = time.perf_counter() - t
assert (read(np.arange(5000, 5100)) == data[5000:5100]).all()
size = sum(os.path.getsize(f"{root}/npy/{f}") for f in files)
print(f"npy+pread: write {N/tw_npy:.0f} cells/s, size {size/1e6:.0f} MB, random batch of 256 {tr*1000:.1f} ms, sequential read {N/ts:.0f} cells/s (per-cell pread)")
