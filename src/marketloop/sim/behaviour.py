"""Sessions, events, orders and order lines for a chunk of customers, fully vectorised.

Per customer, sessions arrive as a Poisson process with rate
``browse_rate x activity(t) x demand(t)``; they are drawn by thinning (propose at the peak rate,
accept with the ratio), which costs O(sessions), not O(customers x days). A session is a funnel:
an optional search, views of products from the customer's preferred categories (cheaper ones for
price-sensitive customers), maybe a wishlist, add-to-cart with probability ``cart_rate`` (higher in
promotions), then a purchase with probability ``checkout_rate`` (raised by promotions for
price-sensitive customers) or, sometimes, a removal. A customer who signs up inside the window
starts with a signup session that buys more often (first orders). Some order lines are returned
later (more often for low-quality products), as a separate order with ``is_return`` and negative
quantities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marketloop.sim import text
from marketloop.sim.calendar import Calendar
from marketloop.sim.catalog import Catalog
from marketloop.sim.population import RESIDUAL, Population, activity, customer_id_width
from marketloop.sim.streams import BLOCK, BlockRandom
from marketloop.sim.tables import prefixed_ids, take_strings, to_table
from marketloop.store.schema import EVENT_TYPES

US_PER_DAY = 86_400_000_000
US_PER_S = 1_000_000
#: Relative browsing by local hour of day (evening peak).
DIURNAL = np.array(
    [
        0.3,
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.4,
        0.7,
        0.9,
        1.0,
        1.0,
        1.1,
        1.2,
        1.1,
        1.0,
        1.0,
        1.1,
        1.2,
        1.4,
        1.6,
        1.8,
        1.7,
        1.2,
        0.6,
    ]
)
SEARCH_P = 0.3
WISHLIST_P = 0.04
REMOVE_P = 0.25
FIRST_CART_P = 0.6
FIRST_CHECKOUT_P = 0.6
SESSION_FOCUS = 0.75  # share of views in the session's main category
STAPLES = 3  # favourite products per customer
STAPLE_SHARE = 0.45  # share of views that go to one of them
RETURN_P = 0.03
PROMO_CART_LIFT = 0.5
PROMO_CHECKOUT_LIFT = 2.5

_T = {name: i for i, name in enumerate(EVENT_TYPES)}
_TYPE_NAMES = pa.array(list(EVENT_TYPES))
_SEGMENT_TYPES = np.array(
    [_T[t] for t in ("search", "view", "wishlist", "add_to_cart", "remove_from_cart", "checkout", "purchase")],
    dtype=np.int32,
)
_SEGMENT_STEPS = np.array([0, 1, 0, 1, 0, 0, 1])


@dataclass
class Counters:
    """Running numbers so ids stay unique across chunks."""

    event: int = 0
    session: int = 0
    order: int = 0


@dataclass
class ChunkOutput:
    events: pa.Table
    orders: pa.Table
    order_lines: pa.Table
    # order lines that may be reviewed: product index, customer position, time, returned flag
    line_product: np.ndarray
    line_customer: np.ndarray
    line_ts: np.ndarray
    line_returned: np.ndarray


def _session_times(
    pop: Population, lo: int, hi: int, cal: Calendar, rng: BlockRandom
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer position in the chunk, day, is_signup_session) of every session of customers
    lo..hi-1, ordered by customer and time."""
    days = cal.days
    dmax = float(cal.demand.max())
    signup = pop.signup_day[lo:hi]
    churn = pop.churn_day[lo:hi]
    rate = pop.browse_rate[lo:hi]
    block = np.arange(lo, hi) // BLOCK
    out_c, out_t = [], []
    a_lo, a_hi = np.clip(signup, 0, days), np.clip(churn, 0, days)
    b_lo = np.clip(np.maximum(churn, signup), 0, days)
    for span_lo, span_hi, scale in ((a_lo, a_hi, 1.0), (b_lo, np.full_like(b_lo, days), RESIDUAL)):
        length = np.maximum(span_hi - span_lo, 0)
        n = rng.poisson(rate * scale * dmax * length, block)
        cust = np.repeat(np.arange(hi - lo), n)
        t = span_lo[cust] + rng.random(block[cust]) * length[cust]
        day = np.minimum(t.astype(np.int64), days - 1)
        accept = activity(t, signup[cust], churn[cust]) / scale * cal.demand[day] / dmax
        keep = rng.random(block[cust]) < accept
        out_c.append(cust[keep])
        out_t.append(t[keep])
    first = np.flatnonzero((signup >= 0) & (signup < days))
    out_c.append(first)
    out_t.append(signup[first])
    cust = np.concatenate(out_c)
    t = np.concatenate(out_t)
    is_first = np.zeros(len(cust), dtype=bool)
    is_first[len(cust) - len(first) :] = True
    order = np.lexsort((t, cust))
    return cust[order], t[order], is_first[order]


def simulate_chunk(
    pop: Population,
    lo: int,
    hi: int,
    customer_ids: pa.Array,
    catalog: Catalog,
    cal: Calendar,
    start_us: int,
    rng: BlockRandom,
    counters: Counters,
) -> ChunkOutput:
    """Simulate customers lo..hi-1; ``rng`` holds their blocks' streams (see :mod:`.streams`)."""
    days = cal.days
    end_us = start_us + days * US_PER_DAY
    cust, t, is_first = _session_times(pop, lo, hi, cal, rng)
    s_count = len(cust)
    g = lo + cust  # global customer position
    sb = g // BLOCK  # random block of each session (non-decreasing)
    day = np.minimum(t.astype(np.int64), days - 1)

    # Session start: a local hour from the diurnal profile, placed on the session's UTC day.
    hour = np.searchsorted(np.cumsum(DIURNAL) / DIURNAL.sum(), rng.random(sb), side="right")
    utc_hour = (hour - pop.utc_offset_hours[g]) % 24
    start = (
        start_us
        + day * US_PER_DAY
        + (utc_hour * 3600 * US_PER_S).astype(np.int64)
        + rng.integers(0, 3600 * US_PER_S, sb)
    )
    signup_us = start_us + (pop.signup_day[g] * US_PER_DAY).astype(np.int64)
    start = np.where(is_first, signup_us, np.maximum(start, signup_us))
    order = np.lexsort((start, cust))
    cust, g, day, start, is_first = cust[order], g[order], day[order], start[order], is_first[order]

    disc = cal.discount[day]
    ps = pop.price_sensitivity[g]
    has_search = rng.random(sb) < SEARCH_P
    cart_p = np.where(is_first, FIRST_CART_P, pop.cart_rate[g] * (1 + PROMO_CART_LIFT * disc))
    carted = rng.random(sb) < cart_p
    n_cart = np.where(carted, 1 + np.minimum(rng.poisson(0.6, sb), 3), 0)
    buy_p = np.where(
        is_first, FIRST_CHECKOUT_P, np.minimum(pop.checkout_rate[g] * (1 + PROMO_CHECKOUT_LIFT * ps * disc), 0.95)
    )
    bought = carted & (rng.random(sb) < buy_p)
    removed = carted & ~bought & (rng.random(sb) < REMOVE_P)
    n_view = np.maximum(1 + rng.poisson(2.5 + 1.5 * has_search, sb), n_cart)
    wished = rng.random(sb) < WISHLIST_P

    # Products viewed: the session's main category (from the customer's affinities) or a fresh draw.
    # Per-customer categorical draws in one searchsorted: row r's CDF is shifted by r, so the key
    # r + u lands inside row r (no customers x categories matrix per draw).
    k = catalog.n_categories
    cum_aff = np.cumsum(pop.affinity[lo:hi], axis=1)
    cum_aff[:, -1] = 1.0
    flat_cdf = (cum_aff + np.arange(hi - lo)[:, None]).ravel()

    def draw_category(rows: np.ndarray) -> np.ndarray:
        hit = np.searchsorted(flat_cdf, rows + rng.random((lo + rows) // BLOCK), side="right")
        return np.minimum(hit - rows * k, k - 1)

    sess_cat = draw_category(cust)
    v_sess = np.repeat(np.arange(s_count), n_view)
    v_cat = sess_cat[v_sess]
    vb = sb[v_sess]
    wander = np.flatnonzero(rng.random(vb) >= SESSION_FOCUS)
    v_cat[wander] = draw_category(cust[v_sess[wander]])
    v_prod = catalog.sample(v_cat, rng.random(vb) < ps[v_sess], rng.random(vb), rng.random(vb))
    # Staples: every customer has a few favourite products (drawn like views) that come back in a
    # share of their views, so some purchases repeat (the "buy again" pattern of real stores).
    s_rows = np.repeat(np.arange(hi - lo), STAPLES)
    s_block = (lo + s_rows) // BLOCK
    staples = catalog.sample(
        draw_category(s_rows),
        rng.random(s_block) < pop.price_sensitivity[lo + s_rows],
        rng.random(s_block),
        rng.random(s_block),
    ).reshape(hi - lo, STAPLES)
    favourite = rng.random(vb) < STAPLE_SHARE
    which = rng.integers(0, STAPLES, vb)
    v_prod = np.where(favourite, staples[cust[v_sess], which], v_prod)
    launch_us = start_us + (catalog.launch_day * US_PER_DAY).astype(np.int64)
    v_prod = np.where(launch_us[v_prod] > start[v_sess], catalog.fallback[v_prod], v_prod)
    v_off = np.cumsum(n_view) - n_view

    # Orders and their lines: the carted products of every session that bought.
    o_sess = np.flatnonzero(bought)
    n_orders = len(o_sess)
    lines_per = n_cart[o_sess]
    l_sess = np.repeat(o_sess, lines_per)
    l_order = np.repeat(np.arange(n_orders), lines_per)
    l_no = np.arange(len(l_sess)) - np.repeat(np.cumsum(lines_per) - lines_per, lines_per)
    l_prod = v_prod[v_off[l_sess] + l_no]
    l_price = catalog.price[l_prod]
    lb = sb[l_sess]
    target = pop.basket_value[g[l_sess]] * np.exp(0.3 * rng.standard_normal(lb) - 0.045) / lines_per[l_order]
    qty = np.clip(1 + rng.poisson(np.maximum(target / l_price - 1, 0) * 0.5, lb), 1, 6).astype(np.int64)
    l_disc = np.round(qty * l_price * disc[l_sess], 2)
    l_amount = qty * l_price - l_disc
    totals = np.bincount(l_order, weights=l_amount, minlength=n_orders)
    order_no = counters.order + 1 + np.arange(n_orders)
    counters.order += n_orders

    # Events: per session the segments [search][views][wishlist][carts][remove][checkout][purchases],
    # laid out with one np.repeat over a sessions x 7 matrix of segment lengths.
    n_buy = bought.astype(np.int64)
    seg_len = (
        np.column_stack([has_search, n_view, wished, n_cart, removed, n_buy, n_buy * n_cart]).astype(np.int64).ravel()
    )
    # Where each segment reads its product among the session's views, and whether it steps through them.
    last_cart = v_off + np.maximum(n_cart - 1, 0)
    seg_base = np.column_stack(
        [np.full(s_count, -1), v_off, v_off + n_view - 1, v_off, last_cart, np.full(s_count, -1), v_off]
    ).ravel()
    n_ev = seg_len.reshape(s_count, 7).sum(axis=1)
    e_count = int(n_ev.sum())
    etype = np.repeat(np.tile(_SEGMENT_TYPES, s_count), seg_len)
    e_sess = np.repeat(np.arange(s_count), n_ev)
    slot = np.arange(e_count) - np.repeat(np.cumsum(seg_len) - seg_len, seg_len)
    prod_pos = np.repeat(seg_base, seg_len) + slot * np.repeat(np.tile(_SEGMENT_STEPS, s_count), seg_len)
    has_product = prod_pos >= 0
    e_prod = v_prod[np.maximum(prod_pos, 0)]
    first_idx = np.cumsum(n_ev) - n_ev

    gaps = rng.exponential(40.0 * US_PER_S, sb[e_sess]).astype(np.int64)
    gaps[first_idx] = 0
    gaps[etype == _T["purchase"]] = 0  # purchase lines share the checkout's time = ordered_at
    csum = np.cumsum(gaps)
    ts = np.repeat(start - csum[first_idx], n_ev) + csum
    ts = np.minimum(ts, end_us - 1)

    # Order time = checkout time; purchase event value = line amount; checkout value = order total.
    session_order = np.full(s_count, -1)
    session_order[o_sess] = np.arange(n_orders)
    line_start = np.cumsum(lines_per) - lines_per
    value = np.where(has_product, catalog.price[e_prod], np.nan)
    is_checkout = etype == _T["checkout"]
    value[is_checkout] = totals[session_order[e_sess[is_checkout]]]
    is_purchase = etype == _T["purchase"]
    value[is_purchase] = l_amount[line_start[session_order[e_sess[is_purchase]]] + slot[is_purchase]]
    ordered_at = ts[is_checkout]  # checkout events appear in session (= order) order

    q_idx = catalog.query_start[sess_cat] + (rng.random(sb) * catalog.query_count[sess_cat]).astype(np.int64)
    is_search = etype == _T["search"]
    query = take_strings(catalog.queries, np.where(is_search, q_idx[e_sess], 0), is_search)

    events = to_table(
        "events",
        {
            "event_id": prefixed_ids("E", counters.event + 1 + np.arange(e_count), 11),
            "customer_id": prefixed_ids("C", g[e_sess] + 1, customer_id_width(pop.size)),
            "session_id": prefixed_ids("S", counters.session + 1 + e_sess, 11),
            "event_type": take_strings(_TYPE_NAMES, etype),
            "product_id": take_strings(catalog.product_ids, e_prod, has_product),
            "query": query,
            "ts": pa.array(ts.astype("datetime64[us]")),
            "value": pa.array(value, from_pandas=True),
        },
    )
    counters.event += e_count
    counters.session += s_count

    # Returns: some lines come back 3-25 days later as a separate order with negative quantities.
    returned = rng.random(lb) < RETURN_P * np.exp(-0.5 * catalog.quality[l_prod])
    r_ts = ordered_at[l_order] + rng.integers(3, 26, lb) * US_PER_DAY
    returned &= r_ts < end_us
    r_lines = np.flatnonzero(returned)
    r_orders, r_first = np.unique(l_order[r_lines], return_index=True)
    r_total = np.bincount(l_order[r_lines], weights=-l_amount[r_lines], minlength=n_orders)[r_orders]
    r_line_no = np.arange(len(r_lines)) - np.repeat(r_first, np.diff(np.r_[r_first, len(r_lines)]))

    o_cust = g[o_sess]
    app = pop.app_user[o_cust] & (rng.random(sb[o_sess]) < 0.7)
    country = pa.array([p[0] for p in text.PLACES])
    o_ids = prefixed_ids("O", order_no, 11)
    r_ids = pc.binary_join_element_wise(take_strings(o_ids, r_orders), "-R", "")
    all_ids = pa.concat_arrays([o_ids, r_ids])
    all_cust = np.r_[o_cust, o_cust[r_orders]]
    orders = to_table(
        "orders",
        {
            "order_id": all_ids,
            "customer_id": take_strings(customer_ids, all_cust),
            "ordered_at": pa.array(np.r_[ordered_at, r_ts[r_lines[r_first]]].astype("datetime64[us]")),
            "status": np.r_[np.full(n_orders, "completed"), np.full(len(r_orders), "returned")].astype(object),
            "is_return": np.r_[np.zeros(n_orders, bool), np.ones(len(r_orders), bool)],
            "country": take_strings(country, pop.place[all_cust]),
            "currency": pa.array(["USD"] * len(all_cust)),
            "total": np.r_[totals, r_total],
            "channel": np.where(np.r_[app, app[r_orders]], "app", "web").astype(object),
        },
    )
    r_map = np.full(n_orders, -1)
    r_map[r_orders] = np.arange(len(r_orders))
    lines = to_table(
        "order_lines",
        {
            "order_id": pa.concat_arrays([take_strings(o_ids, l_order), take_strings(r_ids, r_map[l_order[r_lines]])]),
            "line_no": np.r_[l_no + 1, r_line_no + 1].astype(np.int32),
            "product_id": take_strings(catalog.product_ids, np.r_[l_prod, l_prod[r_lines]]),
            "quantity": np.r_[qty, -qty[r_lines]].astype(np.int32),
            "unit_price": np.r_[l_price, l_price[r_lines]],
            "discount": np.r_[l_disc, -l_disc[r_lines]],
        },
    )
    # Rows in a canonical order (by customer, then time) whatever the chunking: returns interleave
    # with sales instead of trailing each chunk.
    all_ts = np.r_[ordered_at, r_ts[r_lines[r_first]]]
    all_return = np.r_[np.zeros(n_orders, bool), np.ones(len(r_orders), bool)]
    perm = np.lexsort((all_return, all_ts, all_cust))
    rank = np.empty_like(perm)
    rank[perm] = np.arange(len(perm))
    line_order = np.r_[l_order, n_orders + r_map[l_order[r_lines]]]
    orders = orders.take(perm)
    lines = lines.take(np.lexsort((np.r_[l_no, r_line_no], rank[line_order])))
    return ChunkOutput(
        events=events,
        orders=orders,
        order_lines=lines,
        line_product=l_prod,
        line_customer=g[l_sess],
        line_ts=ordered_at[l_order],
        line_returned=returned,
    )
