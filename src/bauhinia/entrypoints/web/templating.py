"""Jinja2 templates of the console and the transparency page (autoescaped)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/web-static"

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["static"] = STATIC_PREFIX
templates.env.globals["product"] = "Bauhinia"
