"""The bare FastAPI baseline of bench/serve.py: one route returning a small JSON document, no middleware, no
authentication, served by the same uvicorn settings (workers, event loop) as `marketloop serve`."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict:
    return {"status": "ok"}
