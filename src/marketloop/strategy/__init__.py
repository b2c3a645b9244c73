"""Strategy: goals, uplift targeting, offer optimisation, effect prediction and the planner."""
