"""A self-attentive sequential recommender (SASRec, Kang & McAuley 2018) in torch, CPU-sized.

Each customer's interactions in time order (consecutive repeats merged) feed a causal Transformer
encoder; the hidden state after position t is trained to predict the item at t + 1: with a softmax over the whole
catalogue when it has at most `full_softmax_items` items (much faster learning), otherwise with binary
cross-entropy against `n_negatives` sampled items per position (the original SASRec loss). A customer's recommendation vector is the
hidden state after their last `max_len` items. Weights are saved as plain arrays (no pickle).
"""

from __future__ import annotations

import time

import numpy as np

from marketloop.errors import DependencyError
from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions


def _torch():  # noqa: ANN202
    try:
        import torch
    except ImportError:  # pragma: no cover
        raise DependencyError("the sasrec model needs torch", hint="pip install torch==2.13.0 (CPU build)") from None
    return torch


def _network(n_items: int, max_len: int, hidden: int, blocks: int, heads: int, dropout: float):  # noqa: ANN202
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, hidden, padding_idx=0)
            self.pos = nn.Embedding(max_len, hidden)
            layer = nn.TransformerEncoderLayer(hidden, heads, hidden * 2, dropout, batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(hidden)
            self.drop = nn.Dropout(dropout)

        def forward(self, seq):  # noqa: ANN001, ANN202
            length = seq.shape[1]
            x = self.items(seq) * hidden**0.5 + self.pos(torch.arange(length, device=seq.device))[None]
            causal = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
            h = self.encoder(self.drop(x), mask=causal, src_key_padding_mask=None)
            return self.norm(h)

    return Net()


@register
class SASRec(BaseRecommender):
    name = "sasrec"
    _params = (
        "max_len",
        "hidden",
        "blocks",
        "heads",
        "dropout",
        "epochs",
        "batch_size",
        "learning_rate",
        "max_seconds",
        "full_softmax_items",
        "n_negatives",
        "random_state",
    )

    def __init__(
        self,
        max_len: int = 10,
        hidden: int = 32,
        blocks: int = 1,
        heads: int = 1,
        dropout: float = 0.2,
        epochs: int = 3,
        batch_size: int = 128,
        learning_rate: float = 5e-3,
        max_seconds: float = 600.0,
        full_softmax_items: int = 10_000,
        n_negatives: int = 8,
        random_state: int = 0,
    ) -> None:
        self.max_len = max_len
        self.hidden = hidden
        self.blocks = blocks
        self.heads = heads
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_seconds = max_seconds
        self.full_softmax_items = full_softmax_items
        self.n_negatives = n_negatives
        self.random_state = random_state

    def _sequences(self, data: Interactions) -> np.ndarray:
        """(n_users, max_len + 1) left-padded item ids + 1, consecutive repeats merged."""
        order = np.lexsort((data.ts, data.user_idx))
        u, it = data.user_idx[order], data.item_idx[order] + 1
        keep = np.r_[True, (u[1:] != u[:-1]) | (it[1:] != it[:-1])]
        u, it = u[keep], it[keep]
        out = np.zeros((data.n_users, self.max_len + 1), dtype=np.int64)
        starts = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1]
        ends = np.r_[starts[1:], len(u)]
        for s, e in zip(starts, ends, strict=False):
            tail = it[max(s, e - self.max_len - 1) : e]
            out[u[s], -len(tail) :] = tail
        return out

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        torch = _torch()
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        n_items = interactions.n_items
        seqs = self._sequences(interactions)
        trainable = seqs[(seqs > 0).sum(axis=1) >= 2]
        net = _network(n_items, self.max_len, self.hidden, self.blocks, self.heads, self.dropout)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        start = time.perf_counter()
        net.train()
        self.epochs_run_ = 0
        for _ in range(self.epochs):
            perm = rng.permutation(len(trainable))
            for b in range(0, len(perm), self.batch_size):
                batch = torch.from_numpy(trainable[perm[b : b + self.batch_size]])
                inp, pos = batch[:, :-1], batch[:, 1:]
                h = net(inp)
                mask = pos > 0
                if n_items <= self.full_softmax_items:
                    logits = h[mask] @ net.items.weight[1:].T
                    loss = torch.nn.functional.cross_entropy(logits, pos[mask] - 1)
                else:
                    neg = torch.from_numpy(rng.integers(1, n_items + 1, size=(*pos.shape, self.n_negatives)))
                    ps = (h * net.items(pos)).sum(-1)[mask]
                    ns = (h[:, :, None, :] * net.items(neg)).sum(-1)[mask]
                    loss = torch.nn.functional.softplus(-ps).mean() + torch.nn.functional.softplus(ns).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.epochs_run_ += 1
            if time.perf_counter() - start > self.max_seconds:
                break
        net.eval()
        with torch.no_grad():
            h = np.vstack(
                [net(torch.from_numpy(seqs[b : b + 512, 1:]))[:, -1].numpy() for b in range(0, len(seqs), 512)]
            )
            self.item_vectors_ = net.items.weight[1:].numpy().copy()
        self.user_vectors_ = h.astype(np.float32)
        self.user_vectors_[(seqs[:, 1:] > 0).sum(axis=1) == 0] = 0.0
        self.weights_ = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_vectors_[user_idx] @ self.item_vectors_.T

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        f = self.item_vectors_
        n = np.linalg.norm(f, axis=1) + 1e-9
        return (f[item_idx] @ f.T) / (n[item_idx, None] * n[None, :])

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "user_vectors_": self.user_vectors_,
            "item_vectors_": self.item_vectors_,
            **{f"net__{k}": v for k, v in self.weights_.items()},
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        self.user_vectors_ = arrays["user_vectors_"]
        self.item_vectors_ = arrays["item_vectors_"]
        self.weights_ = {k.removeprefix("net__"): v for k, v in arrays.items() if k.startswith("net__")}
