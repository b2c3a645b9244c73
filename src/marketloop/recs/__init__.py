"""Recommendations: one protocol, candidate models, a learned ranker, business rules, a registry and
offline evaluation. Importing this package registers every built-in model by name."""

from marketloop.recs import (  # noqa: F401
    association,
    content,
    factor,
    hybrid,
    neighbours,
    popularity,
    sequential,
    sessions,
    twotower,
)
from marketloop.recs.base import BaseRecommender, Recommender, load_model, model_names
from marketloop.recs.data import Catalog, Interactions

__all__ = ["BaseRecommender", "Catalog", "Interactions", "Recommender", "load_model", "model_names"]
