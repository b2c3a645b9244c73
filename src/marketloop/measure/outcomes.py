"""The randomised history: outcomes of every randomised send, for the uplift models' next training.

Each launched campaign's audience was split at random into treated and holdout *within each plan
group*, so within a (campaign, group) the treatment is randomised. :func:`randomised_history` returns
one row per audience member of every launched campaign::

    campaign_id, customer_id, group, treated, variant, channel, discount, sent, sent_at,
    converted, revenue, opened, clicked

``treated`` is the intention to treat (not held out), ``sent`` whether the message actually went.
Train uplift models on ``treated`` (randomised), not on ``sent`` (filtered by consent and caps).
"""

from __future__ import annotations

import pandas as pd

from marketloop.measure.attribution import campaign_outcomes
from marketloop.store.campaigns import launched_campaigns
from marketloop.store.engine import Store

COLUMNS = [
    "campaign_id",
    "customer_id",
    "group",
    "treated",
    "variant",
    "channel",
    "discount",
    "sent",
    "sent_at",
    "converted",
    "revenue",
    "opened",
    "clicked",
]


def randomised_history(store: Store, *, campaign_ids: list[str] | None = None) -> pd.DataFrame:
    """Outcomes of randomised sends across campaigns that kept a holdout (see module docstring)."""
    frames = []
    for campaign in launched_campaigns(store, campaign_ids):
        window = campaign.plan.window_days if campaign.plan else 14
        out = campaign_outcomes(store, campaign.campaign_id, window_days=window)
        if out.empty or not out["is_holdout"].any():
            continue  # without a holdout nothing was randomised
        frames.append(
            out.assign(campaign_id=campaign.campaign_id, treated=~out["is_holdout"], sent=out["status"] == "sent")
        )
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})
    return pd.concat(frames, ignore_index=True)[COLUMNS]
