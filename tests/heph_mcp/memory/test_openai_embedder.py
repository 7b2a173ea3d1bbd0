"""The OpenAI-compatible embedder against a loopback embeddings server.

The server is a test double for the embedding model only (no network): it
answers /v1/embeddings with vectors derived from each text's hash.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from heph_mcp.memory.embedder import EmbeddingError, OpenAIEmbedder
from testkit import serving_app

DIM = 8
seen_batches: list[int] = []


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [float(b) for b in digest[:DIM]]


async def embeddings(request: Request) -> JSONResponse:
    body = await request.json()
    if request.headers.get("authorization") != "Bearer test-key":
        return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
    texts = body["input"]
    seen_batches.append(len(texts))
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)
    ]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
    )


@pytest.fixture(scope="module")
def base_url():
    app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])
    with serving_app(app) as url:
        yield url + "/v1"


async def test_vectors_come_back_normalised_in_input_order(base_url):
    embedder = OpenAIEmbedder("double", base_url=base_url, api_key="test-key")
    vectors = await embedder.embed(["alpha", "beta"])
    expected = np.array([_vector("alpha"), _vector("beta")])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-6)
    assert await embedder.dimension() == DIM


async def test_concurrent_requests_share_one_api_call(base_url):
    import asyncio

    embedder = OpenAIEmbedder("double", base_url=base_url, api_key="test-key")
    seen_batches.clear()
    results = await asyncio.gather(*(embedder.embed([f"text {n}"]) for n in range(10)))
    assert all(r.shape == (1, DIM) for r in results)
    assert len(seen_batches) < 10 and sum(seen_batches) == 10


async def test_a_provider_error_names_the_cause(base_url):
    embedder = OpenAIEmbedder("double", base_url=base_url, api_key="wrong")
    with pytest.raises(EmbeddingError, match="embedding provider failed"):
        await embedder.embed(["x"])
