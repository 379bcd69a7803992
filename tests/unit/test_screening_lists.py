"""List loaders: the frozen pieces of the real lists load; malformed files are refused with a clear reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bauhinia.adapters.screening.lists import (
    fingerprint,
    load_ftm_json,
    load_lists,
    load_ofac_addresses,
    load_ofac_csv,
    load_un_xml,
)
from bauhinia.domain.compliance import PartySchema
from bauhinia.domain.errors import ValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "screening"


def test_un_xml_people_entities_original_script_and_dob() -> None:
    parties = {p.entity_id: p for p in load_un_xml(FIXTURES / "un_small.xml")}
    saddam = parties["un-6908048"]
    assert saddam.schema is PartySchema.PERSON
    assert "صدام حسين التكريتي" in saddam.names
    assert saddam.dates_of_birth == ("1937-04-28",)
    assert saddam.nationalities == ("Iraq",)
    huaxin = parties["un-6908693"]
    assert huaxin.schema is PartySchema.COMPANY
    assert "華信船務(香港)有限公司" in huaxin.names


def test_ofac_csv_names_aliases_remarks() -> None:
    parties = {p.entity_id: p for p in load_ofac_csv(FIXTURES)}
    wong = parties["ofac-9340"]
    assert wong.names[0] == "Moon Chi WONG"  # "WONG, Moon Chi" read as given names + surname
    assert "Shu Sang CHAN" in wong.names  # alias from alt.csv
    assert "1961-03-18" in wong.dates_of_birth and "China" in wong.nationalities
    assert parties["ofac-306"].schema is PartySchema.COMPANY
    assert "BNC" in parties["ofac-306"].names  # a.k.a. in the remarks


def test_ofac_digital_currency_addresses_from_remarks_continuation() -> None:
    addresses = load_ofac_addresses(FIXTURES)
    eth = [a for a in addresses if a.currency == "ETH"]
    assert eth and all(a.address.startswith("0x") and len(a.address) == 42 for a in eth)
    assert {a.entity_id for a in addresses} == {"ofac-30518"}


def test_ftm_json_persons_and_companies(tmp_path: Path) -> None:
    path = tmp_path / "export.ftm.json"
    lines = [
        {"id": "Q15031", "schema": "Person",
         "properties": {"name": ["Xi Jinping"], "alias": ["习近平"], "birthDate": ["1953-06-15"],
                        "nationality": ["cn"]}},
        {"id": "addr-1", "schema": "Address", "properties": {"full": ["Beijing"]}},
        {"id": "co-1", "schema": "Company",
         "properties": {"name": ["Example Trading Limited"],
                        "cryptoWallets": ["0xAbC0000000000000000000000000000000000001"]}},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    parties = {p.entity_id: p for p in load_ftm_json(path)}
    assert set(parties) == {"ftm-Q15031", "ftm-co-1"}
    assert parties["ftm-Q15031"].names == ("Xi Jinping", "习近平")
    assert parties["ftm-co-1"].wallet_addresses[0][0] == "ETH"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("<CONSOLIDATED_LIST><INDIVIDUALS>", "not well-formed XML"),
        ("<OTHER_LIST/>", "expected <CONSOLIDATED_LIST>"),
        ("<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>X</FIRST_NAME></INDIVIDUAL></INDIVIDUALS>"
         "</CONSOLIDATED_LIST>", "has no DATAID"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><CONSOLIDATED_LIST>&a;</CONSOLIDATED_LIST>', "unsafe XML"),
        ("<CONSOLIDATED_LIST/>", "no INDIVIDUAL or ENTITY"),
    ],
)
def test_malformed_un_xml_refused(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "un.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError, match=reason):
        load_un_xml(path)


@pytest.mark.parametrize(
    ("sdn", "reason"),
    [
        ('36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA"\n', "has 4 columns"),
        ('abc,"X",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n', "expected digits"),
        ('36,-0- ,-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n', "has no name"),
        ("", "no rows"),
    ],
)
def test_malformed_ofac_csv_refused(tmp_path: Path, sdn: str, reason: str) -> None:
    (tmp_path / "ofac_sdn.csv").write_text(sdn, encoding="utf-8")
    with pytest.raises(ValidationError, match=reason):
        load_ofac_csv(tmp_path)


@pytest.mark.parametrize(
    ("line", "reason"),
    [("{not json", "is not JSON"), ('{"schema": "Person"}', "needs id and schema"),
     ('{"id": "x", "schema": "Person", "properties": {"name": "Xi"}}', "must map names to lists"),
     ('{"id": "x", "schema": "Person", "properties": {}}', "has no name")],
)
def test_malformed_ftm_refused(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.ftm.json"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=reason):
        load_ftm_json(path)


def test_missing_folder_and_files_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not found"):
        load_lists(tmp_path / "nowhere")
    with pytest.raises(ValidationError, match="no sanctions lists"):
        load_lists(tmp_path)


def test_load_lists_reads_a_folder(tmp_path: Path) -> None:
    for name in ("un_small.xml", "ofac_sdn.csv", "ofac_alt.csv", "ofac_add.csv", "ofac_sdn_comments.csv"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    parties = load_lists(tmp_path)
    sources = {p.source for p in parties}
    assert sources == {"UN", "OFAC"}


def test_fingerprint_changes_with_the_record() -> None:
    party = load_un_xml(FIXTURES / "un_small.xml")[0]
    from dataclasses import replace

    assert fingerprint(party) == fingerprint(replace(party))
    assert fingerprint(party) != fingerprint(replace(party, names=(*party.names, "New Alias")))


def test_gzipped_lists_read_like_plain_ones(tmp_path: Path) -> None:
    import gzip

    for src in FIXTURES.iterdir():
        if src.suffix in (".xml", ".csv") and src.name != "pairs.csv":
            (tmp_path / (src.name + ".gz")).write_bytes(gzip.compress(src.read_bytes()))
    plain = sorted(p.entity_id for p in load_lists(_lists_only(FIXTURES, tmp_path / "plain")))
    assert sorted(p.entity_id for p in load_lists(tmp_path)) == plain
    assert load_ofac_addresses(tmp_path) == load_ofac_addresses(FIXTURES)
    (tmp_path / "bad.xml.gz").write_bytes(b"not gzip")
    with pytest.raises(ValidationError, match="gzip"):
        load_lists(tmp_path)


def _lists_only(src: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in src.iterdir():
        if f.suffix in (".xml", ".csv") and f.name != "pairs.csv":
            shutil.copy(f, dest / f.name)
    return dest


def test_current_lists_dir_follows_the_pointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bauhinia.adapters.screening.lists import SNAPSHOT_DIR, current_lists_dir

    monkeypatch.delenv("BAUHINIA_SANCTIONS_DIR", raising=False)
    assert current_lists_dir(tmp_path) == SNAPSHOT_DIR
    assert (SNAPSHOT_DIR / "ofac_sdn.csv.gz").is_file() and (SNAPSHOT_DIR / "README.md").is_file()
    version = tmp_path / "sanctions" / "v1"
    version.mkdir(parents=True)
    (tmp_path / "sanctions" / "CURRENT").write_text("v1\n")
    assert current_lists_dir(tmp_path) == version
    (tmp_path / "sanctions" / "CURRENT").write_text("../../etc\n")
    assert current_lists_dir(tmp_path) == SNAPSHOT_DIR
    monkeypatch.setenv("BAUHINIA_SANCTIONS_DIR", str(tmp_path))  # read through Settings only
    assert current_lists_dir(tmp_path) == SNAPSHOT_DIR
    from bauhinia.config import Settings

    assert current_lists_dir(tmp_path, Settings().sanctions_dir) == tmp_path
