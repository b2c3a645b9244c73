"""Customer intelligence: RFM segments, lifetime value, churn risk, next order, propensity, interests.

The profile table joins them; see :mod:`marketloop.customers.profile` (``load_profiles``) and
docs/customers.md. Submodules are imported on use so that importing this package stays cheap.
"""

from marketloop.customers.rfm import SEGMENTS

__all__ = ["SEGMENTS"]
