"""A route class for the hottest read routes: FastAPI's declaration, a shorter path at request time.

FastAPI's request handler solves every route's dependency graph in general form (sub-dependency
caches, exit stacks, background tasks, response header merging, each kind of parameter). For a route
whose only dependency is the key check and whose only parameters are path parameters (plus the
``Request``), that machinery cost about 100 microseconds per request, half of a recommendation request
in-process. :class:`LeanRoute` keeps the route exactly as declared (the OpenAPI document, the key scope,
the path parameter constraints and their error shape all come from the same declaration) and, for routes
of that shape, answers with a handler that does only those three things: check the key and its scope,
validate the path parameters with FastAPI's own field validators, call the endpoint. Routes of any other shape
get FastAPI's handler unchanged, so using the class is always safe. (One difference: the key check of a
lean route does not consult ``app.dependency_overrides``; nothing in MarketLoop overrides it.)

No library offers this: FastAPI has no switch for it and Starlette routes carry no OpenAPI declaration.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from marketloop.service.auth import SCOPE_ATTRIBUTE, authorize


def _lean_shape(route: APIRoute) -> tuple[str, str] | None:
    """(scope, name of the principal parameter) when `route` has the lean shape, else None."""
    dependant = route.dependant
    if (
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or len(dependant.dependencies) != 1
        or route.body_field is not None
    ):
        return None
    dependency = dependant.dependencies[0]
    scope = getattr(dependency.call, SCOPE_ATTRIBUTE, None)
    if scope is None or dependency.dependencies or not dependency.name:
        return None
    names = set(inspect.signature(route.endpoint).parameters)
    declared = (
        {field.name for field in dependant.path_params}
        | {dependency.name}
        | ({dependant.request_param_name} if dependant.request_param_name else set())
    )
    if names != declared:
        return None  # a parameter FastAPI would supply that this handler does not (background tasks, ...)
    return scope, dependency.name


class LeanRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` answering lean-shaped routes without the dependency solver.

    The endpoint must return a :class:`~starlette.responses.Response` (it is not serialised again)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        shape = _lean_shape(self)
        if shape is None:
            return super().get_route_handler()
        scope, principal_name = shape
        path_fields = list(self.dependant.path_params)
        request_name = self.dependant.request_param_name
        endpoint = self.endpoint
        is_async = inspect.iscoroutinefunction(endpoint)

        async def handler(request: Request) -> Response:
            kwargs: dict[str, Any] = {principal_name: await authorize(request, scope)}
            errors: list[Any] = []
            for field in path_fields:  # always present once the route matched: FastAPI's field validator directly
                value, field_errors = field.validate(
                    request.path_params[field.alias], kwargs, loc=("path", field.alias)
                )
                if field_errors:
                    errors.extend(field_errors)
                else:
                    kwargs[field.name] = value
            if errors:
                raise RequestValidationError(errors)
            if request_name:
                kwargs[request_name] = request
            response = await endpoint(**kwargs) if is_async else await run_in_threadpool(endpoint, **kwargs)
            if not isinstance(response, Response):
                raise TypeError(f"{endpoint.__qualname__} must return a Response on a LeanRoute")
            return response

        return handler
