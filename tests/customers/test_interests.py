"""Interest tag documents."""

from __future__ import annotations

import json

import pandas as pd

from marketloop.customers.interests import _to_json


def test_tags_to_json_groups_by_customer_and_kind_and_escapes():
    tags = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "kind": ["brand", "category", "category", "category"],
            "value": ["x", "garden", 'say "hi"', "garden"],
            "share": [1.0, 0.6, 0.4, 1.0],
        }
    )
    docs = {k: json.loads(v) for k, v in _to_json(tags).items()}
    assert docs["a"] == {
        "brand": [{"value": "x", "share": 1.0}],
        "category": [{"value": "garden", "share": 0.6}, {"value": 'say "hi"', "share": 0.4}],
    }
    assert docs["b"] == {"category": [{"value": "garden", "share": 1.0}]}
