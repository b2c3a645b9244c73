"""Chinese opinion lexicon: jieba segments the text, a hand-written word list scores it.

No maintained Chinese sentiment lexicon is a dependency (HowNet and NTUSD are research downloads, SnowNLP
ships a model trained on other reviews), so the words below are written out, as the English baseline is,
for shopping reviews: quality, fit, material, delivery, service, price. jieba (the standard Chinese
segmenter) splits the text into words; the scorer walks them with negation (不, 没, 别, ...) flipping the
next opinion word, degree adverbs (很, 非常, 太, ...) strengthening it, and a contrast word (但是, 不过, ...)
halving what came before and doubling what follows, then squashes the total into [-1, 1] like the English one.
Words jieba tends to split are also matched as substrings of the text (``PHRASES``).
"""

from __future__ import annotations

import logging
import math
import re
from functools import lru_cache

POSITIVE_ZH = set(
    """
好 很好 不错 挺好 满意 喜欢 推荐 值得 超值 划算 实惠 便宜 物美价廉 性价比高 好看 漂亮 美 可爱 时尚 大方 百搭 洋气 高级
舒服 舒适 柔软 透气 合身 正好 合适 完美 精致 结实 耐用 牢固 厚实 质量好 做工好 做工精细 细致 正品 惊喜 开心 高兴 棒
赞 给力 优秀 出色 靠谱 放心 好评 五星 回购 快 很快 迅速 及时 神速 热情 耐心 周到 贴心 专业 清晰 干净 无异味 好用 方便
实用 喜爱 满分 完好 新鲜 香 好吃 流畅 稳定 顺滑 轻便 保暖 显瘦 修身 上档次 物超所值 喜出望外 感谢 谢谢 满意度高
""".split()
)
NEGATIVE_ZH = set(
    """
差 很差 太差 较差 不好 糟糕 失望 后悔 垃圾 坑 坑人 骗人 假货 劣质 次品 残次 破 破损 坏 坏了 烂 脏 旧 褪色 掉色 起球
缩水 变形 开线 脱线 断 裂 漏 异味 臭 难闻 刺鼻 粗糙 廉价 薄 透 扎 痒 硬 紧 勒 小 大 偏大 偏小 不合身 难看 丑 别扭 土
贵 不值 不值得 浪费 慢 很慢 太慢 拖延 延迟 迟迟 久 没到 丢件 少发 漏发 错发 发错 冷淡 敷衍 态度差 不理 推诿 差评 退货 退款
投诉 麻烦 难用 卡 卡顿 不稳定 噪音 吵 不满 不满意 生气 郁闷 无语 恶心 上当 问题 瑕疵 毛病 色差 偏色 严重 不行 一般 凑合
""".split()
)
#: opinion phrases jieba may split into neutral pieces, matched on the raw text
PHRASES = {
    "物超所值": 1.0,
    "性价比很高": 1.0,
    "质量很好": 1.0,
    "做工不错": 1.0,
    "非常满意": 1.5,
    "五星好评": 1.5,
    "还会回购": 1.0,
    "下次还来": 1.0,
    "一分钱一分货": -0.5,
    "货不对板": -1.5,
    "与描述不符": -1.5,
    "和图片不一样": -1.2,
    "不推荐": -1.2,
    "不会再买": -1.5,
    "再也不买": -1.5,
    "质量很差": -1.5,
    "质量太差": -1.5,
    "差评": -1.2,
}
NEGATIONS_ZH = {"不", "没", "没有", "无", "非", "别", "未", "不是", "不太", "并不", "毫不", "不怎么", "从不", "不会"}
DEGREE_ZH = {
    "很": 1.3,
    "挺": 1.2,
    "非常": 1.6,
    "特别": 1.6,
    "十分": 1.6,
    "超": 1.5,
    "超级": 1.6,
    "太": 1.5,
    "极其": 1.8,
    "相当": 1.4,
    "真": 1.3,
    "真的": 1.3,
    "比较": 1.1,
    "有点": 0.8,
    "有些": 0.8,
    "稍微": 0.7,
    "略": 0.7,
    "更": 1.2,
    "最": 1.5,
}
CONTRAST_ZH = {"但是", "但", "不过", "可是", "然而", "只是", "就是"}
#: "有点小" / "偏大": size words are negative only in these frames; on their own (大家, 大方) they are not
_SIZE_WORDS = {"小", "大"}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text or ""))


@lru_cache(maxsize=1)
def _tokenizer():  # noqa: ANN202 - a jieba.Tokenizer, imported lazily
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    for word in POSITIVE_ZH | NEGATIVE_ZH | set(PHRASES) | NEGATIONS_ZH | set(DEGREE_ZH):
        if len(word) > 1:
            tok.add_word(word, freq=20_000)
    return tok


def tokens_zh(text: str) -> list[str]:
    return [t for t in _tokenizer().lcut(text or "") if t.strip()]


def lexicon_score_zh(text: str) -> float:
    """Sentiment of Chinese text in [-1, 1] (see the module docstring)."""
    text = text or ""
    toks = tokens_zh(text)
    total, weight_sum, negate, boost, after_but = 0.0, 0.0, 0, 1.0, False
    prev = ""
    for tok in toks:
        if tok in CONTRAST_ZH:
            after_but = True
            total *= 0.5
            prev = tok
            continue
        if tok in NEGATIONS_ZH:
            negate = 2
            prev = tok
            continue
        if tok in DEGREE_ZH:
            boost = DEGREE_ZH[tok]
            prev = tok
            continue
        polarity = 1.0 if tok in POSITIVE_ZH else -1.0 if tok in NEGATIVE_ZH else 0.0
        if tok in _SIZE_WORDS and prev not in DEGREE_ZH and prev not in {"偏", "太"}:
            polarity = 0.0
        if polarity:
            if negate:
                polarity = -polarity * 0.8
            w = boost * (2.0 if after_but else 1.0)
            total += polarity * w
            weight_sum += w
            boost = 1.0
            negate = 0
        elif tok in "，。！？,.!?；;":
            negate = 0
        else:
            negate = max(0, negate - 1)
        prev = tok
    for phrase, value in PHRASES.items():
        if phrase in text:
            total += value * (
                2.0 if after_but and text.rfind(phrase) > max(text.rfind(c) for c in CONTRAST_ZH) else 1.0
            )
            weight_sum += abs(value)
    total += 0.2 * text.count("！") * (1 if total > 0 else -1 if total < 0 else 0)
    if weight_sum == 0:
        return 0.0
    return math.tanh(total / math.sqrt(weight_sum + 1.0))
