"""Paid ads: customer-list audiences for ad platforms, an ad response model, and a budget allocator."""
