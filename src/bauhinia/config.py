"""Settings from the environment (prefix BAUHINIA_), with embedded defaults that need no set-up."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAUHINIA_", extra="ignore")

    # Where the embedded SQLite database, keystores and generated files live.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means the embedded SQLite file under data_dir.
    database_url: str = ""
    # Ethereum JSON-RPC URL; empty means the in-process EVM.
    chain_rpc_url: str = ""
    # NATS server for events; empty means the in-process bus.
    nats_url: str = ""

    def sqlite_path(self) -> Path:
        return self.data_dir / "bauhinia.sqlite3"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path()}"
