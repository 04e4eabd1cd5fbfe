"""The HTTP server: API, web console and continuous scoring (``nhiwatch serve``; needs the ``server`` extra).

:func:`nhiwatch.server.app.create_app` builds the FastAPI application over one store.
"""
