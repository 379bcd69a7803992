"""Fetch the sanctions lists from their publishers, verify them, store them as a new dated version.

`update_lists` downloads every configured source over HTTPS (plain HTTP only to a loopback address, for tests)
with a timeout and a size bound, parses the download with the ordinary loaders, and refuses it, changing
nothing, when a loader rejects it or when a list's entity count collapsed (below `min_ratio` of the version in
use). A verified download is stored gzipped as `<data dir>/sanctions/<version>/` with a `manifest.json`
(sources, sha256 of each file, entity counts, the previous version) and becomes current: the folder's name is
written to `<data dir>/sanctions/CURRENT`, which `lists.current_lists_dir` follows. The snapshot shipped in the
package is only ever read. The result carries the delta (entities added or changed, listed addresses added)
so the caller can re-screen customers and wallets against it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bauhinia.adapters.screening.lists import (
    CURRENT_POINTER,
    VERSION_MANIFEST,
    ListedAddress,
    fingerprint,
    list_file_exists,
    load_lists,
    load_ofac_addresses,
    read_list_bytes,
    stored_version,
    versions_root,
)
from bauhinia.adapters.screening.matcher import Matcher, Query
from bauhinia.adapters.screening.screener import lists_digest
from bauhinia.adapters.screening.wallets import WalletScreener
from bauhinia.domain.compliance import ListedParty, PartySchema, ScreeningHit, Transfer, WalletAssessment
from bauhinia.domain.errors import RefusedError, ValidationError

download_bytes_max: int = 256 * 1024 * 1024
download_timeout_s: float = 60.0
DEFAULT_MIN_RATIO = 0.9

UN_URL = "https://scsanctions.un.org/resources/xml/en/consolidated.xml"
OFAC_BASE = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports"
OPENSANCTIONS_URL = "https://data.opensanctions.org/datasets/latest/sanctions/entities.ftm.json"


@dataclass(frozen=True, slots=True)
class ListSource:
    """One file to fetch: the name it is stored under (what the loaders look for) and where it comes from."""

    file_name: str
    url: str


DEFAULT_SOURCES: tuple[ListSource, ...] = (
    ListSource("un_consolidated.xml", UN_URL),
    ListSource("ofac_sdn.csv", f"{OFAC_BASE}/SDN.CSV"),
    ListSource("ofac_alt.csv", f"{OFAC_BASE}/ALT.CSV"),
    ListSource("ofac_add.csv", f"{OFAC_BASE}/ADD.CSV"),
    ListSource("ofac_sdn_comments.csv", f"{OFAC_BASE}/SDN_COMMENTS.CSV"),
)
OPENSANCTIONS_SOURCE = ListSource("opensanctions.ftm.json", OPENSANCTIONS_URL)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def sources_from_env(environ: Mapping[str, str], *, opensanctions: bool = False) -> tuple[ListSource, ...]:
    """The default sources, each URL overridable by `BAUHINIA_LIST_URL_<FILE>` (e.g. BAUHINIA_LIST_URL_OFAC_SDN);
    `BAUHINIA_LIST_URL_OPENSANCTIONS` set (or `opensanctions`) adds the OpenSanctions FtM export."""
    env = environ
    chosen = list(DEFAULT_SOURCES)
    if opensanctions or env.get("BAUHINIA_LIST_URL_OPENSANCTIONS"):
        chosen.append(OPENSANCTIONS_SOURCE)
    out = []
    for source in chosen:
        key = "BAUHINIA_LIST_URL_" + source.file_name.split(".")[0].upper()
        out.append(ListSource(source.file_name, env.get(key) or source.url))
    return tuple(out)


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK:
        return  # a local test server
    raise ValidationError(f"list URL {url!r}: only https (or http to a loopback address) is allowed",
                          code="list_url_refused")


def download(url: str, *, timeout_s: float = download_timeout_s, max_bytes: int = download_bytes_max) -> bytes:
    """GET `url` with a timeout and a size bound; any failure is one ValidationError naming the URL."""
    import httpx

    check_url(url)
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True,
                          headers={"User-Agent": "bauhinia-list-update/1"}) as response:
            if response.status_code != 200:
                raise ValidationError(f"{url}: HTTP {response.status_code}", code="list_download_failed")
            if response.url.scheme != "https":
                check_url(str(response.url))  # a redirect may not downgrade to plain HTTP elsewhere
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationError(f"{url}: more than {max_bytes} bytes", code="list_download_failed")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ValidationError(f"{url}: download failed ({type(exc).__name__}: {exc})",
                              code="list_download_failed") from exc
    data = b"".join(chunks)
    if not data:
        raise ValidationError(f"{url}: empty response", code="list_download_failed")
    return data


# ---------------------------------------------------------------------------------------------------------------
# Verification and the delta
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListUpdate:
    version: str  # the new version id ("" when nothing changed)
    previous_version: str
    directory: Path | None  # the stored version folder (None when nothing changed)
    counts: dict[str, int]  # entities per source (UN, OFAC, OpenSanctions) in the download
    previous_counts: dict[str, int]
    added: tuple[ListedParty, ...]
    changed: tuple[ListedParty, ...]
    removed: int
    added_addresses: tuple[ListedAddress, ...]

    @property
    def unchanged(self) -> bool:
        return self.directory is None

    @property
    def delta(self) -> tuple[ListedParty, ...]:
        return (*self.added, *self.changed)


def _counts(parties: Sequence[ListedParty]) -> dict[str, int]:
    return dict(sorted(Counter(p.source for p in parties).items()))


def check_not_collapsed(counts: Mapping[str, int], previous: Mapping[str, int], min_ratio: float) -> None:
    """Every list of the version in use is still there with at least `min_ratio` of its entities."""
    total, previous_total = sum(counts.values()), sum(previous.values())
    for source, before in previous.items():
        now = counts.get(source, 0)
        if before and now < before * min_ratio:
            raise RefusedError(
                f"refused the downloaded lists: {source} has {now} entities, below {min_ratio:.0%} of the "
                f"{before} in the version in use; nothing changed", code="list_collapsed")
    if previous_total and total < previous_total * min_ratio:
        raise RefusedError(f"refused the downloaded lists: {total} entities, below {min_ratio:.0%} of the "
                           f"{previous_total} in the version in use; nothing changed", code="list_collapsed")


def _addresses(directory: Path) -> list[ListedAddress]:
    if list_file_exists(directory / "ofac_sdn.csv") or list_file_exists(directory / "ofac_sdn_comments.csv"):
        return load_ofac_addresses(directory)
    return []


def _version_name(now: datetime, digest: str) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest[:12]}"


def _content_digest(files: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def _plain_digests(directory: Path, names: Sequence[str]) -> dict[str, str]:
    out = {}
    for name in names:
        if list_file_exists(directory / name):
            out[name] = hashlib.sha256(read_list_bytes(directory / name)).hexdigest()
    return out


def _write_current(root: Path, name: str) -> None:
    tmp = root / f".{CURRENT_POINTER}.{uuid.uuid4().hex}"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, root / CURRENT_POINTER)


def update_lists(
    data_dir: Path,
    previous_dir: Path,
    sources: Sequence[ListSource] = DEFAULT_SOURCES,
    *,
    now: datetime,
    min_ratio: float = DEFAULT_MIN_RATIO,
    timeout_s: float = download_timeout_s,
) -> ListUpdate:
    """Download, verify, store and make current (see the module docstring). Raises, changing nothing, when a
    download fails, a file does not parse, or a list collapsed."""
    if not sources:
        raise ValidationError("no list sources configured", code="list_sources_missing")
    if not 0 < min_ratio <= 1:
        raise ValidationError(f"min ratio must be in (0, 1], got {min_ratio}")
    for source in sources:
        check_url(source.url)
    previous = load_lists(previous_dir)
    previous_version = stored_version(previous_dir) or lists_digest(previous_dir)  # what screenings recorded
    root = versions_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    incoming = root / f".incoming-{uuid.uuid4().hex}"
    incoming.mkdir()
    try:
        files: dict[str, dict[str, object]] = {}
        for source in sources:
            data = download(source.url, timeout_s=timeout_s)
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            (incoming / f"{source.file_name}.gz").write_bytes(packed)
            files[source.file_name] = {"url": source.url, "bytes": len(data),
                                       "sha256": hashlib.sha256(data).hexdigest(),
                                       "sha256_gz": hashlib.sha256(packed).hexdigest()}
        parties = load_lists(incoming)  # refuses a malformed file with its reason
        counts, previous_counts = _counts(parties), _counts(previous)
        check_not_collapsed(counts, previous_counts, min_ratio)
        plain = {name: str(meta["sha256"]) for name, meta in files.items()}
        if plain == _plain_digests(previous_dir, list(plain)):
            shutil.rmtree(incoming)
            return ListUpdate("", previous_version, None, counts, previous_counts, (), (), 0, ())
        before = {p.entity_id: fingerprint(p) for p in previous}
        added = tuple(p for p in parties if p.entity_id not in before)
        changed = tuple(p for p in parties if p.entity_id in before and before[p.entity_id] != fingerprint(p))
        removed = len(before.keys() - {p.entity_id for p in parties})
        old_addresses = {(a.currency, a.address.lower()) for a in _addresses(previous_dir)}
        added_addresses = tuple(a for a in _addresses(incoming) if (a.currency, a.address.lower()) not in old_addresses)
        version = _version_name(now, _content_digest(plain))
        manifest = {
            "version": version, "created_at": now.astimezone(UTC).isoformat(), "previous_version": previous_version,
            "files": files, "entities": counts, "previous_entities": previous_counts,
            "delta": {"added": len(added), "changed": len(changed), "removed": removed,
                      "addresses_added": len(added_addresses)},
        }
        (incoming / VERSION_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        target = root / version
        if target.exists():
            raise ValidationError(f"{target}: version folder already exists", code="list_version_exists")
        os.replace(incoming, target)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    _write_current(root, version)
    return ListUpdate(version, previous_version, target, counts, previous_counts, added, changed, removed,
                      added_addresses)


# ---------------------------------------------------------------------------------------------------------------
# Screening against the delta only
# ---------------------------------------------------------------------------------------------------------------


class DeltaScreener:
    """The Screener port over what an update added or changed: names against the added and changed entities,
    wallets against the newly listed addresses. Its `list_version` is the new version's id."""

    def __init__(self, update: ListUpdate) -> None:
        self.list_version = update.version
        self.matcher = Matcher(list(update.delta)) if update.delta else None
        self.wallets = WalletScreener(update.added_addresses)

    def screen_name(self, name: str, schema: PartySchema | None = None, date_of_birth: str = "",
                    nationality: str = "", limit: int = 5) -> tuple[ScreeningHit, ...]:
        if self.matcher is None:
            return ()
        return self.matcher.screen(Query(name, schema, date_of_birth, nationality), limit=limit)

    def screen_wallet(self, address: str, transfers: Sequence[Transfer] = ()) -> WalletAssessment:
        return self.wallets.screen(address, transfers)
