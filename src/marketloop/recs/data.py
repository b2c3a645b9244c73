"""The data every recommender trains on: an interaction log with id maps, and an optional catalogue.

`Interactions` holds one row per event (customer, product, time, weight) with customers and products
mapped to dense indices, plus the customer x product matrix of summed weights that most models use.
The item universe may be larger than the items seen in the log (pass the catalogue's ids), which is what
lets the content model recommend brand-new products.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from marketloop.errors import InputError


def _as_str_array(values: object) -> np.ndarray:
    return np.asarray(pd.Series(values, dtype="object").astype(str).to_numpy(), dtype=str)


@dataclass(frozen=True, eq=False)
class Interactions:
    """An interaction log indexed by dense user / item ids.

    ``users`` and ``items`` map index -> external id (strings); ``user_idx``, ``item_idx``, ``ts``
    (unix seconds) and ``weight`` have one entry per event, sorted by time.
    """

    users: np.ndarray
    items: np.ndarray
    user_idx: np.ndarray
    item_idx: np.ndarray
    ts: np.ndarray
    weight: np.ndarray
    _user_pos: dict[str, int] = field(init=False, repr=False, compare=False)
    _item_pos: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_user_pos", {u: i for i, u in enumerate(self.users.tolist())})
        object.__setattr__(self, "_item_pos", {u: i for i, u in enumerate(self.items.tolist())})

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        user_col: str = "user",
        item_col: str = "item",
        time_col: str = "ts",
        weight_col: str | None = None,
        items: object | None = None,
        users: object | None = None,
    ) -> Interactions:
        """Build from a DataFrame; `items` / `users` fix the id universe (extra ids are allowed)."""
        for role, col in (("user", user_col), ("item", item_col), ("time", time_col)):
            if col not in frame.columns:
                raise InputError(
                    f"{role} column {col!r} is not in the data (columns: {', '.join(map(str, frame.columns))})",
                    field=f"{role}_col",
                    value=col,
                    hint=f"Name the {role} column with --{role}-col.",
                )
        if weight_col is not None and weight_col not in frame.columns:
            raise InputError(
                f"weight column {weight_col!r} is not in the data",
                field="rating_col",
                value=weight_col,
                hint="Name an existing numeric column with --rating-col, or leave it out.",
            )
        frame = frame.dropna(subset=[user_col, item_col, time_col])
        u = _as_str_array(frame[user_col])
        it = _as_str_array(frame[item_col])
        ts = _to_seconds(frame[time_col])
        w = (
            np.ones(len(frame), dtype=np.float32)
            if weight_col is None
            else pd.to_numeric(frame[weight_col], errors="coerce").fillna(0).to_numpy(np.float32)
        )
        user_ids = np.unique(u) if users is None else np.unique(np.concatenate([_as_str_array(users), u]))
        item_ids = np.unique(it) if items is None else np.unique(np.concatenate([_as_str_array(items), it]))
        ui = np.searchsorted(user_ids, u).astype(np.int32)
        ii = np.searchsorted(item_ids, it).astype(np.int32)
        order = np.argsort(ts, kind="stable")
        return cls(user_ids, item_ids, ui[order], ii[order], ts[order], w[order])

    def select(self, mask: np.ndarray) -> Interactions:
        """The events where `mask` is true, keeping the same id universe."""
        return Interactions(
            self.users, self.items, self.user_idx[mask], self.item_idx[mask], self.ts[mask], self.weight[mask]
        )

    # -- shape and lookups --------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return len(self.user_idx)

    def user_index(self, ids: object) -> np.ndarray:
        """Dense indices of external user ids, -1 where unknown."""
        return np.array([self._user_pos.get(str(x), -1) for x in np.atleast_1d(ids)], dtype=np.int64)

    def item_index(self, ids: object) -> np.ndarray:
        return np.array([self._item_pos.get(str(x), -1) for x in np.atleast_1d(ids)], dtype=np.int64)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """users x items, summed weights (duplicates add up)."""
        m = sp.csr_matrix(
            (self.weight.astype(np.float32), (self.user_idx, self.item_idx)), shape=(self.n_users, self.n_items)
        )
        m.sum_duplicates()
        return m

    @cached_property
    def binary(self) -> sp.csr_matrix:
        m = self.matrix.copy()
        m.data[:] = 1.0
        return m

    def sequences(self, max_len: int, merge_repeats: bool = False) -> np.ndarray:
        """(n_users, max_len) item positions of each user's last `max_len` events in time order, left-padded
        with -1 (ties in time keep log order); `merge_repeats` merges consecutive repeats of one item."""
        order = np.lexsort((np.arange(len(self)), self.ts, self.user_idx))
        u, it = self.user_idx[order], self.item_idx[order].astype(np.int64)
        if merge_repeats and len(u):
            keep = np.r_[True, (u[1:] != u[:-1]) | (it[1:] != it[:-1])]
            u, it = u[keep], it[keep]
        out = np.full((self.n_users, max_len), -1, dtype=np.int64)
        if not len(u) or max_len <= 0:
            return out
        ends = np.r_[np.flatnonzero(u[1:] != u[:-1]) + 1, len(u)]
        starts = np.r_[0, ends[:-1]]
        lengths = np.minimum(ends - starts, max_len)
        # the j-th from last event of each user goes to column max_len - 1 - j
        rows = np.repeat(u[starts], lengths)
        back = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # 0.. within user
        src = np.repeat(ends - lengths, lengths) + back
        out[rows, max_len - np.repeat(lengths, lengths) + back] = it[src]
        return out

    @property
    def max_ts(self) -> int:
        return int(self.ts.max()) if len(self.ts) else 0

    def snapshot(self) -> dict[str, object]:
        """Row counts, time range and a content hash: what the registry records about training data."""
        import hashlib

        digest = hashlib.sha256()
        for arr in (self.user_idx, self.item_idx, self.ts, self.weight):
            digest.update(np.ascontiguousarray(arr).tobytes())
        digest.update("\x1f".join(self.users.tolist()).encode())
        digest.update("\x1f".join(self.items.tolist()).encode())
        return {
            "events": int(len(self)),
            "users": int(self.n_users),
            "items": int(self.n_items),
            "min_ts": int(self.ts.min()) if len(self.ts) else None,
            "max_ts": self.max_ts if len(self.ts) else None,
            "sha256": digest.hexdigest(),
        }


def _to_seconds(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(np.int64)
    parsed = pd.to_datetime(col, errors="coerce")
    if parsed.isna().any():
        bad = col[parsed.isna()].iloc[0]
        raise InputError(
            f"time column has a value that is not a date or time: {bad!r}",
            field="time_col",
            value=bad,
            hint="Use ISO timestamps (2024-05-01 12:00:00) or unix seconds.",
        )
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return (parsed.astype("datetime64[s]").astype(np.int64)).to_numpy()


@dataclass(frozen=True)
class CatalogColumns:
    """A catalogue's attributes as Python lists: looking up one item in a list costs a fraction of what
    indexing a numpy array does, which is what serving does a few dozen times per request."""

    items: list[str]
    category: list[str]
    brand: list[str]
    price: list[float]
    cost: list[float]
    stock: list[float]
    hidden: list[bool]
    cover: list[float]


@dataclass(frozen=True, eq=False)
class Catalog:
    """Product attributes aligned to an item universe (missing values allowed).

    ``text`` feeds the content model; ``category``, ``price``, ``cost``, ``stock`` and ``hidden`` feed the
    ranker and the business rules.
    """

    items: np.ndarray
    text: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    price: np.ndarray
    cost: np.ndarray
    stock: np.ndarray
    hidden: np.ndarray
    #: days of stock cover against the demand forecast (NaN: unknown), from the store's stock_cover
    cover: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, items: np.ndarray, *, id_col: str = "product_id") -> Catalog:
        """Align a products frame (product_id, name, description, category, brand, price, cost, stock,
        hidden) to `items`; unknown products get empty text and NaN numbers."""
        f = frame.copy()
        f[id_col] = f[id_col].astype(str)
        f = f.drop_duplicates(id_col).set_index(id_col).reindex(pd.Index(items, dtype=object))

        def col(name: str, default: object) -> pd.Series:
            return f[name] if name in f.columns else pd.Series(default, index=f.index)

        name = col("name", "").fillna("").astype(str)
        desc = col("description", "").fillna("").astype(str)
        cat = col("category", "").fillna("").astype(str)
        brand = col("brand", "").fillna("").astype(str)
        text = (name + ". " + cat + ". " + brand + ". " + desc).str.replace(r"(\. )+$", "", regex=True)
        text = text.str.strip(". ").str.slice(0, 1000)
        num = lambda n: pd.to_numeric(col(n, np.nan), errors="coerce").to_numpy(np.float64)  # noqa: E731
        hidden = col("hidden", False).fillna(False).astype(bool).to_numpy()
        return cls(
            items=np.asarray(items, dtype=str),
            text=text.to_numpy(dtype=str),
            category=cat.to_numpy(dtype=str),
            brand=brand.to_numpy(dtype=str),
            price=num("price"),
            cost=num("cost"),
            stock=num("stock"),
            hidden=hidden,
            cover=num("days_of_cover"),
        )

    @cached_property
    def columns(self) -> CatalogColumns:
        """The attributes as Python lists, built on first use."""
        return CatalogColumns(
            self.items.tolist(),
            self.category.tolist(),
            self.brand.tolist(),
            self.price.tolist(),
            self.cost.tolist(),
            self.stock.tolist(),
            self.hidden.tolist(),
            (self.cover if self.cover is not None else np.full(len(self.items), np.nan)).tolist(),
        )

    @classmethod
    def empty(cls, items: np.ndarray) -> Catalog:
        return cls.from_frame(pd.DataFrame({"product_id": []}), items)
