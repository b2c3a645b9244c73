"""Measure: attribution of outcomes to sends, lift against the holdout with intervals, campaign reports,
and the randomised history the uplift models learn from (:func:`marketloop.measure.outcomes.randomised_history`)."""
