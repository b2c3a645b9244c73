"""The model registry: versioned artefacts on disk, one row per version in `recs_models`.

``register`` saves a fitted model under ``<root>/<name>/v<version>/`` and records its parameters,
training-data snapshot and metrics; ``promote`` makes one version the served one (the previously
promoted version becomes ``retired``); ``rollback`` re-promotes the version promoted before the current
one; ``load_promoted`` is what serving calls.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from marketloop.clock import wall_utcnow
from marketloop.errors import InputError, NotFoundError
from marketloop.recs.base import BaseRecommender, load_model
from marketloop.store import schema

T = schema.recs_models
DEFAULT_ROOT = Path(".marketloop/models")


def _now() -> dt.datetime:
    return wall_utcnow().replace(microsecond=0)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    status: str
    path: str
    params: dict
    data: dict
    metrics: dict
    created_at: object
    promoted_at: object


def _row(r: pd.Series) -> ModelVersion:
    return ModelVersion(
        r["name"],
        int(r["version"]),
        r["status"],
        r["path"],
        json.loads(r["params_json"]),
        json.loads(r["data_json"]),
        json.loads(r["metrics_json"] or "{}"),
        r["created_at"],
        None if pd.isna(r["promoted_at"]) else r["promoted_at"],
    )


class ModelRegistry:
    def __init__(self, store, root: str | Path = DEFAULT_ROOT) -> None:  # noqa: ANN001 - Store
        self.store = store
        self.root = Path(root)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        q = sa.select(T).order_by(T.c.name, T.c.version)
        if name is not None:
            q = q.where(T.c.name == name)
        return [_row(r) for _, r in self.store.read_sql(q).iterrows()]

    def promoted_versions(self) -> dict[str, int]:
        """Name -> promoted version of every served model (one light query; serving polls it)."""
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(T.c.name, T.c.version).where(T.c.status == "promoted")).all()
        return {name: int(version) for name, version in rows}

    def register(self, model: BaseRecommender, data_snapshot: dict, metrics: dict | None = None) -> ModelVersion:
        """Save `model` as the next version of its name (status ``trained``)."""
        with self.store.begin() as conn:
            last = conn.execute(sa.select(sa.func.max(T.c.version)).where(T.c.name == model.name)).scalar()
            version = int(last or 0) + 1
            path = self.root / model.name / f"v{version}"
            if path.exists():
                shutil.rmtree(path)
            model.save(path)
            conn.execute(
                T.insert().values(
                    name=model.name,
                    version=version,
                    status="trained",
                    path=str(path),
                    params_json=json.dumps(model.get_params(), default=str),
                    data_json=json.dumps(data_snapshot, default=str),
                    metrics_json=json.dumps(metrics or {}, default=str),
                    created_at=_now(),
                    promoted_at=None,
                )
            )
        return self.get(model.name, version)

    def get(self, name: str, version: int) -> ModelVersion:
        found = [v for v in self.versions(name) if v.version == version]
        if not found:
            known = ", ".join(str(v.version) for v in self.versions(name)) or "none"
            raise NotFoundError(
                f"model {name!r} has no version {version} (versions: {known})",
                hint="List versions with `marketloop recs models`.",
            )
        return found[0]

    def promoted(self, name: str) -> ModelVersion:
        found = [v for v in self.versions(name) if v.status == "promoted"]
        if not found:
            raise NotFoundError(
                f"no promoted version of model {name!r}",
                hint="Train one with `marketloop recs train` (it promotes by default).",
            )
        return found[0]

    def promote(self, name: str, version: int) -> ModelVersion:
        target = self.get(name, version)
        with self.store.begin() as conn:
            conn.execute(T.update().where(T.c.name == name, T.c.status == "promoted").values(status="retired"))
            conn.execute(
                T.update()
                .where(T.c.name == name, T.c.version == target.version)
                .values(status="promoted", promoted_at=_now())
            )
        return self.get(name, version)

    def rollback(self, name: str) -> ModelVersion:
        """Promote again the version that was promoted before the current one."""
        current = self.promoted(name)
        earlier = [
            v
            for v in self.versions(name)
            if v.promoted_at is not None and v.version != current.version and v.status == "retired"
        ]
        if not earlier:
            raise InputError(
                f"model {name!r} has no earlier promoted version to roll back to",
                field="name",
                value=name,
                hint="Promote a specific version with `recs promote`.",
            )
        previous = max(earlier, key=lambda v: (pd.Timestamp(v.promoted_at), v.version))
        return self.promote(name, previous.version)

    def load_promoted(self, name: str) -> BaseRecommender:
        return load_model(self.promoted(name).path)
