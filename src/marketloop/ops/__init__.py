"""Always on: the scheduled jobs, the monitor and its alerts, and the fairness guard's alerting.

- :mod:`marketloop.ops.schedule`: the job registry and the scheduler (cron schedules from settings, the
  injected clock decides what is due, every run recorded in ``job_runs`` with its figures);
- :mod:`marketloop.ops.jobs`: the built-in jobs (profile refresh, gated recommender retraining, uplift
  refresh after each campaign's window closes, the monitor); other packages register theirs the same way;
- :mod:`marketloop.ops.drift`: population stability index and Kolmogorov-Smirnov tests per feature;
- :mod:`marketloop.ops.monitor`: drift against the training window, realised vs predicted quality, data
  freshness and ingestion reject rates;
- :mod:`marketloop.ops.alerts`: alerts in the store (shown in the dashboard) and to a signed webhook.

This layer sits above measurement (it reads campaign results) and below the service (which runs it).
"""
