"""Thread limits for the numeric libraries (OpenMP, BLAS) used by the evaluation.

scikit-learn's K-Means and t-SNE run OpenMP threads. On the small tables this tool works with
(thousands of cells) the threads spend more time waiting for each other than computing, and on a
CPU shared with other work they are far slower still: measured on a busy 2-core machine, K-Means
on 300 x 64 took 1.24 s with threads and 0.01 s on one thread; t-SNE on 3,000 x 50 took 48 s
and 12 s. So below `SMALL_ROWS` rows the evaluation runs single-threaded; larger inputs keep the
libraries' default thread count.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

SMALL_ROWS = 50_000


@contextlib.contextmanager
def compute_threads(n_rows: int) -> Iterator[None]:
    """Within the block, numeric libraries use 1 thread if `n_rows` < `SMALL_ROWS`."""
    if n_rows >= SMALL_ROWS:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
