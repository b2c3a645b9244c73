"""A two-tower retrieval model: a customer tower and a product tower meet in one vector space, trained
with in-batch negatives, served through an approximate nearest-neighbour index (faiss HNSW).

- **Product tower**: product id embedding + category embedding + price-band embedding (deciles of log
  price) + the product's text as hashed word 1-2-grams (as the content model's ``hashing`` encoder: no
  model download), through a small MLP to `dim` units, L2-normalised.
- **Customer tower**: customer id embedding + the mean of the embeddings of the customer's last
  `history_len` products before the moment being predicted, through an MLP, L2-normalised. The history
  part is what serves a customer with little data; the id part learns what the history misses, and is
  dropped for a share `id_dropout` of the training examples so that it cannot simply memorise who bought
  what (which ranks a customer's missing item of a group last, not first).
- **Loss**: softmax over the batch (every other example's product is a negative), temperature
  `temperature`, with the log-frequency correction of Yi et al. ("Sampling-bias-corrected neural modeling
  for large corpus item recommendations", RecSys 2019), so popular products are not over-penalised for
  appearing as negatives more often.
- **Training length**: each customer's last event is held out as a validation tail (for a sample of
  `val_users`); after every epoch the model ranks the catalogue for them (exact scores) and training stops
  `patience` epochs after the best NDCG@10 or after `max_seconds`, keeping the best weights.
- **Retrieval**: recommendations and :meth:`top_for_user` search a faiss ``IndexHNSWFlat`` (inner
  product) built on the product vectors at the end of training; offline evaluation scores every product
  exactly, and ``ann_recall_`` records the share of the exact top 10 the index returns (on up to 500
  customers), so the approximation is measured, not assumed.

Per-customer state (the customer vectors and id embeddings) can be dropped with :meth:`forget`.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from marketloop.errors import DependencyError, InputError
from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.evaluation import heldout_ndcg

log = logging.getLogger(__name__)
PRICE_BANDS = 10


def _faiss():  # noqa: ANN202
    try:
        import faiss
    except ImportError:  # pragma: no cover - depends on the environment
        raise DependencyError(
            "the two-tower model's nearest-neighbour index needs faiss-cpu", hint="pip install 'marketloop[ml]'"
        ) from None
    return faiss


def _item_features(catalog: Catalog | None, n_items: int, text_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Category codes (0 = unknown), price bands (0 = unknown) and hashed text vectors per item."""
    import pandas as pd

    if catalog is None:
        return np.zeros(n_items, np.int64), np.zeros(n_items, np.int64), np.zeros((n_items, text_dim), np.float32)
    codes, _ = pd.factorize(pd.Series(catalog.category).replace("", np.nan))
    category = np.asarray(codes, dtype=np.int64) + 1  # -1 (unknown) -> 0
    price = np.asarray(catalog.price, dtype=np.float64)
    band = np.zeros(n_items, dtype=np.int64)
    ok = np.isfinite(price) & (price > 0)
    if ok.any():
        edges = np.quantile(np.log(price[ok]), np.linspace(0, 1, PRICE_BANDS + 1)[1:-1])
        band[ok] = np.searchsorted(edges, np.log(price[ok])) + 1
    texts = catalog.text.tolist()
    if any(texts):  # the hashing encoder's word 1-2-grams, folded into `text_dim` buckets
        from sklearn.feature_extraction.text import HashingVectorizer

        vec = HashingVectorizer(n_features=text_dim, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        text = vec.transform([t or "" for t in texts]).toarray().astype(np.float32)
    else:
        text = np.zeros((n_items, text_dim), np.float32)
    return category, band, text


def _networks(n_users: int, n_items: int, n_cats: int, dim: int, hidden: int, text_dim: int, id_dropout: float):  # noqa: ANN202
    import torch
    from torch import nn

    class ItemTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ids = nn.Embedding(n_items, hidden, sparse=True)
            self.cats = nn.Embedding(n_cats + 1, hidden // 4)
            self.bands = nn.Embedding(PRICE_BANDS + 1, hidden // 4)
            self.text = nn.Linear(text_dim, hidden // 2)
            self.mlp = nn.Sequential(
                nn.Linear(hidden + hidden // 4 * 2 + hidden // 2, hidden), nn.ReLU(), nn.Linear(hidden, dim)
            )

        def forward(self, items, cats, bands, text):  # noqa: ANN001, ANN202
            x = torch.cat([self.ids(items), self.cats(cats), self.bands(bands), self.text(text)], dim=-1)
            return nn.functional.normalize(self.mlp(x), dim=-1)

    class UserTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ids = nn.Embedding(n_users, hidden, sparse=True)
            self.history = nn.Embedding(n_items + 1, hidden, padding_idx=0, sparse=True)
            self.mlp = nn.Sequential(nn.Linear(hidden * 2, hidden), nn.ReLU(), nn.Linear(hidden, dim))

        def forward(self, users, history):  # noqa: ANN001, ANN202
            h = self.history(history)
            count = (history > 0).sum(dim=1, keepdim=True).clamp(min=1)
            pooled = h.sum(dim=1) / count
            ids = self.ids(users)
            if self.training and id_dropout > 0:  # whole id vectors dropped: the history part must carry
                ids = ids * (torch.rand(len(users), 1) >= id_dropout) / (1 - id_dropout)
            return nn.functional.normalize(self.mlp(torch.cat([ids, pooled], dim=-1)), dim=-1)

    return UserTower(), ItemTower()


@register
class TwoTower(BaseRecommender):
    name = "twotower"
    _user_state = ("user_vectors_", "user_embedding_")
    _params = (
        "dim",
        "hidden",
        "history_len",
        "id_dropout",
        "temperature",
        "epochs",
        "patience",
        "batch_size",
        "learning_rate",
        "max_seconds",
        "val_users",
        "hnsw_m",
        "ef_search",
        "random_state",
    )

    def __init__(
        self,
        dim: int = 64,
        hidden: int = 128,
        history_len: int = 20,
        id_dropout: float = 0.5,
        temperature: float = 0.05,
        epochs: int = 50,
        patience: int = 3,
        batch_size: int = 512,
        learning_rate: float = 1e-3,
        max_seconds: float = 600.0,
        val_users: int = 2000,
        hnsw_m: int = 32,
        ef_search: int = 128,
        random_state: int = 0,
    ) -> None:
        self.dim = dim
        self.hidden = hidden
        self.history_len = history_len
        self.id_dropout = id_dropout
        self.temperature = temperature
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_seconds = max_seconds
        self.val_users = val_users
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.random_state = random_state

    # -- training ------------------------------------------------------------------------------------
    def _examples(self, data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per event in per-user time order: user, item, the user's previous `history_len` items (ids + 1,
        left-padded with 0) and whether the event is its user's last."""
        order = np.lexsort((np.arange(len(data)), data.ts, data.user_idx))
        u, it = data.user_idx[order].astype(np.int64), data.item_idx[order].astype(np.int64)
        starts = np.r_[True, u[1:] != u[:-1]]
        first = np.maximum.accumulate(np.where(starts, np.arange(len(u)), 0))
        pos = np.arange(len(u)) - first  # position within the user's sequence
        hist = np.zeros((len(u), self.history_len), dtype=np.int64)
        for j in range(1, self.history_len + 1):  # column -j holds the item j events back
            ok = pos >= j
            hist[ok, -j] = it[np.flatnonzero(ok) - j] + 1
        is_last = np.r_[u[1:] != u[:-1], True] if len(u) else np.zeros(0, bool)
        return u, it, hist, is_last

    def _item_inputs(self, torch):  # noqa: ANN001, ANN202
        return (
            torch.arange(len(self.items_)),
            torch.from_numpy(self.item_category_),
            torch.from_numpy(self.item_band_),
            torch.from_numpy(self.item_text_),
        )

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        try:
            import torch
        except ImportError:  # pragma: no cover
            raise DependencyError("the two-tower model needs torch", hint="pip install torch==2.13.0") from None
        _faiss()
        if not 0 <= self.id_dropout < 1:
            raise InputError(
                f"TwoTower parameter id_dropout must be in [0, 1), got {self.id_dropout!r}",
                field="id_dropout",
                value=self.id_dropout,
                hint="Use e.g. 0.5 (0 keeps every id vector).",
            )
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        n_users, n_items = interactions.n_users, interactions.n_items
        text_dim = 64
        self.item_category_, self.item_band_, self.item_text_ = _item_features(catalog, n_items, text_dim)
        n_cats = int(self.item_category_.max()) if n_items else 0
        users_t, items_t = _networks(n_users, n_items, n_cats, self.dim, self.hidden, text_dim, self.id_dropout)
        u, it, hist, is_last = self._examples(interactions)
        # validation tail: the last event of a sample of customers with at least two
        counts = np.bincount(u, minlength=n_users)
        val = is_last & (counts[u] >= 2)
        val_rows = np.flatnonzero(val)
        if len(val_rows) > self.val_users:
            val_rows = np.sort(rng.choice(val_rows, self.val_users, replace=False))
        val = np.zeros(len(u), dtype=bool)
        val[val_rows] = True
        train_rows = np.flatnonzero(~val)
        freq = np.bincount(it[train_rows], minlength=n_items).astype(np.float64) + 1.0
        log_q = torch.from_numpy(np.log(freq / freq.sum()).astype(np.float32))
        # id and history tables get sparse gradients (a step touches the batch's rows only, not the whole
        # catalogue: on a 55,000-product catalogue dense updates cost most of the training time)
        tables = [users_t.ids.weight, users_t.history.weight, items_t.ids.weight]
        dense = [p for p in [*users_t.parameters(), *items_t.parameters()] if all(p is not t for t in tables)]
        opts = [
            torch.optim.SparseAdam(tables, lr=self.learning_rate),
            torch.optim.Adam(dense, lr=self.learning_rate),
        ]
        item_in = self._item_inputs(torch)
        start = time.perf_counter()
        best, best_state, since = -1.0, None, 0
        self.epochs_run_, self.validation_history_, self.stopped_by_ = 0, [], "epochs"
        for _ in range(self.epochs):
            users_t.train()
            items_t.train()
            perm = rng.permutation(train_rows)
            out_of_time = False
            for b in range(0, len(perm), self.batch_size):
                rows = perm[b : b + self.batch_size]
                bu = torch.from_numpy(u[rows])
                bi = torch.from_numpy(it[rows])
                uv = users_t(bu, torch.from_numpy(hist[rows]))
                iv = items_t(*(x[bi] for x in item_in))
                logits = uv @ iv.T / self.temperature - log_q[bi][None, :]
                same = bi[None, :] == bi[:, None]  # the same product twice in a batch is no negative
                logits = logits.masked_fill(same & ~torch.eye(len(rows), dtype=torch.bool), float("-inf"))
                loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(rows)))
                for opt in opts:
                    opt.zero_grad()
                loss.backward()
                for opt in opts:
                    opt.step()
                if time.perf_counter() - start > self.max_seconds:  # the budget holds inside an epoch too
                    out_of_time = True
                    break
            self.epochs_run_ += 1
            score = self._validation(torch, users_t, items_t, u[val_rows], hist[val_rows], it[val_rows])
            self.validation_history_.append(round(score, 5))
            if score > best:
                best, since = score, 0
                best_state = (
                    {k: v.detach().clone() for k, v in users_t.state_dict().items()},
                    {k: v.detach().clone() for k, v in items_t.state_dict().items()},
                )
            else:
                since += 1
            if len(val_rows) and since >= self.patience:
                self.stopped_by_ = "validation"
                break
            if out_of_time:
                self.stopped_by_ = "time budget"
                break
        if best_state is not None:
            users_t.load_state_dict(best_state[0])
            items_t.load_state_dict(best_state[1])
        self.best_epoch_ = int(np.argmax(self.validation_history_)) + 1 if self.validation_history_ else 0
        self.validation_ndcg_ = best if len(val_rows) else None
        users_t.eval()
        items_t.eval()
        with torch.no_grad():
            self.item_vectors_ = items_t(*item_in).numpy().astype(np.float32)
            # serving vector: the id plus the customer's latest history (their last `history_len` items)
            latest = interactions.sequences(self.history_len) + 1
            self.user_vectors_ = np.vstack(
                [
                    users_t(torch.arange(b, min(b + 4096, n_users)), torch.from_numpy(latest[b : b + 4096])).numpy()
                    for b in range(0, n_users, 4096)
                ]
            ).astype(np.float32)
        self.user_embedding_ = users_t.ids.weight.detach().numpy().copy()
        self.tower_weights_ = {
            **{f"user.{k}": v.numpy().copy() for k, v in users_t.state_dict().items() if k != "ids.weight"},
            **{f"item.{k}": v.numpy().copy() for k, v in items_t.state_dict().items()},
        }
        self._build_index()
        self.ann_recall_ = self._ann_recall(rng)
        log.info(
            "twotower: %d epochs (%s), best %d, validation NDCG@10 %s, ANN recall@10 %.3f",
            self.epochs_run_,
            self.stopped_by_,
            self.best_epoch_,
            self.validation_ndcg_,
            self.ann_recall_,
        )

    def _validation(self, torch, users_t, items_t, u, hist, target) -> float:  # noqa: ANN001
        if not len(u):
            return 0.0
        users_t.eval()
        items_t.eval()
        with torch.no_grad():
            iv = items_t(*self._item_inputs(torch)).numpy()
            uv = users_t(torch.from_numpy(u), torch.from_numpy(hist)).numpy()
        return heldout_ndcg(uv @ iv.T, target)

    # -- retrieval ------------------------------------------------------------------------------------
    def _build_index(self) -> None:
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(2 * self.hnsw_m, 64)
        index.add(np.ascontiguousarray(self.item_vectors_, dtype=np.float32))
        index.hnsw.efSearch = self.ef_search
        self.index_ = index

    def _search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.items_))
        scores, idx = self.index_.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        return idx.astype(np.int64), scores.astype(np.float64)

    def _ann_recall(self, rng: np.random.Generator) -> float:
        n = len(self.users_)
        if not n:
            return 1.0
        users = rng.choice(n, min(n, 500), replace=False)
        exact = np.argsort(-(self.user_vectors_[users] @ self.item_vectors_.T), axis=1)[:, :10]
        approx, _ = self._search(self.user_vectors_[users], 10)
        hits = sum(len(set(a.tolist()) & set(e.tolist())) for a, e in zip(approx, exact, strict=True))
        return hits / exact.size

    def top_for_user(self, u: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest products to the customer's vector through the HNSW index."""
        idx, vals = self._search(self.user_vectors_[[u]], k)
        ok = idx[0] >= 0
        return idx[0][ok], vals[0][ok]

    def _top_n(self, user_idx: np.ndarray, n: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Top-n through the nearest-neighbour index, asking it for enough to drop the seen items (the
        exact scores are :meth:`score_users`)."""
        extra = int(np.diff(self.seen_.indptr)[user_idx].max(initial=0)) if exclude_seen else 0
        idx, vals = self._search(self.user_vectors_[user_idx], n + extra)
        out_idx = np.full((len(user_idx), n), -1, dtype=np.int64)
        out_vals = np.full((len(user_idx), n), -np.inf)
        for row, u in enumerate(user_idx):
            keep = idx[row] >= 0
            if exclude_seen:
                keep &= ~np.isin(idx[row], self.seen_.indices[self.seen_.indptr[u] : self.seen_.indptr[u + 1]])
            sel = np.flatnonzero(keep)[:n]
            out_idx[row, : len(sel)], out_vals[row, : len(sel)] = idx[row][sel], vals[row][sel]
        return out_idx, out_vals

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_vectors_[user_idx] @ self.item_vectors_.T

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        return self.item_vectors_[item_idx] @ self.item_vectors_.T

    # -- persistence ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        return {
            "user_vectors_": self.user_vectors_,
            "user_embedding_": self.user_embedding_,
            "item_vectors_": self.item_vectors_,
            "item_category_": self.item_category_,
            "item_band_": self.item_band_,
            "item_text_": self.item_text_,
            "index_": _faiss().serialize_index(self.index_),  # faiss's own byte format (no pickle)
            **{f"tower__{k}": v for k, v in self.tower_weights_.items()},
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        index = arrays.pop("index_")
        self.tower_weights_ = {k.removeprefix("tower__"): v for k, v in arrays.items() if k.startswith("tower__")}
        super()._set_state({k: v for k, v in arrays.items() if not k.startswith("tower__")}, extra)
        self.index_ = _faiss().deserialize_index(index)
        self.index_.hnsw.efSearch = self.ef_search
        self.ann_recall_ = extra.get("ann_recall@10")
        self.epochs_run_ = extra.get("epochs_run")
        self.best_epoch_ = extra.get("best_epoch")
        self.validation_ndcg_ = extra.get("validation_ndcg@10")
        self.stopped_by_ = extra.get("stopped_by")

    def _extra(self) -> dict:
        return {
            "ann_recall@10": self.ann_recall_,
            "epochs_run": self.epochs_run_,
            "best_epoch": self.best_epoch_,
            "validation_ndcg@10": self.validation_ndcg_,
            "stopped_by": self.stopped_by_,
        }
