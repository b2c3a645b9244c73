"""Strategy: goals, uplift targeting, offer optimisation, effect prediction and the planner."""

# Share of the customers an exploration round randomises unless told otherwise: all of them (with n
# offers, one in n + 1 still lands in the control arm). The round is the only randomised data the
# planner's predictions rest on, so its size sets their precision: on generated stores of 50,000
# customers its reading of the plain e-mail's effect is off by 38 % (standard deviation per store)
# with half the customers in the round and by 25 % with all of them
# (`bench/strategy_exploration.py --fractions 0.5,1` on 200 stores, docs/benchmarks/strategy.md). A
# store that would rather send fewer test offers explores a smaller share (`--explore-fraction`, or
# `explore.fraction` in the API) and gets wider intervals.
EXPLORATION_SHARE = 1.0
