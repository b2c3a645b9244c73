"""The campaign report: plan, prediction vs realised effect, what was sent, funnel, lift with
intervals by segment and variant; as HTML with charts (:class:`marketloop.report.Report`) or a dict."""

from __future__ import annotations

import math

import pandas as pd

from marketloop.measure.attribution import add_profit, campaign_outcomes, cost_ratio
from marketloop.measure.lift import lift
from marketloop.report import Chart, Report, Section, Series
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
        "counts": plan.counts().model_dump(),
        "plan": {
            "variants": [v.model_dump() for v in plan.variants],
            "holdout_fraction": plan.holdout_fraction,
            "groups": [g.model_dump() for g in plan.groups],
            "rationale": plan.rationale,
        },
    }


def _lift_chart(rows: list[dict], metric: str, title: str, level: str) -> Chart:
    fmt = "signed_pct" if metric == "conversion" else "signed"
    return Chart(
        title,
        "interval",
        [str(r["level"]) for r in rows],
        [
            Series(
                "treated - holdout",
                [r.get(f"{metric}_lift") for r in rows],
                low=[r.get(f"{metric}_low") for r in rows],
                high=[r.get(f"{metric}_high") for r in rows],
            )
        ],
        x_title="treated minus holdout, per customer" + (" (percentage points)" if metric == "conversion" else ""),
        value_format=fmt,
        reference=0.0,
        label_title="group",
        description=f"Point estimate with its {level} interval; an interval crossing the dotted zero line cannot be "
        "told apart from no effect.",
    )


METRIC_NAMES = {
    "incremental_conversions": "incremental orders",
    "incremental_revenue": "incremental revenue",
    "incremental_profit": "incremental profit",
}


def campaign_sections(results: dict) -> list[Section]:
    """Report sections for one campaign (also used by the demo)."""
    f = results["funnel"]
    o = results["overall"]
    level = f"{results['confidence_level']:.0%}"
    plan = results["plan"]
    counts = results.get("counts") or {}
    launched = f["audience"] > 0
    contacted = f["treated"] if launched else counts.get("contacted", 0)
    holdout = f["holdout"] if launched else counts.get("holdout", 0)
    objective = METRIC_NAMES.get(results["objective"], str(results["objective"]).replace("_", " "))
    plan_section = Section(
        title=f"Campaign {results['name']} ({results['campaign_id']}): the plan",
        intro=f"Objective: {objective}. Audience {contacted + holdout:,}: {contacted:,} contacted and {holdout:,} "
        f"held out at random ({plan['holdout_fraction']:.0%}), never messaged, to measure the effect.",
        figures={
            "status": results["status"],
            "contacted": f"{contacted:,}",
            "holdout": f"{holdout:,} ({plan['holdout_fraction']:.0%})",
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
        blocks=[("Rationale", plan["rationale"])] if plan["rationale"] else [],
    )
    pv = pd.DataFrame(results["prediction_vs_realised"])
    money = pv[pv["metric"] != "incremental_conversions"]
    pred_chart = Chart(
        "Predicted and realised incremental revenue and profit",
        "interval",
        [METRIC_NAMES.get(m, m) for m in money["metric"]],
        [
            Series(
                name,
                money[col].astype(float).tolist(),
                low=money[f"{col}_low"].astype(float).tolist(),
                high=money[f"{col}_high"].astype(float).tolist(),
            )
            for col, name in (("predicted", "predicted"), ("realised", "realised"))
        ],
        value_format="money",
        reference=0.0,
        label_title="quantity",
        description=f"Predicted before sending (90 % interval) and measured against the holdout ({level} interval).",
    )
    funnel = [
        ("contacted", f["treated"]),
        ("sent", f["sent"]),
        ("delivered", f["delivered"]),
        ("opened", f["opened"]),
        ("clicked", f["clicked"]),
        ("converted", f["converted"]),
    ]
    funnel_chart = Chart(
        "Funnel of the contacted customers",
        "hbar",
        [name for name, _ in funnel],
        [Series("customers", [int(v) for _, v in funnel])],
        x_title="customers",
        label_title="step",
        value_format="int",
        description="Contacted customers (the holdout excluded) at each step.",
    )
    sent = Section(
        title="What was sent",
        figures={
            "contacted": f"{f['treated']:,}",
            **{k: f"{v:,}" for k, v in results["outbox"].items() if v and k != "holdout"},
            "holdout (never messaged)": f"{f['holdout']:,}",
        },
        charts=[funnel_chart],
        tables=[
            (
                "Skipped at send time, by reason",
                pd.DataFrame(
                    {"reason": list(results["skip_reasons"]), "messages": list(results["skip_reasons"].values())}
                ),
            )
        ]
        if results["skip_reasons"]
        else [],
        notes=[
            "Sends are checked at send time for consent, suppressions, frequency caps and quiet hours; "
            "skipped sends stay in the contacted arm (intention to treat)."
        ],
    )

    def pct(v):  # noqa: ANN001, ANN202
        return "n/a" if v is None else f"{v * 100:+.2f} pp"

    def signed(v):  # noqa: ANN001, ANN202
        return "n/a" if v is None else f"{0.0 if round(v, 2) == 0 else v:+,.2f}"

    measured = Section(
        title="Measured lift against the holdout",
        intro=f"Contacted minus holdout, per customer, with {level} intervals (Welch).",
        figures={
            "conversion lift": f"{pct(o.get('conversion_lift'))} [{pct(o.get('conversion_low'))}, {pct(o.get('conversion_high'))}]",
            "revenue / customer": f"{signed(o.get('revenue_lift'))} [{signed(o.get('revenue_low'))}, {signed(o.get('revenue_high'))}]",
            "profit / customer": f"{signed(o.get('profit_lift'))} [{signed(o.get('profit_low'))}, {signed(o.get('profit_high'))}]",
            "incremental revenue": signed(o.get("incremental_revenue")),
        },
        charts=[
            pred_chart,
            _lift_chart(results["by_segment"], "conversion", "Conversion lift by customer group", level),
            _lift_chart(results["by_variant"], "conversion", "Conversion lift by variant", level),
            _lift_chart(results["by_variant"], "revenue", "Revenue per customer: lift by variant", level),
        ],
        tables=[
            ("By customer group", _table(results["by_segment"])),
            ("By variant", _table(results["by_variant"])),
            ("Prediction and realised effect", _prediction_table(pv)),
        ],
    )
    return [plan_section, sent, measured]


def _prediction_table(pv: pd.DataFrame) -> pd.DataFrame:
    from marketloop.report.html import format_value

    rows = []
    for r in pv.to_dict("records"):
        kind = "number" if r["metric"] == "incremental_conversions" else "money"
        rows.append(
            {
                "quantity": METRIC_NAMES.get(r["metric"], r["metric"]),
                "predicted": format_value(r["predicted"], kind),
                "predicted interval": f"{format_value(r['predicted_low'], kind)} to {format_value(r['predicted_high'], kind)}",
                "realised": format_value(r["realised"], kind),
                "realised interval": f"{format_value(r['realised_low'], kind)} to {format_value(r['realised_high'], kind)}",
            }
        )
    return pd.DataFrame(rows)


def _table(rows: list[dict]) -> pd.DataFrame:
    """Lift per group or variant, one interval per cell: [low, high] next to each estimate."""
    from marketloop.report.html import format_value

    def with_interval(r: dict, metric: str, kind: str) -> str:
        mid, low, high = r.get(f"{metric}_lift"), r.get(f"{metric}_low"), r.get(f"{metric}_high")
        if mid is None:
            return "–"
        if low is None or high is None:
            return format_value(mid, kind)
        return f"{format_value(mid, kind)} [{format_value(low, kind)}, {format_value(high, kind)}]"

    return pd.DataFrame(
        [
            {
                "group": str(r["level"]),
                "contacted": int(r.get("treated") or 0),
                "holdout": int(r.get("holdout") or 0),
                "sent": int(r.get("sent") or 0),
                "conversion, contacted": format_value(r.get("conversion_treated"), "pct"),
                "conversion, holdout": format_value(r.get("conversion_holdout"), "pct"),
                "conversion lift": with_interval(r, "conversion", "signed_pct"),
                "revenue lift per customer": with_interval(r, "revenue", "signed"),
                "profit lift per customer": format_value(r.get("profit_lift"), "signed"),
            }
            for r in rows
        ]
    )


def campaign_report(results: dict) -> Report:
    return Report(
        title=f"Campaign report: {results['name']}", subtitle=f"{results['campaign_id']}, status {results['status']}"
    ).add(*campaign_sections(results))
