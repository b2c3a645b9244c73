"""Phrase banks of the template writer, per language, goal and brand voice.

Every phrase is a format string whose placeholders are filled only from the brief: {name}, {store},
{offer}, {product}. Nothing here states a number, a date or a claim of its own.
"""

from __future__ import annotations

SUBJECTS: dict[str, dict[str, list[str]]] = {
    "en": {
        "winback": ["We miss you, {name}", "{name}, it has been a while", "Come back to {store}, {name}"],
        "welcome": ["Welcome to {store}, {name}", "{name}, thanks for joining {store}", "Hello from {store}"],
        "cart_recovery": [
            "{name}, your basket is waiting",
            "Still thinking it over, {name}?",
            "You left something at {store}",
        ],
        "cross_sell": [
            "Picked for you, {name}",
            "{name}, these go well with your last order",
            "More you may like at {store}",
        ],
        "promotion": ["{name}, something new at {store}", "This week at {store}", "A note from {store} for {name}"],
        "replenish": ["Time to restock, {name}?", "{name}, running low?", "Your favourites at {store}"],
        "new_arrivals": ["New in at {store}", "{name}, fresh arrivals for you", "Just landed at {store}"],
    },
    "zh": {
        "winback": ["{name}，好久不见", "{name}，我们想念您", "欢迎回到{store}，{name}"],
        "welcome": ["欢迎加入{store}，{name}", "{name}，感谢您注册{store}", "{store}向您问好"],
        "cart_recovery": ["{name}，您的购物车还在等您", "{name}，还在考虑吗？", "您在{store}有未结算的商品"],
        "cross_sell": ["{name}，为您精选", "{name}，与您上次购买很搭", "{store}为您推荐"],
        "promotion": ["{name}，{store}有新消息", "本周{store}精选", "{store}写给{name}的信"],
        "replenish": ["{name}，该补货了吗？", "{name}，常用好物快用完了吗？", "{store}：您常买的商品"],
        "new_arrivals": ["{store}新品上架", "{name}，新品为您准备好了", "{store}新到商品"],
    },
}

OPENERS: dict[str, dict[str, str]] = {
    "en": {
        "friendly": "Hi {name},",
        "premium": "Dear {name},",
        "playful": "Hey {name}!",
        "plain": "Hello {name},",
    },
    "zh": {
        "friendly": "{name}，您好！",
        "premium": "尊敬的{name}：",
        "playful": "嗨，{name}！",
        "plain": "{name}，您好：",
    },
}

INTROS: dict[str, dict[str, str]] = {
    "en": {
        "winback": "It has been a while since your last visit to {store}, so we picked a few things for you.",
        "welcome": "Thank you for joining {store}. Here are a few things our customers like.",
        "cart_recovery": "You left some items in your basket at {store}. They are still there for you.",
        "cross_sell": "Based on what you bought before, we think you may like these.",
        "promotion": "Here is what is new at {store} this week.",
        "replenish": "It may be time to stock up on your favourites from {store}.",
        "new_arrivals": "These have just arrived at {store}.",
    },
    "zh": {
        "winback": "距离您上次光临{store}已有一段时间，我们为您挑选了几件商品。",
        "welcome": "感谢您加入{store}，以下是顾客喜爱的几件商品。",
        "cart_recovery": "您在{store}的购物车里还有商品，我们为您保留着。",
        "cross_sell": "根据您以往的购买，您可能会喜欢这些商品。",
        "promotion": "以下是{store}本周的新内容。",
        "replenish": "您常用的{store}商品可能需要补货了。",
        "new_arrivals": "这些商品刚刚在{store}上架。",
    },
}

CLOSINGS: dict[str, dict[str, str]] = {
    "en": {
        "friendly": "See you soon,",
        "premium": "With kind regards,",
        "playful": "Happy shopping!",
        "plain": "Thanks,",
    },
    "zh": {"friendly": "期待再次见到您，", "premium": "此致敬礼，", "playful": "购物愉快！", "plain": "谢谢，"},
}

CTA: dict[str, list[str]] = {
    "en": ["Shop now", "Take a look", "See the picks"],
    "zh": ["立即选购", "去看看", "查看推荐"],
}

GENERIC_NAME = {"en": "there", "zh": "顾客"}
UNSUBSCRIBE = {
    "en": "You receive this e-mail because you subscribed to {store}. Unsubscribe: {url}",
    "zh": "您收到此邮件是因为您订阅了{store}。退订：{url}",
}
PUSH_TITLES: dict[str, list[str]] = {
    "en": ["{store}: picked for you", "{store}: new for you", "{name}, a note from {store}"],
    "zh": ["{store}：为您精选", "{store}：新品推荐", "{name}，来自{store}的消息"],
}
