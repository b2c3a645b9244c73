"""The HTTP service: API v1 (FastAPI), API keys with roles, and the dashboard.

Start it with ``marketloop serve``. ``create_app`` builds the application for a store URL; the routes
under ``routes/`` are thin: they validate the request, call the capability modules and shape the answer.
"""
