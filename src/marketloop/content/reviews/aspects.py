"""Aspects of a review (fit, size, quality, material, price, shipping, service, ...) and their polarity.

Each sentence that mentions an aspect term gets that aspect; the sentence's polarity comes from a
scorer (the trained classifier when given, else the lexicon). Per-product summaries count positive
and negative mentions per aspect: what customers love and what they complain about.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from marketloop.content.reviews.lexicon import lexicon_score

ASPECT_TERMS: dict[str, tuple[str, ...]] = {
    "fit": ("fit", "fits", "fitted", "fitting", "flattering", "true to size", "tts", "silhouette", "cut"),
    "size": (
        "size",
        "sizes",
        "sizing",
        "runs small",
        "runs large",
        "too small",
        "too big",
        "petite",
        "length",
        "too long",
        "too short",
        "xs",
        "xl",
    ),
    "quality": (
        "quality",
        "well made",
        "poorly made",
        "stitching",
        "seam",
        "seams",
        "construction",
        "durable",
        "fell apart",
        "ripped",
        "holes",
        "pilling",
    ),
    "material": (
        "fabric",
        "material",
        "cotton",
        "linen",
        "silk",
        "polyester",
        "knit",
        "wool",
        "rayon",
        "lining",
        "itchy",
        "sheer",
        "see-through",
        "thin",
        "thick",
    ),
    "comfort": ("comfortable", "comfy", "comfort", "uncomfortable", "soft", "scratchy", "breathable", "cozy"),
    "color": ("color", "colour", "colors", "colours", "shade", "faded", "print", "pattern"),
    "style": ("style", "design", "stylish", "cute", "elegant", "look", "looks", "chic", "boxy", "frumpy"),
    "price": (
        "price",
        "priced",
        "expensive",
        "cheap",
        "value",
        "worth",
        "money",
        "overpriced",
        "bargain",
        "sale",
        "deal",
    ),
    "shipping": ("shipping", "delivery", "delivered", "arrived", "package", "shipped", "courier", "late"),
    "service": ("customer service", "service", "return", "returns", "refund", "exchange", "staff", "support"),
}
ASPECT_LABELS_ZH = {
    "fit": "版型",
    "size": "尺码",
    "quality": "做工",
    "material": "面料",
    "comfort": "舒适度",
    "color": "颜色",
    "style": "款式",
    "price": "价格",
    "shipping": "物流",
    "service": "服务",
}

#: Chinese terms per aspect (matched as substrings: Chinese has no word boundaries for \b)
ASPECT_TERMS_ZH: dict[str, tuple[str, ...]] = {
    "fit": ("版型", "合身", "修身", "显瘦", "上身", "身材"),
    "size": (
        "尺码",
        "码数",
        "尺寸",
        "偏大",
        "偏小",
        "有点大",
        "有点小",
        "太大",
        "太小",
        "大了",
        "小了",
        "长度",
        "袖子",
    ),
    "quality": ("质量", "做工", "走线", "线头", "开线", "结实", "耐用", "瑕疵", "破损", "起球", "质感", "品质"),
    "material": ("面料", "材质", "布料", "料子", "纯棉", "棉", "真丝", "羊毛", "厚度", "太薄", "很薄", "透气"),
    "comfort": ("舒服", "舒适", "柔软", "扎人", "不舒服", "穿着", "手感"),
    "color": ("颜色", "色差", "褪色", "掉色", "偏色", "图案", "花色"),
    "style": ("款式", "设计", "好看", "漂亮", "时尚", "难看", "样子", "外观", "百搭"),
    "price": ("价格", "性价比", "便宜", "贵", "划算", "实惠", "价钱", "值得", "超值", "物超所值"),
    "shipping": ("物流", "快递", "发货", "到货", "送货", "配送", "包装", "运输", "收到"),
    "service": ("客服", "服务", "售后", "退货", "退款", "换货", "态度", "商家", "卖家"),
}
# sentences, then clauses around contrast words: "love the fit but the fabric is itchy" is two opinions
_SENTENCE = re.compile(
    r"(?<=[.!?;])\s+|\n+|,?\s+(?:but|however|although|though|yet|except)\s+|[，,]?(?:但是|但|不过|可是)", re.I
)
_PATTERNS = {
    a: re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b", re.I) for a, terms in ASPECT_TERMS.items()
}


_PATTERNS_ZH = {a: re.compile("|".join(re.escape(t) for t in terms)) for a, terms in ASPECT_TERMS_ZH.items()}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_CLAUSE_ZH = re.compile(r"[，,。！？!?；;、]+")


@dataclass(frozen=True)
class AspectMention:
    aspect: str
    polarity: str  # positive, negative, neutral
    sentence: str


def sentences(text: str) -> list[str]:
    """Sentences and contrast clauses; Chinese text is split into its comma clauses too (one opinion each)."""
    out = []
    for s in _SENTENCE.split(text or ""):
        if not s or not s.strip():
            continue
        out += [c.strip() for c in _CLAUSE_ZH.split(s) if c.strip()] if _CJK.search(s) else [s.strip()]
    return out


def _aspects_of(sentence: str) -> list[str]:
    if _CJK.search(sentence):
        return [a for a, rx in _PATTERNS_ZH.items() if rx.search(sentence)] or [
            a for a, rx in _PATTERNS.items() if rx.search(sentence)
        ]
    return [a for a, rx in _PATTERNS.items() if rx.search(sentence)]


def extract_aspects(
    text: str, scorer: Callable[[list[str]], Sequence[float]] | None = None, *, threshold: float = 0.1
) -> list[AspectMention]:
    """Aspect mentions in `text`, one per (sentence, aspect)."""
    sents = sentences(text)
    hits = [(s, _aspects_of(s)) for s in sents]
    hits = [(s, aspects) for s, aspects in hits if aspects]
    if not hits:
        return []
    scores = scorer([s for s, _ in hits]) if scorer else [lexicon_score(s) for s, _ in hits]
    out = []
    for (sent, aspects), score in zip(hits, scores, strict=True):
        polarity = "positive" if score > threshold else "negative" if score < -threshold else "neutral"
        out += [AspectMention(a, polarity, sent) for a in aspects]
    return out


@dataclass
class ProductSummary:
    product_id: str
    n_reviews: int
    avg_rating: float | None
    positive_share: float
    loves: list[dict] = field(default_factory=list)
    complaints: list[dict] = field(default_factory=list)
    highlight: str | None = None


def summarise_product(
    product_id: str,
    labels: Sequence[str],
    ratings: Sequence[float | None],
    mentions: Sequence[Sequence[AspectMention]],
    *,
    top: int = 3,
    min_mentions: int = 3,
) -> ProductSummary:
    """What customers love and complain about for one product."""
    pos, neg = Counter(), Counter()
    quotes: dict[tuple[str, str], str] = {}
    for review in mentions:
        for m in review:
            if m.polarity == "positive":
                pos[m.aspect] += 1
            elif m.polarity == "negative":
                neg[m.aspect] += 1
            if m.polarity != "neutral":
                key = (m.aspect, m.polarity)
                if key not in quotes or len(m.sentence) < len(quotes[key]):
                    quotes[key] = m.sentence[:200]

    def rank(counter: Counter, other: Counter, polarity: str) -> list[dict]:
        rows = []
        for aspect, n in counter.most_common():
            total = n + other[aspect]
            if n < min_mentions or n / total <= 0.5:
                continue
            rows.append(
                {
                    "aspect": aspect,
                    "mentions": n,
                    "share": round(n / total, 3),
                    "quote": quotes.get((aspect, polarity), ""),
                }
            )
        return rows[:top]

    loves, complaints = rank(pos, neg, "positive"), rank(neg, pos, "negative")
    valid = [r for r in ratings if r is not None]
    n = len(labels)
    positive_share = sum(1 for lab in labels if lab == "positive") / n if n else 0.0
    highlight = f"Reviewers love the {loves[0]['aspect']}" if loves and positive_share >= 0.6 else None
    return ProductSummary(
        product_id,
        n,
        round(sum(valid) / len(valid), 3) if valid else None,
        round(positive_share, 3),
        loves,
        complaints,
        highlight,
    )
