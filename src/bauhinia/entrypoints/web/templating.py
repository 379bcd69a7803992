"""Jinja2 templates of the console and the transparency page (autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/web-static"

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["static"] = STATIC_PREFIX
templates.env.globals["product"] = "Bauhinia"

# Pages are never framed (no clickjacking of the approve buttons), load scripts and styles only from this origin,
# post forms only here, and are not cached (they show customer data).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(request: Any, name: str, context: dict[str, Any], status_code: int = 200) -> Any:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
