"""The recommender protocol and the base class every model builds on.

Call shape (after implicit's ``RecommenderBase``): ``fit(interactions)`` returns the model;
``recommend(user_ids, n, exclude_seen=True)`` gives item ids and scores for one customer (1-D arrays) or
a batch (2-D arrays, padded with ``None`` / ``nan``); ``similar_items(item_ids, n)`` the same for
products; ``save(path)`` / :func:`load_model` store the model as ``config.json`` + ``arrays.npz``
(no pickle) with a schema version checked on load.

A model only implements ``_fit``, ``_score`` (dense scores for a block of users) and, when it has a
better notion of similarity than co-occurrence, ``_similar``; everything else lives here once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from marketloop.errors import InputError, NotFoundError
from marketloop.recs.data import Catalog, Interactions

SCHEMA_VERSION = 1  #: the artefact layout of every model class that does not set its own ``schema_version``
_MODELS: dict[str, type[BaseRecommender]] = {}


@runtime_checkable
class Recommender(Protocol):
    name: str

    def fit(self, interactions: Interactions, catalog: Catalog | None = None) -> Recommender: ...

    def recommend(self, user_ids: object, n: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]: ...

    def similar_items(self, item_ids: object, n: int = 10) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: str | Path) -> Path: ...


def register(cls: type[BaseRecommender]) -> type[BaseRecommender]:
    """Class decorator: make a model loadable by name."""
    _MODELS[cls.name] = cls
    return cls


def model_names() -> list[str]:
    return sorted(_MODELS)


def session_model_names() -> list[str]:
    """Models that rank items for a live session (``supports_sessions``)."""
    return sorted(n for n, c in _MODELS.items() if c.supports_sessions)


def model_class(name: str) -> type[BaseRecommender]:
    try:
        return _MODELS[name]
    except KeyError:
        raise InputError(
            f"unknown model {name!r} (expected one of: {', '.join(model_names())})",
            field="model",
            value=name,
            hint="Pick a model name from the list.",
        ) from None


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the n largest finite scores per row, best first (rows padded with -1)."""
    scores = np.atleast_2d(scores)
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64), np.zeros((scores.shape[0], 0))
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    idx = np.where(np.isfinite(vals), idx, -1)
    return idx, vals


def top_row(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and values of the `k` largest finite scores of one row, best first: the one-row case of
    :func:`top_n` without its 2-D bookkeeping (serving ranks one row per request). Ties inside the list
    keep position order; which of several items tied at the cut makes the list is unspecified."""
    scores = np.asarray(scores, dtype=np.float64)
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    part.sort()  # ties keep position order through the stable sort below
    vals = scores[part]
    order = np.argsort(-vals, kind="stable")
    idx, vals = part[order], vals[order]
    finite = np.isfinite(vals)
    return idx[finite], vals[finite]


class BaseRecommender:
    """Shared machinery: id handling, exclusion of seen items, top-n, similar items, persistence."""

    name: ClassVar[str] = "base"
    #: the layout of this class's saved artefacts; raised when it changes, so older artefacts are refused
    schema_version: ClassVar[int] = SCHEMA_VERSION
    #: constructor arguments, in order; each is stored unchanged on the instance (scikit-learn style)
    _params: ClassVar[tuple[str, ...]] = ()
    #: learned attributes with one row per user (dense arrays or CSR matrices), which :meth:`forget`
    #: removes with the user; None: the model cannot forget a user in place and must be retrained
    _user_state: ClassVar[tuple[str, ...] | None] = None
    #: whether the model ranks items for a live session (a sequence of items) as well as for a known
    #: user: see :meth:`score_sessions`
    supports_sessions: ClassVar[bool] = False

    # -- scikit-learn conventions --------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def fit(self, interactions: Interactions, catalog: Catalog | None = None) -> BaseRecommender:
        if not isinstance(interactions, Interactions):
            raise InputError(
                f"fit expects an Interactions object, got {type(interactions).__name__}",
                field="interactions",
                value=type(interactions).__name__,
                hint="Build one with Interactions.from_frame(df, user_col=..., item_col=..., time_col=...).",
            )
        if len(interactions) == 0:
            raise InputError(
                "cannot fit a recommender on an empty interaction log",
                field="interactions",
                value=0,
                hint="Load orders or events first (marketloop ingest ...).",
            )
        self._validate_params()
        start = time.perf_counter()
        self.users_ = interactions.users
        self.items_ = interactions.items
        self._user_pos = {u: i for i, u in enumerate(self.users_.tolist())}
        self._item_pos = {u: i for i, u in enumerate(self.items_.tolist())}
        self.seen_ = interactions.binary.tocsr()
        self._fit(interactions, catalog)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _validate_params(self) -> None:
        for p in self._params:
            v = getattr(self, p)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and p != "random_state" and v < 0:
                raise InputError(
                    f"{type(self).__name__} parameter {p} must be >= 0, got {v!r}",
                    field=p,
                    value=v,
                    hint=f"Pass a non-negative {p}.",
                )

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        raise NotImplementedError

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense scores (len(user_idx), n_items); higher is better; -inf means never recommend."""
        raise NotImplementedError

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        """Dense item-to-item scores (len(item_idx), n_items). Default: cosine on co-occurrence."""
        cols = self.seen_[:, item_idx].T.tocsr()
        co = (cols @ self.seen_).toarray().astype(np.float64)
        norms = np.sqrt(np.asarray(self.seen_.sum(axis=0)).ravel())
        denom = norms[item_idx][:, None] * norms[None, :] + 1e-9
        return co / denom

    # -- public API ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise InputError(
                f"{type(self).__name__} is not fitted yet",
                field="model",
                value=self.name,
                hint="Call fit(interactions) first, or load a trained model.",
            )

    def user_index(self, ids: object) -> np.ndarray:
        self._check_fitted()
        return np.array([self._user_pos.get(str(x), -1) for x in np.atleast_1d(ids)], dtype=np.int64)

    def item_index(self, ids: object) -> np.ndarray:
        self._check_fitted()
        return np.array([self._item_pos.get(str(x), -1) for x in np.atleast_1d(ids)], dtype=np.int64)

    def user_position(self, user_id: object) -> int:
        """Dense index of one user id, -1 when unknown (the scalar :meth:`user_index`, for serving)."""
        self._check_fitted()
        return self._user_pos.get(str(user_id), -1)

    def item_position(self, item_id: object) -> int:
        """Dense index of one item id, -1 when unknown."""
        self._check_fitted()
        return self._item_pos.get(str(item_id), -1)

    def score_users(self, user_idx: np.ndarray, exclude_seen: bool = False) -> np.ndarray:
        """Scores over all items for known users (dense indices); used by evaluation and the ranker."""
        self._check_fitted()
        user_idx = np.asarray(user_idx, dtype=np.int64)
        scores = np.asarray(self._score(user_idx), dtype=np.float64)
        if exclude_seen:
            seen = self.seen_[user_idx]
            rows = np.repeat(np.arange(len(user_idx)), np.diff(seen.indptr))
            scores[rows, seen.indices] = -np.inf
        return scores

    def head_for_user(self, u: int, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The start (at most `k` items) of :meth:`top_for_user` when the model keeps it precomputed and
        can give it without scoring, else None (the default)."""
        return None

    def top_for_user(self, u: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Item positions and scores of the `k` best items for the known user `u` (a dense index), best
        first, finite scores only, items already seen included (serving's business rules decide)."""
        return top_row(self.score_users(np.array([u]))[0], k)

    def recommend(self, user_ids: object, n: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item ids and scores for one user id (1-D) or a sequence of ids (2-D, padded).

        Unknown users get no recommendations (empty / padded rows); cold start is the serving
        layer's job (see :mod:`marketloop.recs.service`).
        """
        single = isinstance(user_ids, (str, int, np.integer))
        _check_n(n)
        uidx = self.user_index(user_ids)
        out_ids = np.full((len(uidx), n), None, dtype=object)
        out_scores = np.full((len(uidx), n), np.nan)
        known = np.flatnonzero(uidx >= 0)
        if len(known):
            idx, vals = self._top_n(uidx[known], n, exclude_seen)
            for row, k in enumerate(known):
                ok = idx[row] >= 0
                out_ids[k, : ok.sum()] = self.items_[idx[row][ok]]
                out_scores[k, : ok.sum()] = vals[row][ok]
        if single:
            ok = out_ids[0] != None  # noqa: E711 - elementwise on an object array
            return out_ids[0][ok].astype(str), out_scores[0][ok]
        return out_ids, out_scores

    def _top_n(self, user_idx: np.ndarray, n: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Positions and scores of the n best items of known users (-1 padded): the full scores ranked, or
        a model's own retrieval (the two-tower model's nearest-neighbour index)."""
        return top_n(self.score_users(user_idx, exclude_seen=exclude_seen), n)

    def similar_items(self, item_ids: object, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The n most similar items (the item itself excluded), for one id (1-D) or several (2-D)."""
        single = isinstance(item_ids, (str, int, np.integer))
        _check_n(n)
        iidx = self.item_index(item_ids)
        if single and iidx[0] < 0:
            raise NotFoundError(
                f"product {item_ids!r} is not known to the {self.name} model",
                hint="Retrain the model after loading the product, or check the product id.",
            )
        out_ids = np.full((len(iidx), n), None, dtype=object)
        out_scores = np.full((len(iidx), n), np.nan)
        known = np.flatnonzero(iidx >= 0)
        if len(known):
            scores = np.asarray(self._similar(iidx[known]), dtype=np.float64)
            scores[np.arange(len(known)), iidx[known]] = -np.inf
            idx, vals = top_n(scores, n)
            for row, k in enumerate(known):
                ok = idx[row] >= 0
                out_ids[k, : ok.sum()] = self.items_[idx[row][ok]]
                out_scores[k, : ok.sum()] = vals[row][ok]
        if single:
            ok = out_ids[0] != None  # noqa: E711
            return out_ids[0][ok].astype(str), out_scores[0][ok]
        return out_ids, out_scores

    # -- sessions ------------------------------------------------------------------------------
    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        """Dense scores (len(sessions), n_items) for live sessions, each a sequence of item positions in
        the order they were seen (oldest first); for anonymous visitors, who have no user row."""
        self._check_fitted()
        if not self.supports_sessions:
            raise InputError(
                f"the {self.name} model does not rank items for a session",
                field="model",
                value=self.name,
                hint=f"Use a session model: {', '.join(session_model_names())}.",
            )
        return np.asarray(self._score_sessions([np.asarray(s, dtype=np.int64) for s in sessions]), dtype=np.float64)

    def recommend_session(
        self, item_ids: object, n: int = 10, exclude_seen: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item ids and scores after a session that saw `item_ids` (oldest first); ids the model does
        not know are skipped, and a session of only unknown items gets the model's empty-session ranking."""
        _check_n(n)
        seq = self.item_index(item_ids)
        seq = seq[seq >= 0]
        scores = self.score_sessions([seq])[0]
        if exclude_seen and len(seq):
            scores[seq] = -np.inf
        idx, vals = top_row(scores, n)
        return self.items_[idx].astype(str), vals

    # -- erasure -----------------------------------------------------------------------------------
    def forget(self, user_ids: object) -> int:
        """Remove users (customers, or sessions for session models) and every row of learned state that
        belongs to them; returns how many were known. Aggregates over many users (item similarities,
        item factors) keep the departed users' share until the next retraining."""
        self._check_fitted()
        if self._user_state is None:
            raise InputError(
                f"the {self.name} model keeps per-customer state it cannot drop in place",
                field="model",
                value=self.name,
                hint="Retrain it on the store after the erasure (`marketloop recs train`).",
            )
        drop = self.user_index(user_ids)
        drop = np.unique(drop[drop >= 0])
        if not len(drop):
            return 0
        keep = np.setdiff1d(np.arange(len(self.users_)), drop)
        self.users_ = self.users_[keep]
        self._user_pos = {u: i for i, u in enumerate(self.users_.tolist())}
        self.seen_ = self.seen_.tocsr()[keep]
        for name in self._user_state:
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, value.tocsr()[keep] if sp.issparse(value) else np.asarray(value)[keep])
        self._after_forget(drop)
        return int(len(drop))

    def _after_forget(self, dropped: np.ndarray) -> None:
        """Hook for state indexed by user that is not a plain row array (e.g. user-user similarities)."""

    # -- persistence ---------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (beyond ids and the seen matrix)."""
        return {}

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        for key, value in arrays.items():
            setattr(self, key, value)

    def _extra(self) -> dict[str, Any]:
        """Learned JSON-able values to save."""
        return {}

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``arrays.npz`` into the folder `path` (created)."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        seen = self.seen_.tocsr()
        arrays = {
            "users_": self.users_.astype(str),
            "items_": self.items_.astype(str),
            "seen_indptr": seen.indptr,
            "seen_indices": seen.indices,
            **{f"state__{k}": np.asarray(v) for k, v in self._state().items()},
        }
        np.savez_compressed(folder / "arrays.npz", **arrays)
        config = {
            "schema_version": self.schema_version,
            "model": self.name,
            "params": self.get_params(),
            "fit_seconds": getattr(self, "fit_seconds_", None),
            "extra": self._extra(),
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2, default=_json_default))
        self._save_files(folder)
        return folder

    def _save_files(self, folder: Path) -> None:
        """Hook for models with artefacts beyond arrays (sub-models, a LightGBM text model)."""

    def _load_files(self, folder: Path) -> None:
        """Counterpart of :meth:`_save_files`."""


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check_n(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise InputError(
            f"n must be a positive whole number, got {n!r}",
            field="n",
            value=n,
            hint="Ask for at least one recommendation, e.g. n=10.",
        )


def load_model(path: str | Path) -> BaseRecommender:
    """Load a model saved with :meth:`BaseRecommender.save`, checking the schema version."""
    folder = Path(path)
    cfg_path = folder / "config.json"
    if not cfg_path.exists() or not (folder / "arrays.npz").exists():
        raise NotFoundError(
            f"no saved model in {folder} (expected config.json and arrays.npz)",
            hint="Train one with `marketloop recs train` or check the path.",
        )
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{cfg_path} is not valid JSON ({exc.msg} at line {exc.lineno})",
            field="config.json",
            value=str(cfg_path),
            hint="The artefact is damaged; retrain the model.",
        ) from None
    cls = model_class(config.get("model", ""))
    version = config.get("schema_version")
    if version != cls.schema_version:
        raise InputError(
            f"model artefact {folder} has schema version {version!r}, this MarketLoop reads {cls.schema_version} "
            f"for {cls.name} models",
            field="schema_version",
            value=version,
            hint="Retrain the model with this version of MarketLoop.",
        )
    model = cls(**config.get("params", {}))
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    model.users_ = arrays.pop("users_")
    model.items_ = arrays.pop("items_")
    model._user_pos = {u: i for i, u in enumerate(model.users_.tolist())}
    model._item_pos = {u: i for i, u in enumerate(model.items_.tolist())}
    indptr, indices = arrays.pop("seen_indptr"), arrays.pop("seen_indices")
    model.seen_ = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(model.users_), len(model.items_))
    )
    model.fit_seconds_ = config.get("fit_seconds")
    model._set_state({k.removeprefix("state__"): v for k, v in arrays.items()}, config.get("extra", {}))
    model._load_files(folder)
    return model
