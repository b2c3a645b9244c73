"""Synthetic store and customer simulator with known ground truth.

- :func:`generate_store` writes a store (catalogue, customers, consents, calendar, events, orders,
  order lines, reviews) as Parquet files in the canonical schema, plus the hidden truth;
- :class:`SimWorld` gives evaluation code the truth: how each customer responds to a
  :class:`Message` (:meth:`SimWorld.respond`) and the exact expected effect (:meth:`SimWorld.true_uplift`).

Models must only ever see the store tables. See docs/simulator.md for the model and its calibration.
"""

from marketloop.sim.generate import SimManifest, generate_store, read_manifest
from marketloop.sim.response import Message
from marketloop.sim.world import SimWorld

__all__ = ["Message", "SimManifest", "SimWorld", "generate_store", "read_manifest"]
