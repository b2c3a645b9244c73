"""Random streams per block of customers, so a store does not depend on how it was chunked.

Behaviour is simulated a chunk of customers at a time, with vectorised draws over all of a chunk's
sessions, views, lines or events. If one generator served a whole chunk, each customer's numbers
would depend on which other customers shared the chunk, and ``--chunk`` would change the store.
Instead every block of :data:`BLOCK` consecutive customers has its own generator, keyed by (seed,
purpose, block), and a draw over a chunk concatenates per-block draws. The elements of every draw
are ordered by customer, so each block's part is contiguous.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Customers per random block; chunk sizes are multiples of it.
BLOCK = 250


class BlockRandom:
    """Generators for blocks ``first .. first + count - 1``; every draw takes the block of each
    element (non-decreasing) and returns one number per element."""

    def __init__(self, seed: int, stream: int, first_block: int, n_blocks: int) -> None:
        self._first = first_block
        self._gens = [np.random.default_rng([seed, stream, first_block + b]) for b in range(n_blocks)]

    def _draw(self, block: np.ndarray, fn: Callable[[np.random.Generator, int, slice], np.ndarray]) -> np.ndarray:
        local = np.asarray(block, dtype=np.int64) - self._first
        if len(local) and (local[0] < 0 or local[-1] >= len(self._gens) or (np.diff(local) < 0).any()):
            raise ValueError("draws must be ordered by customer block")  # a programming error, not user input
        counts = np.bincount(local, minlength=len(self._gens))
        ends = np.cumsum(counts)
        parts = [
            fn(gen, int(n), slice(int(e - n), int(e))) for gen, n, e in zip(self._gens, counts, ends, strict=True) if n
        ]
        return np.concatenate(parts) if parts else fn(self._gens[0], 0, slice(0, 0))

    def random(self, block: np.ndarray) -> np.ndarray:
        return self._draw(block, lambda g, n, s: g.random(n))

    def standard_normal(self, block: np.ndarray) -> np.ndarray:
        return self._draw(block, lambda g, n, s: g.standard_normal(n))

    def exponential(self, scale: float, block: np.ndarray) -> np.ndarray:
        return self._draw(block, lambda g, n, s: g.exponential(scale, n))

    def integers(self, low: int, high: int, block: np.ndarray, width: int | None = None) -> np.ndarray:
        shape = (lambda n: (n, width)) if width else (lambda n: n)
        return self._draw(block, lambda g, n, s: g.integers(low, high, shape(n)))

    def poisson(self, lam: np.ndarray | float, block: np.ndarray) -> np.ndarray:
        lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), np.shape(block))
        return self._draw(block, lambda g, n, s: g.poisson(lam[s]))
