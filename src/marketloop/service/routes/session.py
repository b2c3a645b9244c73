"""Who am I, and the dashboard's log in / log out (a signed cookie naming the key id)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from marketloop.service.auth import SESSION_COOKIE, SESSION_SECONDS, authenticated, session_token
from marketloop.service.errors import ApiError
from marketloop.service.keys import Principal

router = APIRouter(prefix="/v1", tags=["session"])


class PrincipalOut(BaseModel):
    key_id: str
    name: str
    role: str
    scopes: list[str]


def _out(p: Principal) -> PrincipalOut:
    return PrincipalOut(key_id=p.key_id, name=p.name, role=p.role, scopes=sorted(p.scopes))


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(
        ..., min_length=1, max_length=200, description="An API key, as printed by `marketloop keys create`."
    )


@router.get("/me", summary="The key making this request", response_model=PrincipalOut)
def me(principal: Principal = Depends(authenticated)) -> PrincipalOut:
    return _out(principal)


@router.post(
    "/session",
    summary="Log in to the dashboard with an API key (sets a session cookie)",
    response_model=PrincipalOut,
    responses={401: {"description": "invalid key"}},
)
def login(body: LoginIn, request: Request, response: Response) -> PrincipalOut:
    state = request.app.state.ml
    principal = state.verifier.verify(body.key.strip())
    if principal is None:
        raise ApiError(
            401,
            "unauthorized",
            "the API key is not valid (unknown, malformed or revoked)",
            field="key",
            hint="Create a key with `marketloop keys create NAME --role marketer`.",
        )
    response.set_cookie(
        SESSION_COOKIE,
        session_token(state.session_secret, principal.key_id),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _out(principal)


@router.delete("/session", summary="Log out of the dashboard", status_code=204)
def logout(response: Response, _: Principal = Depends(authenticated)) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response
