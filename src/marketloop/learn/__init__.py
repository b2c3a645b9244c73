"""Learn: bandit policies over creative / offer variants and off-policy estimators to evaluate a new
policy on logged data before deploying it."""
