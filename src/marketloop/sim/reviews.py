"""Product reviews whose rating and text follow the buyer's satisfaction.

Satisfaction = product quality (hidden) + how much the buyer likes the category + noise, and much
lower when the item was returned. Very happy and very unhappy buyers review more often (the usual
J-shaped rating distribution). Text is assembled from sentences of the matching sentiment with the
product's own colour, material, use and brand filled in, so text models have real signal to learn.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from marketloop.sim import text
from marketloop.sim.catalog import Catalog
from marketloop.sim.population import Population
from marketloop.sim.streams import BLOCK, BlockRandom
from marketloop.sim.tables import prefixed_ids, take_strings, to_table

US_PER_DAY = 86_400_000_000
#: Satisfaction cut points for ratings 1|2, 2|3, 3|4, 4|5.
RATING_CUTS = np.array([-1.2, -0.75, -0.2, 0.75])


def review_rating(satisfaction: np.ndarray) -> np.ndarray:
    return (1 + np.searchsorted(RATING_CUTS, satisfaction)).astype(np.int32)


def build_reviews(
    catalog: Catalog,
    pop: Population,
    customer_ids: pa.Array,
    line_product: np.ndarray,
    line_customer: np.ndarray,
    line_ts: np.ndarray,
    line_returned: np.ndarray,
    end_us: int,
    first_number: int,
    rng: BlockRandom,
) -> pa.Table:
    cat = catalog.category[line_product]
    liking = pop.affinity[line_customer, cat] * catalog.n_categories - 1.0
    block = line_customer // BLOCK  # lines are ordered by customer
    sat = (
        catalog.quality[line_product]
        + 0.35 * np.tanh(liking)
        + 0.7 * rng.standard_normal(block)
        - 1.8 * line_returned
        + 0.5
    )
    p_review = np.clip(0.03 + 0.05 * np.abs(sat - 0.3), 0, 0.3)
    created = line_ts + rng.integers(2, 31, block) * US_PER_DAY + rng.integers(0, US_PER_DAY, block)
    keep = np.flatnonzero((rng.random(block) < p_review) & (created < end_us))
    rating = review_rating(sat[keep])
    titles, bodies = [], []
    picks = rng.integers(0, 1 << 30, block[keep], width=5)
    for j, i in enumerate(keep):  # one pass per review (a few per hundred order lines)
        p = int(line_product[i])
        r = int(rating[j])
        pk = picks[j]
        pool_title = text.REVIEW_TITLES[r]
        titles.append(pool_title[pk[0] % len(pool_title)])
        mood = "neg" if r <= 2 else ("mid" if r == 3 else "pos")
        pool = text.REVIEW_SENTENCES[mood]
        n_sent = 2 + pk[1] % 2
        first = pk[2] % len(pool)
        step = 1 + pk[3] % (len(pool) - 1)
        chosen = list(dict.fromkeys(pool[(first + s * step) % len(pool)] for s in range(n_sent)))
        if r == 4 and pk[4] % 3 == 0:
            mids = text.REVIEW_SENTENCES["mid"]
            chosen[-1] = mids[pk[4] % len(mids)]
        slots = {
            "noun": catalog.nouns[p].lower(),
            "colour": catalog.colours[p].lower(),
            "material": catalog.materials[p],
            "use": catalog.uses[p],
            "brand": catalog.brands[p],
            "feature": catalog.features[p],
        }
        body = " ".join(s.format(**slots) for s in chosen)
        bodies.append(body[0].upper() + body[1:])
    return to_table(
        "reviews",
        {
            "review_id": prefixed_ids("RV", first_number + 1 + np.arange(len(keep)), 10),
            "product_id": take_strings(catalog.product_ids, line_product[keep]),
            "customer_id": take_strings(customer_ids, line_customer[keep]),
            "rating": rating,
            "title": titles,
            "body": bodies,
            "created_at": pa.array(created[keep].astype("datetime64[us]")),
        },
    )
