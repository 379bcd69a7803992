"""The only place that chooses concrete adapters from configuration and wires them into services."""

from __future__ import annotations

from bauhinia.config import Settings


def load_settings() -> Settings:
    return Settings()
