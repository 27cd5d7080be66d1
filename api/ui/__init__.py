"""The dashboard: server-rendered pages at ``/ui`` with inline SVG charts, served by the API process."""

from api.ui.routes import router

__all__ = ["router"]
