"""A small hand-written opinion lexicon with negation and intensifiers: the sentiment baseline.

No maintained lexicon package is installed here (VADER and TextBlob are not dependencies), and the
baseline only has to be a fair, transparent reference for the learned classifier, so it is written
out below. Scores are in [-1, 1]; :class:`LexiconSentiment` turns them into labels.
"""

from __future__ import annotations

import math
import re

import numpy as np

POSITIVE = set(
    """
love loved loves lovely beautiful gorgeous perfect perfectly great excellent amazing awesome fantastic wonderful
comfortable comfy soft flattering favorite favourite nice pretty cute stunning elegant happy glad pleased recommend
recommended best better fits fit flatters compliments compliment classy chic quality sturdy durable fast quick
helpful friendly polite easy works worked worth bargain flawless superb impressive stylish versatile adorable
delighted satisfied enjoy enjoyed fun cozy cosy warm gorgeous fabulous ideal true well smooth silky breathable
""".split()
)
NEGATIVE = set(
    """
bad poor terrible awful horrible hate hated disappointing disappointed disappointment cheap cheaply ugly unflattering
itchy scratchy thin flimsy broken broke ripped torn damaged defective faulty wrong return returned returning refund
small tight huge baggy boxy shapeless frumpy sheer see-through unwearable uncomfortable worst worse sadly unfortunately
odd weird strange awkward wrinkled wrinkles pilled pilling shrank shrunk faded stain stained smell smells late slow
rude unhelpful missing never waste wasted overpriced expensive useless problem problems issue issues fell fall apart
""".split()
)
NEGATIONS = {
    "not",
    "no",
    "never",
    "n't",
    "nothing",
    "hardly",
    "barely",
    "isn't",
    "wasn't",
    "don't",
    "didn't",
    "doesn't",
    "aren't",
    "won't",
    "cannot",
    "can't",
}
INTENSIFIERS = {
    "very": 1.5,
    "really": 1.4,
    "so": 1.3,
    "extremely": 1.8,
    "super": 1.5,
    "absolutely": 1.6,
    "totally": 1.4,
    "too": 1.2,
}
CONTRAST = {"but", "however", "although", "though"}

_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)?(?:'[a-z]+)?|n't|!")


def lexicon_score(text: str) -> float:
    """Sentiment in [-1, 1]: weighted opinion words, negation flips the next 3 words, words after
    'but' count double, exclamation marks strengthen the total. Chinese text is scored by the Chinese
    lexicon (``lexicon_zh.py``, jieba segmentation)."""
    from marketloop.content.reviews.lexicon_zh import has_chinese, lexicon_score_zh

    if has_chinese(text):
        return lexicon_score_zh(text)
    tokens = _TOKEN.findall((text or "").lower())
    total, weight_sum, negate, boost, after_but = 0.0, 0.0, 0, 1.0, False
    for tok in tokens:
        if tok in CONTRAST:
            after_but = True
            total *= 0.5
            continue
        if tok in NEGATIONS or tok.endswith("n't"):
            negate = 3
            continue
        if tok in INTENSIFIERS:
            boost = INTENSIFIERS[tok]
            continue
        polarity = 1.0 if tok in POSITIVE else -1.0 if tok in NEGATIVE else 0.0
        if polarity:
            if negate:
                polarity = -polarity * 0.8
            w = boost * (2.0 if after_but else 1.0)
            total += polarity * w
            weight_sum += w
            boost = 1.0
        negate = max(0, negate - 1)
    if weight_sum == 0:
        return 0.0
    return math.tanh(total / math.sqrt(weight_sum + 1.0))


class LexiconSentiment:
    """Baseline classifier: positive when the lexicon score > `threshold`, negative below -`threshold`
    (3-class) or below `threshold` (binary)."""

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = threshold

    def fit(self, texts=None, labels=None) -> LexiconSentiment:  # noqa: ANN001 - nothing to learn
        return self

    def scores(self, texts: list[str]) -> np.ndarray:
        return np.array([lexicon_score(t) for t in texts])

    def predict(self, texts: list[str], *, classes: tuple[str, ...] = ("negative", "positive")) -> np.ndarray:
        return self.labels(self.scores(texts), classes=classes)

    def labels(self, s: np.ndarray, *, classes: tuple[str, ...] = ("negative", "positive")) -> np.ndarray:
        if "neutral" in classes:
            return np.where(s > self.threshold, "positive", np.where(s < -self.threshold, "negative", "neutral"))
        return np.where(s > self.threshold, "positive", "negative")
