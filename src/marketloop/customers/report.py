"""Customer-intelligence sections for reports and the demo: segments, value, churn risk, lifecycle stage."""

from __future__ import annotations

from typing import Any

from marketloop.report import Chart, Section, Series, histogram


def profile_section(store: Any) -> Section:
    from marketloop.customers.profile import load_profiles
    from marketloop.customers.rfm import segment_summary

    profiles = load_profiles(store)
    if profiles.empty:
        return Section(title="Customers", intro="No profiles yet: run `marketloop analyze`.")
    summary = segment_summary(profiles)
    bands = profiles["churn_band"].value_counts().reindex(["low", "medium", "high", "very_high"]).fillna(0)
    charts = [
        Chart(
            "Customers per RFM segment",
            "hbar",
            summary["segment"].astype(str).tolist(),
            [Series("customers", summary["customers"].astype(int).tolist())],
            x_title="customers",
            label_title="segment",
            value_format="int",
        ),
        histogram(
            "Predicted customer value (CLV)",
            profiles["clv"],
            x_title="expected value over the horizon",
        ),
        Chart(
            "Churn-risk bands",
            "bar",
            [b.replace("_", " ") for b in bands.index],
            [Series("customers", bands.astype(int).tolist())],
            y_title="customers",
            label_title="band",
            value_format="int",
            description="Bands are quantiles of the churn risk (the chance of no order in the horizon): the riskiest "
            "tenth is very high.",
        ),
    ]
    if profiles["lifecycle_stage"].notna().any():
        from marketloop.customers.lifecycle import STAGES

        stages = profiles["lifecycle_stage"].value_counts().reindex(list(STAGES)).fillna(0)
        charts.append(
            Chart(
                "Lifecycle stage (activity against each customer's own cadence)",
                "bar",
                [s.replace("_", " ") for s in stages.index],
                [Series("customers", stages.astype(int).tolist())],
                y_title="customers",
                label_title="stage",
                value_format="int",
            )
        )
    table = summary[
        ["segment", "customers", "share", "revenue_share", "mean_revenue", "mean_clv", "mean_churn"]
    ].rename(columns={"mean_churn": "mean_churn_probability"})
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
