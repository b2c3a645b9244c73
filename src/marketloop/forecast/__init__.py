"""Demand forecasts per product, category and store; stock cover; the market calendar as features."""
