"""Assistant conversations kept in the service process, so that a chat can span several requests.

Bounded and short-lived by design: at most ``max_items`` conversations (the least recently used goes
first) and each expires ``ttl_s`` seconds after its last turn. Nothing is written to the store; a
restart or a second server process starts afresh (the client then opens a new conversation). A
conversation belongs to the API key that opened it; another key cannot read or continue it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from marketloop.content.assistant.bot import Conversation

MAX_CONVERSATIONS = 1000
TTL_SECONDS = 3600.0
#: history entries (customer and assistant turns) kept per conversation; the assistant needs none of
#: the history to answer, so this only bounds memory
MAX_HISTORY = 20


@dataclass
class Chat:
    conversation_id: str
    owner: str  # the API key id that opened it
    conversation: Conversation
    last_used: float
    turns: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def trim(self) -> None:
        del self.conversation.history[:-MAX_HISTORY]


class ConversationStore:
    def __init__(
        self,
        max_items: int = MAX_CONVERSATIONS,
        ttl_s: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self.clock = clock
        self._items: OrderedDict[str, Chat] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _expire(self, now: float) -> None:
        # least recently used first, so the expired ones are at the front
        while self._items:
            chat = next(iter(self._items.values()))
            if now - chat.last_used < self.ttl_s:
                break
            self._items.popitem(last=False)

    def open(self, owner: str, customer_id: str | None) -> Chat:
        now = self.clock()
        chat = Chat(secrets.token_urlsafe(16), owner, Conversation(customer_id=customer_id), now)
        with self._lock:
            self._expire(now)
            self._items[chat.conversation_id] = chat
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return chat

    def get(self, conversation_id: str, owner: str) -> Chat | None:
        """The live conversation if `owner` opened it; marks it used."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            chat = self._items.get(conversation_id)
            if chat is None or chat.owner != owner:
                return None
            chat.last_used = now
            self._items.move_to_end(conversation_id)
            return chat

    def forget_customer(self, customer_id: str) -> int:
        """Drop every conversation of `customer_id` (erasure); return how many."""
        with self._lock:
            ids = [k for k, chat in self._items.items() if chat.conversation.customer_id == customer_id]
            for k in ids:
                del self._items[k]
        return len(ids)
