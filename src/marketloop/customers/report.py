"""Customer-intelligence sections for reports and the demo: segments, value, churn risk, lifecycle stage."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from marketloop.report import Section


def profile_section(store: Any) -> Section:
    from marketloop.customers.profile import load_profiles
    from marketloop.customers.rfm import segment_summary

    profiles = load_profiles(store)
    if profiles.empty:
        return Section(title="Customers", intro="No profiles yet: run `marketloop analyze`.")
    summary = segment_summary(profiles)
    bands = profiles["churn_band"].value_counts().reindex(["low", "medium", "high", "very_high"]).fillna(0)
    charts = [
        go.Figure(go.Bar(x=summary["segment"], y=summary["customers"]), layout=dict(title="Customers per RFM segment")),
        go.Figure(
            go.Histogram(x=profiles["clv"].clip(upper=profiles["clv"].quantile(0.99)), nbinsx=40),
            layout=dict(title="Predicted customer value (CLV)", xaxis_title="expected value over the horizon"),
        ),
        go.Figure(
            go.Bar(x=bands.index, y=bands.values), layout=dict(title="Churn-risk bands", yaxis_title="customers")
        ),
    ]
    if profiles["lifecycle_stage"].notna().any():
        from marketloop.customers.lifecycle import STAGES

        stages = profiles["lifecycle_stage"].value_counts().reindex(list(STAGES)).fillna(0)
        charts.append(
            go.Figure(
                go.Bar(x=[s.replace("_", " ") for s in stages.index], y=stages.values),
                layout=dict(
                    title="Lifecycle stage (activity against each customer's own cadence)", yaxis_title="customers"
                ),
            )
        )
    table = summary[["segment", "customers", "share", "revenue_share", "mean_revenue", "mean_clv"]].copy()
    model = profiles["churn_model"].dropna().mode()
    return Section(
        title="Customers: segments, value and churn risk",
        intro="Profiles from `marketloop analyze`: RFM segments, BG/NBD + Gamma-Gamma value, churn risk, "
        "30-day purchase propensity and lifecycle stage.",
        figures={
            "profiles": f"{len(profiles):,}",
            "high-value customers": f"{int(profiles['high_value'].sum()):,}",
            "churn model in use": str(model.iloc[0]) if len(model) else "n/a",
        },
        charts=charts,
        tables=[("Segments", table)],
    )


def demo_step(ctx: Any) -> None:
    from marketloop.customers.profile import refresh_profiles

    report = refresh_profiles(ctx.store)
    ctx.report.add(profile_section(ctx.store))
    ctx.summary["customers"] = {k: v for k, v in report.items() if isinstance(v, (int, float, str))}
