"""The campaign report: plan, prediction vs realised effect, what was sent, funnel, lift with
intervals by segment and variant; as HTML with charts (:class:`marketloop.report.Report`) or a dict."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from marketloop.measure.attribution import add_profit, campaign_outcomes, cost_ratio
from marketloop.measure.lift import lift
from marketloop.report import Report, Section
from marketloop.store.campaigns import load_campaign, outbox_counts
from marketloop.store.engine import Store

PREDICTED = (
    ("incremental_conversions", "conversion"),
    ("incremental_revenue", "revenue"),
    ("incremental_profit", "profit"),
)


def _clean(value):  # noqa: ANN001, ANN202
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def campaign_results(store: Store, campaign_id: str, *, level: float = 0.95, window_days: int | None = None) -> dict:
    """Everything the report shows, as plain data (the ``--json`` output)."""
    campaign = load_campaign(store, campaign_id, require_plan=True)
    plan = campaign.plan
    window = window_days or plan.window_days
    outcomes = add_profit(campaign_outcomes(store, campaign_id, window_days=window), cost_ratio(store))
    overall = lift(outcomes, level=level)
    treated = outcomes[~outcomes["is_holdout"]] if not outcomes.empty else outcomes
    funnel = {
        "audience": len(outcomes),
        "treated": len(treated),
        "holdout": int(outcomes["is_holdout"].sum()) if len(outcomes) else 0,
        "sent": int((treated["status"] == "sent").sum()) if len(treated) else 0,
        "delivered": int(treated["delivered"].sum()) if len(treated) else 0,
        "opened": int(treated["opened"].sum()) if len(treated) else 0,
        "clicked": int(treated["clicked"].sum()) if len(treated) else 0,
        "converted": int(treated["converted"].sum()) if len(treated) else 0,
    }
    realised = overall.iloc[0].to_dict() if len(overall) else {}
    prediction = []
    for key, metric in PREDICTED:
        predicted = plan.predictions.get(key)
        n = realised.get("treated", 0)
        prediction.append(
            {
                "metric": key,
                "predicted": predicted.mean if predicted else None,
                "predicted_low": predicted.low if predicted else None,
                "predicted_high": predicted.high if predicted else None,
                "realised": realised.get(f"incremental_{metric}"),
                "realised_low": realised.get(f"{metric}_low", float("nan")) * n if realised else None,
                "realised_high": realised.get(f"{metric}_high", float("nan")) * n if realised else None,
            }
        )

    def records(frame: pd.DataFrame) -> list[dict]:
        return [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict("records")]

    return {
        "campaign_id": campaign_id,
        "name": campaign.name,
        "status": campaign.status,
        "objective": plan.objective,
        "window_days": window,
        "confidence_level": level,
        "outbox": outbox_counts(store, campaign_id),
        "funnel": funnel,
        "overall": records(overall)[0] if len(overall) else {},
        "by_segment": records(lift(outcomes, "group", level=level)) if len(outcomes) else [],
        "by_variant": records(lift(outcomes, "variant", level=level)) if len(outcomes) else [],
        "prediction_vs_realised": [{k: _clean(v) for k, v in p.items()} for p in prediction],
        "skip_reasons": {
            str(k): int(v)
            for k, v in outcomes.loc[outcomes["status"] == "skipped", "last_error"].value_counts().items()
        }
        if len(outcomes)
        else {},
        "plan": {
            "variants": [v.model_dump() for v in plan.variants],
            "holdout_fraction": plan.holdout_fraction,
            "groups": [g.model_dump() for g in plan.groups],
            "rationale": plan.rationale,
        },
    }


def _lift_chart(rows: list[dict], metric: str, title: str) -> go.Figure:
    labels = [str(r["level"]) for r in rows]
    mid = [r.get(f"{metric}_lift") for r in rows]
    lo = [r.get(f"{metric}_low") for r in rows]
    hi = [r.get(f"{metric}_high") for r in rows]
    plus = [(h - m) if h is not None and m is not None else 0 for h, m in zip(hi, mid, strict=True)]
    minus = [(m - lo_) if lo_ is not None and m is not None else 0 for lo_, m in zip(lo, mid, strict=True)]
    fig = go.Figure(
        go.Scatter(
            x=mid,
            y=labels,
            mode="markers",
            error_x=dict(type="data", array=plus, arrayminus=minus),
            marker=dict(size=10),
        )
    )
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(title=title, xaxis_title="treated - holdout (per customer)")
    return fig


def campaign_sections(results: dict) -> list[Section]:
    """Report sections for one campaign (also used by the demo)."""
    f = results["funnel"]
    o = results["overall"]
    level = f"{results['confidence_level']:.0%}"
    plan = results["plan"]
    plan_section = Section(
        title=f"Campaign {results['name']} ({results['campaign_id']}): the plan",
        intro=results["objective"] + (" " + plan["rationale"] if plan["rationale"] else ""),
        figures={
            "status": results["status"],
            "audience": f"{f['audience']:,}",
            "holdout": f"{plan['holdout_fraction']:.0%}",
            "window": f"{results['window_days']} days",
        },
        tables=[
            (
                "Variants",
                pd.DataFrame(
                    [
                        {
                            "variant": v["name"],
                            "channel": v["channel"],
                            "discount": v["offer"]["discount"],
                            "subject": v["subject"] or "",
                        }
                        for v in plan["variants"]
                    ]
                ),
            )
        ],
    )
    pv = pd.DataFrame(results["prediction_vs_realised"])
    pred_fig = go.Figure()
    for col, name in (("predicted", "predicted"), ("realised", "realised")):
        low, high = pv[f"{col}_low"].astype(float), pv[f"{col}_high"].astype(float)
        val = pv[col].astype(float)
        pred_fig.add_bar(
            name=name,
            x=pv["metric"],
            y=val,
            error_y=dict(type="data", array=(high - val).fillna(0), arrayminus=(val - low).fillna(0)),
        )
    pred_fig.update_layout(title="Predicted vs realised incremental effect", barmode="group")
    funnel_fig = go.Figure(
        go.Funnel(
            y=["treated", "sent", "delivered", "opened", "clicked", "converted"],
            x=[f["treated"], f["sent"], f["delivered"], f["opened"], f["clicked"], f["converted"]],
        )
    )
    funnel_fig.update_layout(title="Funnel of the treated customers")
    sent = Section(
        title="What was sent",
        figures={k: f"{v:,}" for k, v in results["outbox"].items() if v},
        charts=[funnel_fig],
        tables=[
            (
                "Skipped at send time, by reason",
                pd.DataFrame(
                    {"reason": list(results["skip_reasons"]), "sends": list(results["skip_reasons"].values())}
                ),
            )
        ]
        if results["skip_reasons"]
        else [],
        notes=[
            "Sends are checked at send time for consent, suppressions, frequency caps and quiet hours; "
            "skipped sends stay in the treated arm (intention to treat)."
        ],
    )

    def pct(v):  # noqa: ANN001, ANN202
        return "n/a" if v is None else f"{v:+.2%}"

    def money(v):  # noqa: ANN001, ANN202
        return "n/a" if v is None else f"{v:+,.2f}"

    measured = Section(
        title="Measured lift against the holdout",
        intro=f"Treated minus holdout, per customer, with {level} intervals (Welch).",
        figures={
            "conversion lift": f"{pct(o.get('conversion_lift'))} [{pct(o.get('conversion_low'))}, {pct(o.get('conversion_high'))}]",
            "revenue / customer": f"{money(o.get('revenue_lift'))} [{money(o.get('revenue_low'))}, {money(o.get('revenue_high'))}]",
            "profit / customer": f"{money(o.get('profit_lift'))} [{money(o.get('profit_low'))}, {money(o.get('profit_high'))}]",
            "incremental revenue": money(o.get("incremental_revenue")),
        },
        charts=[
            pred_fig,
            _lift_chart(results["by_segment"], "conversion", "Conversion lift by segment"),
            _lift_chart(results["by_variant"], "conversion", "Conversion lift by variant"),
            _lift_chart(results["by_variant"], "revenue", "Revenue per customer lift by variant"),
        ],
        tables=[
            ("By segment", _table(results["by_segment"])),
            ("By variant", _table(results["by_variant"])),
            ("Prediction vs realised", pv),
        ],
    )
    return [plan_section, sent, measured]


def _table(rows: list[dict]) -> pd.DataFrame:
    cols = [
        "level",
        "treated",
        "holdout",
        "sent",
        "conversion_treated",
        "conversion_holdout",
        "conversion_lift",
        "conversion_low",
        "conversion_high",
        "revenue_lift",
        "revenue_low",
        "revenue_high",
        "profit_lift",
    ]
    frame = pd.DataFrame(rows)
    return frame[[c for c in cols if c in frame]] if len(frame) else frame


def campaign_report(results: dict) -> Report:
    return Report(
        title=f"Campaign report: {results['name']}", subtitle=f"{results['campaign_id']}, status {results['status']}"
    ).add(*campaign_sections(results))
