"""Intent classification for customer messages.

:class:`IntentClassifier` is a linear model over TF-IDF word 1-2-grams and character 2-5-grams (robust
to typos and colloquial spelling), trained on labelled utterances such as the Bitext customer-support
set. Without a trained model the assistant falls back to :class:`KeywordIntents`, a few transparent
rules for the commonest intents. Saved as ``.npz`` + JSON with a schema version (no pickle).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from marketloop.errors import InputError, NotFoundError

SCHEMA_VERSION = 1


class IntentClassifier:
    def __init__(self, *, C: float = 10.0, min_df: int = 1, random_state: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.random_state = random_state

    def _vectorizers(self) -> tuple:
        from sklearn.feature_extraction.text import TfidfVectorizer

        word = TfidfVectorizer(ngram_range=(1, 2), min_df=self.min_df, sublinear_tf=True, lowercase=True)
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=max(2, self.min_df),
            sublinear_tf=True,
            lowercase=True,
            max_features=150_000,
        )
        return word, char

    def _X(self, texts: Sequence[str]):  # noqa: N802, ANN202 - the feature matrix X (scikit-learn naming); scipy is imported lazily
        from scipy import sparse

        texts = [str(t) if t is not None else "" for t in texts]
        return sparse.hstack([self.word_.transform(texts), self.char_.transform(texts)], format="csr")

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels):
            raise InputError(
                f"texts and labels differ in length ({len(texts)} vs {len(labels)})", field="labels", value=len(labels)
            )
        if len(set(labels)) < 2:
            raise InputError(
                f"need at least two intents to learn from, got {sorted(set(labels))}",
                field="labels",
                value=sorted(set(labels)),
                hint="Check the label column.",
            )
        texts = [str(t) for t in texts]
        self.word_, self.char_ = self._vectorizers()
        self.word_.fit(texts)
        self.char_.fit(texts)
        self.model_ = LogisticRegression(C=self.C, max_iter=2000, random_state=self.random_state).fit(
            self._X(texts), list(labels)
        )
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFoundError("This IntentClassifier is not fitted", hint="Call fit() or load() first.")
        return self.model_.predict_proba(self._X(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]

    def top(self, text: str) -> tuple[str, float]:
        p = self.predict_proba([text])[0]
        i = int(np.argmax(p))
        return str(self.classes_[i]), float(p[i])

    def save(self, directory: str | Path) -> Path:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {
            "coef": self.model_.coef_,
            "intercept": self.model_.intercept_,
            "classes": np.asarray(self.classes_, dtype=str),
        }
        for prefix, vec in (("word", self.word_), ("char", self.char_)):
            terms = np.empty(len(vec.vocabulary_), dtype=object)
            for term, i in vec.vocabulary_.items():
                terms[i] = term
            arrays[f"{prefix}_terms"] = terms.astype(str)
            arrays[f"{prefix}_idf"] = vec.idf_
        np.savez_compressed(path / "intents.npz", **arrays)
        (path / "intents.json").write_text(
            json.dumps(
                {
                    "schema_version": SCHEMA_VERSION,
                    "kind": "marketloop.intents",
                    "C": self.C,
                    "min_df": self.min_df,
                    "classes": [str(c) for c in self.classes_],
                },
                indent=2,
            )
        )
        return path

    @classmethod
    def load(cls, directory: str | Path) -> IntentClassifier:
        from sklearn.linear_model import LogisticRegression

        path = Path(directory)
        cfg_path = path / "intents.json"
        if not cfg_path.is_file():
            raise NotFoundError(
                f"No intent model in {str(path)!r} (intents.json missing)",
                hint="Train one with `marketloop assistant train --data FILE`.",
            )
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("kind") != "marketloop.intents" or cfg.get("schema_version") != SCHEMA_VERSION:
            raise InputError(
                f"{str(cfg_path)!r} is not an intent model of schema version {SCHEMA_VERSION}",
                field="model",
                value=cfg.get("schema_version"),
                hint="Retrain it with this MarketLoop version.",
            )
        with np.load(path / "intents.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        obj = cls(C=cfg["C"], min_df=cfg["min_df"])
        obj.word_, obj.char_ = obj._vectorizers()
        for prefix, vec in (("word", obj.word_), ("char", obj.char_)):
            vec.vocabulary_ = {str(t): i for i, t in enumerate(arrays[f"{prefix}_terms"])}
            vec.idf_ = arrays[f"{prefix}_idf"]
        model = LogisticRegression(C=obj.C)
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.classes_ = arrays["classes"].astype(object)
        obj.model_, obj.classes_ = model, model.classes_
        return obj


_RULES: list[tuple[str, str]] = [
    (
        "contact_human_agent",
        r"\b(human|person|agent|representative|somebody|(speak|talk) to someone)\b|人工|真人|客服人员",
    ),
    (
        "track_order",
        r"\b(where is|track|tracking|status of|hasn'?t arrived|not arrived|when will .* arrive)\b|物流|到哪|订单状态|查询订单",
    ),
    ("cancel_order", r"\bcancel\b|取消"),
    ("track_refund", r"\b(refund status|where is my refund|track .*refund)\b|退款进度"),
    ("get_refund", r"\b(refund|money back)\b|退款"),
    ("check_refund_policy", r"\b(return policy|refund policy|can i return|return an item|returns?)\b|退货"),
    ("delivery_period", r"\b(how long|when will|delivery time|arrive)\b|多久|几天"),
    ("delivery_options", r"\b(shipping|delivery options|ship to|deliver)\b|配送|运费"),
    ("check_payment_methods", r"\b(pay with|payment methods?|paypal|credit card|accept)\b|支付方式|付款方式"),
    ("payment_issue", r"\b(payment (failed|declined|problem|issue)|charged twice|card declined)\b|支付失败|扣款"),
    ("get_invoice", r"\b(invoice|receipt|bill)\b|发票"),
    ("recover_password", r"\b(password|log ?in|sign ?in|locked out)\b|密码|登录"),
    ("create_account", r"\b(create|open|register|sign up).{0,15}account\b|注册"),
    ("delete_account", r"\b(delete|close|remove).{0,15}account\b|注销"),
    ("newsletter_subscription", r"\b(newsletter|unsubscribe|mailing list)\b|订阅|退订"),
    ("change_shipping_address", r"\b(change|update).{0,20}address\b|修改地址|改地址"),
    ("complaint", r"\b(complain|complaint|terrible|awful|unacceptable)\b|投诉"),
]


#: Chinese rules, in their own order (most specific first): customers write 订单 in most messages, so the
#: order-tracking rule comes last and catches what the others do not.
_RULES_ZH: list[tuple[str, str]] = [
    ("contact_human_agent", r"人工|真人|客服人员|转客服|找客服|联系客服|工作人员|找个人|和人说|跟人说"),
    ("complaint", r"投诉|举报|太差劲|差劲透了|什么破|要曝光"),
    (
        "track_refund",
        r"退款(进度|状态|到哪|到账|多久|什么时候|怎么还没|还没)|钱(怎么)?还没(有)?退|什么时候.{0,6}退(回|到)|退的钱",
    ),
    ("get_invoice", r"发票|收据|开票|报销凭证"),
    (
        "payment_issue",
        r"(支付|付款|扣款)(失败|不成功|出错|有问题|异常)|付不了|扣了两次|重复扣|多扣|扣了钱|付不成功|银行卡被拒",
    ),
    (
        "check_payment_methods",
        r"支付方式|付款方式|支付宝|微信支付|信用卡|花呗|银联|怎么(付款|支付|付钱)|可以用.{0,6}(付|支付)|货到付款",
    ),
    ("change_shipping_address", r"(修改|更改|改一下|改|换|更换).{0,6}(收货)?地址|地址(写错|填错|错了|不对)"),
    ("cancel_order", r"取消|不想要了|不要了|撤销|撤回订单"),
    ("recover_password", r"密码|登录不了|登不上|无法登录|登录不上|进不去账号|账号被锁|登陆不了"),
    ("create_account", r"注册|创建(一个)?(账号|账户)|开(个|一个)?(账号|账户)|新建(账号|账户)"),
    ("delete_account", r"注销|(删除|删掉|关闭|停用)(我的)?(账号|账户)"),
    ("newsletter_subscription", r"订阅|退订|邮件推送|不想(再)?收到|营销(短信|邮件)|促销(短信|邮件)|会员通讯"),
    ("get_refund", r"退款|退钱|把钱退|返还|退回(我的)?钱|要求赔偿"),
    ("check_refund_policy", r"退货|退换|能退吗|可以退吗|无理由|换货|可以退|能不能退"),
    ("delivery_period", r"多久|几天|多长时间|配送时间|送达时间|要等多|什么时候发货"),
    ("delivery_options", r"配送|运费|包邮|邮费|顺丰|送货方式|快递方式|发什么快递|能送到|寄到|送到|自提|加急"),
    (
        "track_order",
        r"物流|到哪|在哪|订单状态|查询订单|查(一下|下)?(我的)?订单|包裹|快递.{0,6}(哪|到)|什么时候(能)?到|还没(有)?(到|收到)|没收到|发货了(吗|没)|追踪|单号",
    ),
]
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


class KeywordIntents:
    """Rule-based fallback used when no trained intent model is available (confidence 0.6 on a match)."""

    classes_ = np.array(sorted({name for name, _ in _RULES} | {"other"}), dtype=object)

    def top(self, text: str) -> tuple[str, float]:
        if _CJK.search(text or ""):
            for name, pattern in _RULES_ZH:
                if re.search(pattern, text):
                    return name, 0.6
        for name, pattern in _RULES:
            if re.search(pattern, text or "", flags=re.I):
                return name, 0.6
        return "other", 0.0
