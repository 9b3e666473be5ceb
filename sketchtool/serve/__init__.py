"""`sketchtool serve`: a local web page where you draw and a model finishes the drawing. `catalog` loads the
models once, `api` checks requests and calls the library, `app` is the guarded ASGI app, `static/` the page."""

__all__ = ["catalog", "api", "app"]
