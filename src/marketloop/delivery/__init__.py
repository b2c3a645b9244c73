"""Execute: the outbox, send-time checks, the holdout, channel plugins and the dispatcher.

- :func:`marketloop.delivery.outbox.launch` turns an approved :class:`~marketloop.store.campaigns.CampaignPlan`
  into rows of ``sends`` (one per audience member, holdout included), each with an idempotency key,
  before anything is delivered;
- :class:`marketloop.delivery.dispatcher.Dispatcher` delivers queued sends through channel plugins
  (:mod:`marketloop.delivery.channels`), checking consent, suppressions, frequency caps and quiet hours
  at send time, retrying with exponential backoff and dead-lettering after N failures.

See docs/delivery.md.
"""
