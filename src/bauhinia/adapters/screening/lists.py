"""Sanctions list loaders: UN consolidated list (XML), OFAC SDN legacy CSV set, OpenSanctions FollowTheMoney JSON.

Each loader returns `ListedParty` records and refuses a malformed file with a `ValidationError` that names the
file and the reason. Loaders read whole files (bounded by `list_file_bytes_max`); a file may be stored gzipped
(`name.gz`), which is read transparently wherever the plain `name` is expected.

The lists the package ships (`bauhinia/data/sanctions`, see its README for provenance) are the default.
`bauhinia screening update-lists` stores newer verified versions under `<data dir>/sanctions/<version>/` and
names the one in use in `<data dir>/sanctions/CURRENT`; `current_lists_dir` resolves which folder to read.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bauhinia.domain.compliance import ListedParty, PartySchema
from bauhinia.domain.errors import ValidationError

list_file_bytes_max: int = 512 * 1024 * 1024
list_entities_max: int = 2_000_000

# The snapshot shipped inside the package (never written to: updates go to the data dir).
SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "data" / "sanctions"
DEFAULT_LISTS_DIR = SNAPSHOT_DIR
CURRENT_POINTER = "CURRENT"
VERSION_MANIFEST = "manifest.json"

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_DOB = re.compile(r"\bDOB (?:circa )?(?:(\d{1,2}) )?(?:([A-Za-z]{3}) )?(\d{4})(?: to (\d{4}))?")
_NATIONALITY = re.compile(r"\b(?:nationality|citizen) ([A-Za-z ,.'()-]+?)(?:;|\.$|$)")
_WALLET = re.compile(r"Digital Currency Address - ([A-Z0-9]+)\s+([A-Za-z0-9]+)")
_AKA = re.compile(r"a\.k\.a\. '([^']+)'")


def fingerprint(party: ListedParty) -> str:
    """Changes whenever the listed record's names, dates of birth or nationalities change."""
    payload = json.dumps([party.names, party.dates_of_birth, party.nationalities], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def versions_root(data_dir: Path) -> Path:
    """Where updated list versions are stored: `<data dir>/sanctions`."""
    return data_dir / "sanctions"


def current_lists_dir(data_dir: Path | None = None, sanctions_dir: Path | None = None) -> Path:
    """The folder screening reads: `sanctions_dir` (BAUHINIA_SANCTIONS_DIR) when set, else the version named by
    `<data dir>/sanctions/CURRENT` (written by `update-lists`), else the snapshot shipped in the package."""
    if sanctions_dir is not None and str(sanctions_dir):
        return Path(sanctions_dir)
    if data_dir is None:
        data_dir = Path("var")
    pointer = versions_root(data_dir) / CURRENT_POINTER
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        candidate = versions_root(data_dir) / name
        if name and "/" not in name and name not in (".", "..") and candidate.is_dir():
            return candidate
    return SNAPSHOT_DIR


def stored_version(directory: Path) -> str | None:
    """The version id recorded in a stored version folder's manifest (None for a plain folder of lists)."""
    manifest = directory / VERSION_MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return str(version)[:64] if version else None


def resolve_list_file(path: Path) -> Path:
    """`path` itself, or its gzipped copy `path.gz` when only that exists."""
    if path.is_file() or path.suffix == ".gz":
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else path


def list_file_exists(path: Path) -> bool:
    return resolve_list_file(path).is_file()


def _glob_lists(directory: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` or `pattern.gz` (a plain file wins over its gzipped twin)."""
    found = {p.name: p for p in directory.glob(pattern + ".gz")}
    for p in directory.glob(pattern):
        found.pop(p.name + ".gz", None)
        found[p.name] = p
    return [found[name] for name in sorted(found)]


def _plain_name(path: Path) -> str:
    return path.name[: -len(".gz")] if path.name.endswith(".gz") else path.name


def _read_bytes(path: Path) -> bytes:
    path = resolve_list_file(path)
    if not path.is_file():
        raise ValidationError(f"{path}: list file not found", code="list_file_missing")
    size = path.stat().st_size
    if size > list_file_bytes_max:
        raise ValidationError(f"{path}: {size} bytes is more than the {list_file_bytes_max} allowed")
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read(list_file_bytes_max + 1)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ValidationError(f"{path}: not a readable gzip file ({exc})", code="list_malformed") from exc
        if len(data) > list_file_bytes_max:
            raise ValidationError(f"{path}: more than {list_file_bytes_max} bytes once decompressed")
        return data
    return path.read_bytes()


def read_list_bytes(path: Path) -> bytes:
    """A list file's bytes, decompressed when it is stored as `.gz` (bounded like every loader's read)."""
    return _read_bytes(path)


def _text(path: Path) -> str:
    data = _read_bytes(path).rstrip(b"\x1a")  # OFAC files end with a DOS end-of-file mark
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ---------------------------------------------------------------------------------------------------------------
# UN consolidated list
# ---------------------------------------------------------------------------------------------------------------


def _child_text(elem: object, tag: str) -> str:
    found = elem.find(tag)  # type: ignore[attr-defined]
    return (found.text or "").strip() if found is not None and found.text else ""


def load_un_xml(path: Path) -> list[ListedParty]:
    """The UN Security Council consolidated list as the UN publishes it (CONSOLIDATED_LIST XML)."""
    try:
        root = SafeET.fromstring(_read_bytes(path))
    except DefusedXmlException as exc:
        raise ValidationError(f"{path}: refused unsafe XML ({type(exc).__name__})", code="list_malformed") from exc
    except SafeET.ParseError as exc:
        raise ValidationError(f"{path}: not well-formed XML ({exc})", code="list_malformed") from exc
    if root.tag != "CONSOLIDATED_LIST":
        raise ValidationError(f"{path}: root element is <{root.tag}>, expected <CONSOLIDATED_LIST>",
                              code="list_malformed")
    parties: list[ParsedParty] = []
    for kind, schema in (("INDIVIDUAL", PartySchema.PERSON), ("ENTITY", PartySchema.COMPANY)):
        for elem in root.iter(kind):
            dataid = _child_text(elem, "DATAID")
            if not dataid:
                raise ValidationError(f"{path}: an <{kind}> has no DATAID", code="list_malformed")
            parts = [_child_text(elem, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
            names = [" ".join(p for p in parts if p)]
            original = _child_text(elem, "NAME_ORIGINAL_SCRIPT")
            if original:
                names.append(original)
            for alias in elem.iter(f"{kind}_ALIAS"):
                alias_name = _child_text(alias, "ALIAS_NAME")
                if alias_name:
                    names.append(alias_name)
            names = _dedupe(n for n in names if n)
            if not names:
                raise ValidationError(f"{path}: {kind.lower()} {dataid} has no name", code="list_malformed")
            dobs: list[str] = []
            for dob in elem.iter("INDIVIDUAL_DATE_OF_BIRTH"):
                date = _child_text(dob, "DATE")
                year = _child_text(dob, "YEAR")
                if date:
                    dobs.append(date[:10])
                elif year:
                    dobs.append(year)
                for bound in ("FROM_YEAR", "TO_YEAR"):
                    if _child_text(dob, bound):
                        dobs.append(_child_text(dob, bound))
            nationalities = [
                (v.text or "").strip() for n in elem.iter("NATIONALITY") for v in n.iter("VALUE") if v.text
            ]
            program = _child_text(elem, "UN_LIST_TYPE")
            parties.append(
                ParsedParty(f"un-{dataid}", "UN", schema, names, dobs, nationalities, [program] if program else [])
            )
    if not parties:
        raise ValidationError(f"{path}: no INDIVIDUAL or ENTITY records", code="list_malformed")
    return [p.freeze() for p in parties]


# ---------------------------------------------------------------------------------------------------------------
# OFAC SDN legacy CSV (sdn.csv, alt.csv, add.csv, sdn_comments.csv)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ParsedParty:
    entity_id: str
    source: str
    schema: PartySchema
    names: list[str]
    dates_of_birth: list[str]
    nationalities: list[str]
    programs: list[str]
    wallets: list[tuple[str, str]] | None = None

    def freeze(self) -> ListedParty:
        party = ListedParty(
            entity_id=self.entity_id,
            source=self.source,
            schema=self.schema,
            names=tuple(_dedupe(self.names)),
            dates_of_birth=tuple(_dedupe(self.dates_of_birth)),
            nationalities=tuple(_dedupe(self.nationalities)),
            programs=tuple(_dedupe(self.programs)),
            wallet_addresses=tuple(dict.fromkeys(self.wallets or [])),
        )
        party.check_invariants()
        return party


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def _cell(value: str) -> str:
    value = value.strip()
    return "" if value == "-0-" else value


def _csv_rows(path: Path, width: int) -> list[list[str]]:
    text = _text(path)
    rows = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            raise ValidationError(
                f"{path}: line {lineno} has {len(row)} columns, the OFAC legacy format has {width}",
                code="list_malformed",
            )
        if not row[0].strip().isdigit():
            raise ValidationError(f"{path}: line {lineno} has entity number {row[0]!r}, expected digits",
                                  code="list_malformed")
        rows.append(row)
        if len(rows) > list_entities_max:
            raise ValidationError(f"{path}: more than {list_entities_max} rows")
    if not rows:
        raise ValidationError(f"{path}: no rows", code="list_malformed")
    return rows


def _ofac_name(raw: str, schema: PartySchema) -> str:
    """OFAC writes people "LAST, First": keep both parts (order does not matter to the matcher)."""
    if schema is PartySchema.PERSON and "," in raw:
        last, _, first = raw.partition(",")
        return f"{first.strip()} {last.strip()}".strip()
    return raw.strip()


def _parse_remarks(remarks: str) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    dobs: list[str] = []
    for day, month, year, _to in _DOB.findall(remarks):
        if day and month and month.lower() in _MONTHS:
            dobs.append(f"{year}-{_MONTHS[month.lower()]:02d}-{int(day):02d}")
        else:
            dobs.append(year)
    nationalities = [n.strip() for n in _NATIONALITY.findall(remarks)]
    akas = _AKA.findall(remarks)
    wallets = [(cur, addr) for cur, addr in _WALLET.findall(remarks)]
    return dobs, nationalities, akas, wallets


def load_ofac_csv(directory: Path, prefix: str = "ofac_") -> list[ListedParty]:
    """OFAC SDN legacy CSV files `<prefix>sdn.csv` (required), `alt`, `add` and `sdn_comments` (optional)."""
    sdn_path = directory / f"{prefix}sdn.csv"
    parties: dict[str, ParsedParty] = {}
    remarks_by_id: dict[str, str] = {}
    for row in _csv_rows(sdn_path, 12):
        ent = row[0].strip()
        name = _cell(row[1])
        if not name:
            raise ValidationError(f"{sdn_path}: entry {ent} has no name", code="list_malformed")
        kind = _cell(row[2]).lower()
        schema = {"individual": PartySchema.PERSON, "vessel": PartySchema.VESSEL,
                  "aircraft": PartySchema.AIRCRAFT}.get(kind, PartySchema.COMPANY)
        program = _cell(row[3])
        parties[ent] = ParsedParty(f"ofac-{ent}", "OFAC", schema, [_ofac_name(name, schema)], [], [],
                                   [program] if program else [], [])
        remarks_by_id[ent] = _cell(row[11])
    alt_path = directory / f"{prefix}alt.csv"
    if list_file_exists(alt_path):
        for row in _csv_rows(alt_path, 5):
            party = parties.get(row[0].strip())
            alias = _cell(row[3])
            if party is not None and alias:
                party.names.append(_ofac_name(alias, party.schema))
    comments_path = directory / f"{prefix}sdn_comments.csv"
    if list_file_exists(comments_path):
        for row in _csv_rows(comments_path, 2):
            ent = row[0].strip()
            if ent in remarks_by_id:
                remarks_by_id[ent] += row[1]  # the remarks continue where sdn.csv cut them
    add_path = directory / f"{prefix}add.csv"
    if list_file_exists(add_path):
        _csv_rows(add_path, 6)  # addresses are not used for matching yet, but the file must be well-formed
    for ent, remarks in remarks_by_id.items():
        party = parties[ent]
        dobs, nationalities, akas, wallets = _parse_remarks(remarks)
        party.dates_of_birth.extend(dobs)
        party.nationalities.extend(nationalities)
        party.names.extend(_ofac_name(a, party.schema) for a in akas)
        party.wallets = wallets
    return [p.freeze() for p in parties.values()]


# ---------------------------------------------------------------------------------------------------------------
# OpenSanctions FollowTheMoney JSON (one entity per line)
# ---------------------------------------------------------------------------------------------------------------

_FTM_SCHEMAS = {
    "Person": PartySchema.PERSON, "Company": PartySchema.COMPANY, "Organization": PartySchema.COMPANY,
    "LegalEntity": PartySchema.OTHER, "Vessel": PartySchema.VESSEL, "Airplane": PartySchema.AIRCRAFT,
}


def load_ftm_json(path: Path, source: str = "OpenSanctions") -> list[ListedParty]:
    """FollowTheMoney entities, one JSON object per line; non-party schemata (Address, Sanction...) are skipped."""
    parties: list[ListedParty] = []
    for lineno, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path}: line {lineno} is not JSON ({exc.msg})", code="list_malformed") from exc
        if not isinstance(obj, dict) or "id" not in obj or "schema" not in obj:
            raise ValidationError(f"{path}: line {lineno} is not a FollowTheMoney entity (needs id and schema)",
                                  code="list_malformed")
        props = obj.get("properties", {})
        if not isinstance(props, dict) or not all(isinstance(v, list) for v in props.values()):
            raise ValidationError(f"{path}: line {lineno}: properties must map names to lists",
                                  code="list_malformed")
        schema = _FTM_SCHEMAS.get(str(obj["schema"]))
        if schema is None:
            continue
        names = [str(n) for key in ("name", "alias", "weakAlias", "previousName") for n in props.get(key, [])]
        if not names:
            raise ValidationError(f"{path}: line {lineno}: entity {obj['id']} has no name", code="list_malformed")
        wallets = [("ETH", str(a)) for a in props.get("cryptoWallets", []) if str(a).lower().startswith("0x")]
        parties.append(
            ParsedParty(
                entity_id=f"ftm-{obj['id']}",
                source=source,
                schema=schema,
                names=names,
                dates_of_birth=[str(d) for d in props.get("birthDate", [])],
                nationalities=[str(c) for c in props.get("nationality", []) + props.get("citizenship", [])],
                programs=[str(p) for p in props.get("program", []) + props.get("topics", [])],
                wallets=wallets,
            ).freeze()
        )
        if len(parties) > list_entities_max:
            raise ValidationError(f"{path}: more than {list_entities_max} entities")
    if not parties:
        raise ValidationError(f"{path}: no Person, Company or other party entities", code="list_malformed")
    return parties


def load_lists(directory: Path | None = None, extra_files: Iterable[Path] = ()) -> list[ListedParty]:
    """Every list found in `directory` (UN XML, OFAC CSV set, *.ftm.json / *.jsonl) plus `extra_files`."""
    directory = directory if directory is not None else DEFAULT_LISTS_DIR
    if not directory.is_dir():
        raise ValidationError(f"{directory}: sanctions list folder not found", code="list_file_missing")
    parties: list[ListedParty] = []
    for xml in _glob_lists(directory, "*.xml"):
        parties.extend(load_un_xml(xml))
    for sdn in _glob_lists(directory, "*sdn.csv"):
        parties.extend(load_ofac_csv(directory, prefix=_plain_name(sdn)[: -len("sdn.csv")]))
    for ftm in sorted([*_glob_lists(directory, "*.ftm.json"), *_glob_lists(directory, "*.jsonl")]):
        parties.extend(load_ftm_json(ftm))
    for extra in extra_files:
        if _plain_name(extra).endswith(".xml"):
            parties.extend(load_un_xml(extra))
        else:
            parties.extend(load_ftm_json(extra))
    if not parties:
        raise ValidationError(f"{directory}: no sanctions lists found", code="list_file_missing")
    return parties


# ---------------------------------------------------------------------------------------------------------------
# Digital-currency addresses (wallet screening)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedAddress:
    entity_id: str
    currency: str  # OFAC ticker: ETH, XBT, USDT, TRX...
    address: str


def load_ofac_addresses(directory: Path, prefix: str = "ofac_") -> list[ListedAddress]:
    """Every "Digital Currency Address - <TICKER> <address>" in the SDN remarks and the remarks continuation file.

    The continuation file may name entries a given sdn.csv snapshot lacks: their addresses are kept all the same.
    """
    remarks: dict[str, str] = {}
    sdn_path = directory / f"{prefix}sdn.csv"
    if list_file_exists(sdn_path):
        for row in _csv_rows(sdn_path, 12):
            remarks[row[0].strip()] = _cell(row[11])
    comments_path = directory / f"{prefix}sdn_comments.csv"
    if list_file_exists(comments_path):
        for row in _csv_rows(comments_path, 2):
            ent = row[0].strip()
            remarks[ent] = remarks.get(ent, "") + row[1]
    if not remarks:
        raise ValidationError(f"{directory}: no OFAC SDN files ({prefix}sdn.csv, {prefix}sdn_comments.csv)",
                              code="list_file_missing")
    found: dict[tuple[str, str], ListedAddress] = {}
    for ent, text in remarks.items():
        for currency, address in _WALLET.findall(text):
            found.setdefault((currency, address), ListedAddress(f"ofac-{ent}", currency, address))
    return list(found.values())
