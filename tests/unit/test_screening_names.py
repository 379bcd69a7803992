"""Name normalisation and pair scoring: each rule matches what it should and does not match its near miss."""

from __future__ import annotations

import pytest

from bauhinia.adapters.screening.names import (
    guess_schema,
    jyutping_to_hk,
    name_form,
    score_names,
    segment_syllables,
    split_alternatives,
)
from bauhinia.domain.compliance import DEFAULT_THRESHOLDS, PartySchema

HIT = DEFAULT_THRESHOLDS.hit
PERSON = PartySchema.PERSON
COMPANY = PartySchema.COMPANY


def score(a: str, b: str, schema: PartySchema = PERSON) -> float:
    return score_names(a, b, schema).score


@pytest.mark.parametrize(
    ("same", "different", "rule"),
    [
        (("習近平", "Xi Jinping / 习近平"), ("習近朋", "Xi Jinping / 习近平"), "traditional vs simplified (OpenCC)"),
        (("习近平", "Xi Jinping"), ("习近平", "Xi Mingze"), "pinyin"),
        (("习近平", "Hsi Chin-p'ing"), ("习近平", "Hsi Ming-tse"), "Wade-Giles"),
        (("Xi Jinping", "Hsi Chin-p'ing"), ("Xi Jinping", "Hsi Ming-tse"), "pinyin vs Wade-Giles, no characters"),
        (("陳大文", "CHAN Tai Man"), ("陳大文", "CHAN Siu Ming"), "HK Cantonese romanisation"),
        (("單雄信", "Shan Xiongxin"), ("單雄信", "Dan Xiongxin"), "surname reading 单 Shan (not Dan)"),
        (("曾國藩", "Zeng Guofan"), ("曾國藩", "Ceng Guofan"), "surname reading 曾 Zeng (not Ceng)"),
        (("區家麟", "Ou Jialin"), ("區家麟", "Qu Jialin"), "surname reading 区 Ou (not Qu)"),
        (("區家麟", "Au Ka-lun"), ("區家麟", "Keoi Ka-lun"), "HK surname table 區 Au"),
        (("曾國藩", "Tsang Kwok-fan"), ("曾國藩", "Tsang Kwok-man"), "HK surname 曾 Tsang"),
        (("CHAN, Tai Man", "Tai Man Chan"), ("CHAN, Tai Man", "Tai Man Cheung"), "family-name order"),
        (("Chan Tai-man", "Chan Taiman"), ("Chan Tai-man", "Chan Taiming"), "hyphens and joined syllables"),
        (("Xi Jin Ping", "Xi Jinping"), ("Xi Jin Ping", "Xi Jinming"), "spacing"),
        (("Mr. Li Ka-shing", "李嘉誠先生"), ("Mr. Li Ka-shing", "李家傑先生"), "honorifics"),
        (("Peter CHAN Tai-man", "陳大文"), ("Peter CHAN Tai-man", "陳小文"), "a Western given name before"),
        (("José García", "Jose GARCIA"), ("José García", "Jose GARZON"), "Latin diacritics"),
        (("Владимир Путин", "Vladimir Putin"), ("Владимир Путин", "Vladimir Potanin"), "Cyrillic"),
        (("صدام حسين", "Saddam Hussein"), ("صدام حسين", "Hassan Nasrallah"), "Arabic script"),
        (("Mohammed Omar", "Muhammad Umar"), ("Mohammed Omar", "Mahmoud Amer"), "transliteration variants"),
        (("Abdulrahman Khalid", "Abdul Rahman Khalid"), ("Abdulrahman Khalid", "Abdul Karim Khalid"), "joined words"),
    ],
)
def test_rule_matches_and_rejects(same: tuple[str, str], different: tuple[str, str], rule: str) -> None:
    assert score(*same) >= HIT, f"{rule}: {same} should match"
    assert score(*different) < HIT, f"{rule}: {different} should not match"


@pytest.mark.parametrize(
    ("same", "different"),
    [
        (("Huawei Technologies Co., Ltd.", "HUAWEI TECHNOLOGIES COMPANY LIMITED"),
         ("Huawei Technologies Co., Ltd.", "Hua Wei")),
        (("華信船務(香港)有限公司", "华信船务"), ("華信船務(香港)有限公司", "华信物流有限公司")),
        (("腾讯控股有限公司", "騰訊控股有限公司"), ("腾讯控股有限公司", "腾达控股有限公司")),
    ],
)
def test_company_forms(same: tuple[str, str], different: tuple[str, str]) -> None:
    assert score(*same, COMPANY) >= HIT
    assert score(*different, COMPANY) < HIT


@pytest.mark.parametrize(
    ("a", "b"),
    [("王芳", "汪芳"), ("习近朋", "习近平"), ("张伟", "张纬"), ("李嘉诚", "李家诚"), ("Zhang Wei", "Zhang Lei"),
     ("Chan Tai Man", "Chan Tai Ming"), ("Deng Xiaoping", "Deng Xiaoming")],
)
def test_hard_negatives_stay_apart(a: str, b: str) -> None:
    assert score(a, b) < HIT


def test_characters_decide_when_both_sides_have_them() -> None:
    # 王芳 and 汪芳 are both "Wang Fang": the romanisation cannot tell them apart, the characters can.
    assert score("王芳", "Wang Fang") >= HIT
    assert score("汪芳", "Wang Fang") >= HIT
    assert score("王芳", "汪芳") < DEFAULT_THRESHOLDS.review


def test_baseline_traditional_against_mixed_entry_scores_one() -> None:
    result = score_names("習近平", "Xi Jinping / 习近平")
    assert result.score == 1.0
    assert "习近平" in result.reason


def test_explanations_name_the_rule() -> None:
    assert "romanisation" in score_names("陳大文", "Chan Tai Man").reason
    assert "differ" in score_names("王芳", "汪芳").reason


def test_jyutping_to_hk_spellings() -> None:
    assert jyutping_to_hk("can4")[0] == "chan"
    assert "cheung" in jyutping_to_hk("zoeng1")
    assert "yuen" in jyutping_to_hk("jyun4")
    assert "sze" in jyutping_to_hk("si1")
    assert "tsui" in jyutping_to_hk("ceoi4")


def test_segmentation_reads_chinese_only() -> None:
    assert segment_syllables("jinping", limit=2) == ["jin", "ping"]
    assert segment_syllables("vladimir", limit=2) is None
    assert name_form("Xi Jinping").chinese
    assert not name_form("Mohammed Ali").chinese


def test_split_alternatives_and_schema_guess() -> None:
    assert split_alternatives("Xi Jinping / 习近平") == ["Xi Jinping", "习近平"]
    assert split_alternatives("Jin Tiesan (金铁三)")[0] == "金铁三"
    assert guess_schema("Bank of China (Hong Kong) Limited") is COMPANY
    assert guess_schema("中国银行(香港)有限公司") is COMPANY
    assert guess_schema("Chan Tai Man") is PERSON
