"""A self-attentive sequential recommender (SASRec, Kang & McAuley 2018) in torch, on the CPU.

Each customer's events in time order feed a causal Transformer encoder; the hidden state after position
t is trained to predict the item at t + 1, at every position of every sequence. The loss is a softmax
over the whole catalogue when it has at most `full_softmax_items` items (it learns much faster than the
paper's one-negative binary loss), otherwise a sampled softmax against `n_negatives` items drawn once per
batch and shared by every position (the positives of the batch compete too).

Training runs until it stops improving, not for a fixed number of epochs: each customer's last item is
held out as a validation tail (the customer's sequence without it is what the network learns from), and
after every epoch the model ranks the whole catalogue for a sample of `val_users` of them; training
stops `patience` epochs after the best validation NDCG@10, or when `max_seconds` of training have passed
(a time budget for small machines, checked after every batch), and the weights of the best epoch are
kept. The recommendation vector
of a customer is then the hidden state after their whole sequence, held-out item included.

Defaults follow the published configuration scaled to a CPU: 50 items of history (the paper's length
for sparse data sets), two blocks, 64 hidden units, dropout 0.2, Adam at 1e-3. Weights are saved as plain
arrays (no pickle). The same network ranks a live session (:meth:`score_sessions`): `sasrec-session`
is this model trained on sessions instead of customers, for anonymous visitors.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from marketloop.errors import DependencyError
from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.evaluation import heldout_ndcg

log = logging.getLogger(__name__)


def _torch():  # noqa: ANN202
    try:
        import torch
    except ImportError:  # pragma: no cover
        raise DependencyError("the sasrec model needs torch", hint="pip install torch==2.13.0 (CPU build)") from None
    return torch


def _network(n_items: int, max_len: int, hidden: int, blocks: int, heads: int, dropout: float):  # noqa: ANN202
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, hidden, padding_idx=0)
            self.pos = nn.Embedding(max_len, hidden)
            layer = nn.TransformerEncoderLayer(hidden, heads, hidden * 2, dropout, batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(hidden)
            self.drop = nn.Dropout(dropout)

        def forward(self, seq):  # noqa: ANN001, ANN202
            length = seq.shape[1]
            x = self.items(seq) * hidden**0.5 + self.pos(torch.arange(length, device=seq.device))[None]
            x = self.drop(x) * (seq > 0).unsqueeze(-1)  # padding stays zero (the paper's timeline mask)
            causal = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
            h = self.encoder(x, mask=causal, src_key_padding_mask=None)
            return self.norm(h)

    return Net()


@register
class SASRec(BaseRecommender):
    name = "sasrec"
    supports_sessions = True
    _user_state = ("user_vectors_",)
    _params = (
        "max_len",
        "hidden",
        "blocks",
        "heads",
        "dropout",
        "epochs",
        "patience",
        "batch_size",
        "learning_rate",
        "max_seconds",
        "full_softmax_items",
        "n_negatives",
        "val_users",
        "merge_repeats",
        "random_state",
    )

    def __init__(
        self,
        max_len: int = 50,
        hidden: int = 64,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        epochs: int = 200,
        patience: int = 5,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        max_seconds: float = 600.0,
        full_softmax_items: int = 20_000,
        n_negatives: int = 1024,
        val_users: int = 2000,
        merge_repeats: bool = False,
        random_state: int = 0,
    ) -> None:
        self.max_len = max_len
        self.hidden = hidden
        self.blocks = blocks
        self.heads = heads
        self.dropout = dropout
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_seconds = max_seconds
        self.full_softmax_items = full_softmax_items
        self.n_negatives = n_negatives
        self.val_users = val_users
        self.merge_repeats = merge_repeats
        self.random_state = random_state

    # -- training ----------------------------------------------------------------------------------
    def _sequences(self, data: Interactions, length: int) -> np.ndarray:
        """(n_users, length) left-padded item ids + 1 (0 is padding)."""
        return data.sequences(length, self.merge_repeats) + 1

    def _loss(self, torch, net, batch, n_items: int, rng: np.random.Generator):  # noqa: ANN001, ANN202
        inp, pos = batch[:, :-1], batch[:, 1:]
        h = net(inp)
        mask = pos > 0
        hs, target = h[mask], pos[mask]
        if n_items <= self.full_softmax_items:
            return torch.nn.functional.cross_entropy(hs @ net.items.weight[1:].T, target - 1)
        # sampled softmax: the target against `n_negatives` items shared by the batch; a negative that is
        # the target itself is masked out
        neg = torch.from_numpy(rng.integers(1, n_items + 1, size=self.n_negatives))
        pos_logit = (hs * net.items(target)).sum(-1, keepdim=True)
        neg_logit = hs @ net.items(neg).T
        neg_logit = neg_logit.masked_fill(neg[None, :] == target[:, None], float("-inf"))
        logits = torch.cat([pos_logit, neg_logit], dim=1)
        return torch.nn.functional.cross_entropy(logits, torch.zeros(len(target), dtype=torch.long))

    def _validation_ndcg(self, torch, net, inputs: np.ndarray, targets: np.ndarray) -> float:  # noqa: ANN001
        """NDCG@10 of each held-out item in a full ranking of the catalogue."""
        net.eval()
        total = 0.0
        with torch.no_grad():
            items = net.items.weight[1:]
            for b in range(0, len(inputs), 256):
                h = net(torch.from_numpy(inputs[b : b + 256]))[:, -1]
                t = targets[b : b + 256] - 1
                total += heldout_ndcg((h @ items.T).numpy(), t) * len(t)
        net.train()
        return total / max(len(inputs), 1)

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        torch = _torch()
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        n_items = interactions.n_items
        full = self._sequences(interactions, self.max_len + 1)
        lengths = (full > 0).sum(axis=1)
        # validation tail: the last item of customers with at least three; the rest of their sequence trains
        val_rows = np.flatnonzero(lengths >= 3)
        if len(val_rows) > self.val_users:
            val_rows = np.sort(rng.choice(val_rows, self.val_users, replace=False))
        train = full.copy()
        holdout = np.zeros(len(full), dtype=bool)
        holdout[val_rows] = True
        train[holdout] = np.c_[np.zeros((int(holdout.sum()), 1), dtype=np.int64), full[holdout][:, :-1]]
        val_inputs, val_targets = train[val_rows][:, 1:], full[val_rows][:, -1]
        trainable = train[(train > 0).sum(axis=1) >= 2]
        net = _network(n_items, self.max_len, self.hidden, self.blocks, self.heads, self.dropout)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate, betas=(0.9, 0.98))
        start = time.perf_counter()
        net.train()
        best, best_state, since = -1.0, None, 0
        self.epochs_run_, self.validation_history_ = 0, []
        self.stopped_by_ = "epochs"
        for _ in range(self.epochs):
            perm = rng.permutation(len(trainable))
            out_of_time = False
            for b in range(0, len(perm), self.batch_size):
                batch = torch.from_numpy(trainable[perm[b : b + self.batch_size]])
                loss = self._loss(torch, net, batch, n_items, rng)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if time.perf_counter() - start > self.max_seconds:  # the budget holds inside an epoch too
                    out_of_time = True
                    break
            self.epochs_run_ += 1
            score = self._validation_ndcg(torch, net, val_inputs, val_targets) if len(val_rows) else 0.0
            self.validation_history_.append(round(score, 5))
            if score > best:
                best, since = score, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                since += 1
            if len(val_rows) and since >= self.patience:
                self.stopped_by_ = "validation"
                break
            if out_of_time:
                self.stopped_by_ = "time budget"
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.best_epoch_ = int(np.argmax(self.validation_history_)) + 1 if self.validation_history_ else 0
        self.validation_ndcg_ = best if len(val_rows) else None
        log.info(
            "sasrec: %d epochs (%s), best epoch %d, validation NDCG@10 %s",
            self.epochs_run_,
            self.stopped_by_,
            self.best_epoch_,
            self.validation_ndcg_,
        )
        net.eval()
        self._net = net
        self.item_vectors_ = net.items.weight[1:].detach().numpy().copy()
        self.user_vectors_ = self._encode(full[:, 1:])
        self.weights_ = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}

    def _encode(self, seqs: np.ndarray) -> np.ndarray:
        """Hidden state after the last position of each (left-padded, ids + 1) sequence; 0 for empty ones."""
        torch = _torch()
        net = self._network()
        with torch.no_grad():
            h = [net(torch.from_numpy(seqs[b : b + 512]))[:, -1].numpy() for b in range(0, len(seqs), 512)]
        out = np.vstack(h).astype(np.float32) if h else np.zeros((0, self.hidden), dtype=np.float32)
        out[(seqs > 0).sum(axis=1) == 0] = 0.0
        return out

    def _network(self):  # noqa: ANN202
        """The torch network, rebuilt from the saved weights the first time a loaded model needs it."""
        net = getattr(self, "_net", None)
        if net is None:
            torch = _torch()
            n_items = len(self.items_)
            net = _network(n_items, self.max_len, self.hidden, self.blocks, self.heads, self.dropout)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.weights_.items()})
            net.eval()
            self._net = net
        return net

    # -- scoring -----------------------------------------------------------------------------------
    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_vectors_[user_idx] @ self.item_vectors_.T

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        seqs = np.zeros((len(sessions), self.max_len), dtype=np.int64)
        for r, s in enumerate(sessions):
            tail = s[-self.max_len :] + 1
            if len(tail):
                seqs[r, -len(tail) :] = tail
        return self._encode(seqs) @ self.item_vectors_.T

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        f = self.item_vectors_
        n = np.linalg.norm(f, axis=1) + 1e-9
        return (f[item_idx] @ f.T) / (n[item_idx, None] * n[None, :])

    # -- persistence -------------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        return {
            "user_vectors_": self.user_vectors_,
            "item_vectors_": self.item_vectors_,
            **{f"net__{k}": v for k, v in self.weights_.items()},
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        self.user_vectors_ = arrays["user_vectors_"]
        self.item_vectors_ = arrays["item_vectors_"]
        self.weights_ = {k.removeprefix("net__"): v for k, v in arrays.items() if k.startswith("net__")}
        self.epochs_run_ = extra.get("epochs_run")
        self.best_epoch_ = extra.get("best_epoch")
        self.validation_ndcg_ = extra.get("validation_ndcg@10")
        self.stopped_by_ = extra.get("stopped_by")

    def _extra(self) -> dict:
        return {
            "epochs_run": self.epochs_run_,
            "best_epoch": self.best_epoch_,
            "validation_ndcg@10": self.validation_ndcg_,
            "stopped_by": self.stopped_by_,
        }


@register
class SessionSASRec(SASRec):
    """SASRec trained on sessions (a visit's events) instead of customers' whole histories: what ranks
    products for an anonymous visitor from the events of their live session. A class of its own so that
    the registry keeps it apart from the customer model; sessions are short, so 20 items of history."""

    name = "sasrec-session"

    def __init__(self, max_len: int = 20, batch_size: int = 256, merge_repeats: bool = True, **params: object) -> None:
        super().__init__(max_len=max_len, batch_size=batch_size, merge_repeats=merge_repeats, **params)  # type: ignore[arg-type]
