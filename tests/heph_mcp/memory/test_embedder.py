"""The local embedder with the real model: what loading it does to the process."""

from __future__ import annotations

from pathlib import Path

import torch
from threadpoolctl import threadpool_info


async def test_loading_the_model_leaves_numpy_one_blas_thread_so_searches_never_spin_on_its_cores(
    embedder,
):
    assert await embedder.dimension() == 384
    torch_dir = str(Path(torch.__file__).parent)
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    numpys = [pool for pool in blas if not pool["filepath"].startswith(torch_dir)]
    assert numpys and all(pool["num_threads"] == 1 for pool in numpys)
