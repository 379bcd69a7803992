"""The Screener port's implementation over list files: one Matcher and one WalletScreener, built once.

`list_version` is the id of a stored list version (`update-lists` writes it in the version's manifest) or else a
digest of the list files read, so a service can tell when lists changed and re-screen; every screening record
carries it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from bauhinia.adapters.screening.lists import current_lists_dir, load_lists, load_ofac_addresses, stored_version
from bauhinia.adapters.screening.matcher import Matcher, Query
from bauhinia.adapters.screening.wallets import WalletScreener, load_blacklist
from bauhinia.domain.compliance import PartySchema, ScreeningHit, Transfer, WalletAssessment


def lists_digest(directory: Path | None, extra: Iterable[Path] = ()) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory and directory.is_dir() else []
    for path in [*files, *extra]:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


class ListScreener:
    """Names against sanctions/PEP lists, wallets against listed and blacklisted addresses."""

    def __init__(self, lists_dir: Path | None = None, blacklist: Path | None = None,
                 extra_files: Iterable[Path] = ()) -> None:
        directory = lists_dir if lists_dir is not None else current_lists_dir()
        extra = list(extra_files)
        self.lists_dir = directory
        self.matcher = Matcher(load_lists(directory, extra))
        has_sdn = any(directory.glob("*sdn*.csv")) or any(directory.glob("*sdn*.csv.gz"))
        ofac = load_ofac_addresses(directory) if has_sdn else []
        self.wallets = WalletScreener(ofac, load_blacklist(blacklist) if blacklist is not None else None)
        others = [*extra, *([blacklist] if blacklist else [])]
        version = stored_version(directory)
        if version is None:
            self.list_version = lists_digest(directory, others)
        elif others:
            self.list_version = f"{version[:40]}+{lists_digest(None, others)}"
        else:
            self.list_version = version

    def screen_name(self, name: str, schema: PartySchema | None = None, date_of_birth: str = "",
                    nationality: str = "", limit: int = 5) -> tuple[ScreeningHit, ...]:
        return self.matcher.screen(Query(name, schema, date_of_birth, nationality), limit=limit)

    def screen_wallet(self, address: str, transfers: Iterable[Transfer] = ()) -> WalletAssessment:
        return self.wallets.screen(address, transfers)
