"""Erasure: ``DELETE /v1/customers/{id}`` removes every row about a customer (``store.privacy.forget``).

The store writes the audit record in the same transaction, naming the customer only by keyed hash and
the actor by API key id. Afterwards the service drops what it holds in memory that may have been built
from the customer's data: the customer's assistant conversations, and every cached object (they are
rebuilt from the store on next use).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from marketloop.service import audit
from marketloop.service.auth import require
from marketloop.service.conversations import ConversationStore
from marketloop.service.keys import Principal
from marketloop.service.routes.content import CONVERSATIONS

router = APIRouter(prefix="/v1", tags=["privacy"])


class ErasureOut(BaseModel):
    customer_ref: str = Field(..., description="The keyed hash naming the customer in the audit log.")
    deleted: dict[str, int] = Field(..., description="Rows deleted per table (tables with none are left out).")
    total: int


@router.delete(
    "/customers/{customer_id}",
    summary="Erase a customer everywhere (admin; audited; cannot be undone)",
    response_model=ErasureOut,
    responses={404: {"description": "no data about this customer"}},
)
def erase_customer(
    request: Request,
    customer_id: str = Path(..., min_length=1, max_length=64),
    principal: Principal = Depends(require("admin")),
) -> ErasureOut:
    from marketloop.store.privacy import forget

    state = request.app.state.ml
    result = forget(state.store, customer_id, key=state.settings.pii_key(), actor=audit.actor_name(principal))
    state.cached(CONVERSATIONS, ConversationStore).forget_customer(customer_id)
    state.invalidate_all(keep=("worker", CONVERSATIONS))
    return ErasureOut(
        customer_ref=result.customer_ref, deleted={k: v for k, v in result.deleted.items() if v}, total=result.total
    )
