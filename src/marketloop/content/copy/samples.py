"""Random but realistic briefs for evaluating copy generation (``marketloop eval copy``).

Product names deliberately include digits, percentages and capitals ("100% Cotton Tee", "Pack of 12
Tealights", "USB-C Cable 2M") so that the fact check is exercised on hard cases.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from marketloop.content.copy.brief import GOALS, BrandVoice, CopyBrief, CustomerFact, Offer, ProductFact

_ADJ = [
    "Classic",
    "Organic",
    "Vintage",
    "Striped",
    "Linen",
    "Ceramic",
    "Wool",
    "Retro",
    "Floral",
    "Recycled",
    "Heavy-Duty",
    "Mini",
]
_NOUN = [
    "Tote Bag",
    "Mug",
    "Scarf",
    "Candle",
    "Notebook",
    "Lamp",
    "Tealights",
    "Cushion Cover",
    "Water Bottle",
    "Tee",
    "Apron",
    "Planter",
]
_TRICKY = [
    "100% Cotton Tee",
    "Pack of 12 Tealights",
    "Set of 3 Mugs",
    "USB-C Cable 2M",
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "Jumbo Bag Red Retrospot",
    "Regency Cakestand 3 Tier",
    "Free Spirit Dress",
    "A4 Notebook",
    "Mug 350ml",
]
_NAMES_EN = ["Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", None, "Isla", "Jack", "Kemi"]
_NAMES_ZH = ["小明", "丽华", "王芳", "李雷", None, "韩梅梅", "张伟"]
_STORES = ["Northwind Home", "Lumen & Co", "Bay Street Goods", "Kestrel", "Maple Market"]


def random_briefs(n: int, *, seed: int = 0, today: dt.date | None = None) -> list[CopyBrief]:
    rng = np.random.default_rng(seed)
    today = today or dt.date(2026, 11, 26)
    catalogue = sorted({f"{a} {b}" for a in _ADJ for b in _NOUN} | set(_TRICKY))
    briefs = []
    for i in range(n):
        language = "zh" if rng.random() < 0.3 else "en"
        k = int(rng.integers(1, 4))
        names = list(rng.choice(catalogue, size=k + 5, replace=False))
        currency = str(rng.choice(["GBP", "USD", "EUR", "CNY"]))
        products = [
            ProductFact(
                product_id=f"P{rng.integers(10000, 99999)}",
                name=name,
                price=round(float(rng.uniform(1.5, 180)), 2),
                currency=currency,
                url=f"https://shop.example/p/{j}-{i}" if rng.random() < 0.5 else None,
                highlight=str(rng.choice(["Reviewers love the fit", "Reviewers love the quality", ""])) or None,
            )
            for j, name in enumerate(names[:k])
        ]
        kind = str(rng.choice(["none", "percent", "amount", "free_shipping"]))
        value = {
            "none": 0.0,
            "percent": float(rng.choice([5, 10, 12.5, 15, 20, 25, 30])),
            "amount": float(rng.choice([5, 10, 15, 20])),
            "free_shipping": 0.0,
        }[kind]
        offer = Offer(
            kind=kind,
            value=value,  # type: ignore[arg-type]
            code=(
                f"{rng.choice(['SAVE', 'HELLO', 'BACK', 'VIP'])}{int(rng.integers(5, 99))}"
                if kind != "none" and rng.random() < 0.8
                else None
            ),
            expires=(
                today + dt.timedelta(days=int(rng.integers(1, 30))) if kind != "none" and rng.random() < 0.7 else None
            ),
            min_spend=(float(rng.choice([20, 30, 50])) if kind == "amount" and rng.random() < 0.5 else None),
        )
        first = rng.choice(_NAMES_ZH if language == "zh" else _NAMES_EN)
        briefs.append(
            CopyBrief(
                customer=CustomerFact(customer_id=f"C{i:05d}", first_name=first, language=language),
                goal=str(rng.choice(GOALS)),
                channel=str(rng.choice(["email", "sms", "push"])),
                offer=offer,
                products=products,
                brand=BrandVoice(
                    store_name=str(rng.choice(_STORES)),
                    voice=str(rng.choice(["friendly", "premium", "playful", "plain"])),
                ),
                language=language,
                variants=1,
                today=today,
                forbidden_terms=[f"C{(i + 1) % max(n, 2):05d}", "other.customer@example.com"],
                other_product_names=names[k:],
            )
        )
    return briefs
