"""Name normalisation and pairwise scoring for screening.

A name becomes a `NameForm`: its Chinese characters folded to Simplified (OpenCC), and a list of tokens, each a set
of equivalent spellings. Chinese characters give one token per syllable whose spellings are Mandarin pinyin,
Wade-Giles and Hong Kong government Cantonese (surnames corrected from tables); Latin names that read as
romanised Chinese are cut into syllables and widened with their Wade-Giles/pinyin equivalents; other names keep
their words. Two forms are compared by aligning tokens; when both sides carry Chinese characters the characters
decide, so 王芳 and 汪芳 (both "Wang Fang") stay apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA, Levenshtein

from bauhinia.domain.compliance import PartySchema

# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------

# Mandarin readings of characters whose surname reading differs from the everyday one (keys Simplified).
MANDARIN_SURNAMES: dict[str, str] = {
    "单": "shan", "曾": "zeng", "区": "ou", "仇": "qiu", "解": "xie", "朴": "piao", "查": "zha", "盖": "ge",
    "乐": "yue", "缪": "miao", "覃": "qin", "员": "yun", "秘": "bi", "繁": "po", "种": "chong", "尉": "yu",
    "召": "shao", "句": "gou", "华": "hua", "任": "ren", "沈": "shen", "翟": "zhai", "宁": "ning", "柏": "bai",
    "薄": "bo", "冼": "xian", "曲": "qu", "贾": "jia", "葛": "ge", "纪": "ji", "黑": "he", "那": "na",
    "折": "she", "都": "du", "燕": "yan", "应": "ying", "祭": "zhai", "牟": "mou", "朝": "chao", "叶": "ye",
    "重": "chong", "长孙": "zhang sun", "尉迟": "yu chi", "万俟": "mo qi", "单于": "chan yu", "澹台": "tan tai",
    "令狐": "ling hu",
}

# Compound (two-character) surnames, Simplified.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司徒 司马 诸葛 上官 皇甫 令狐 夏侯 慕容 尉迟 长孙 公孙".split()
    + "东方 端木 轩辕 万俟 单于 澹台 呼延 宇文 西门 南宫".split()
)

# Hong Kong government spellings of common surnames (keys Simplified; first spelling is the usual one).
HK_SURNAMES: dict[str, tuple[str, ...]] = {
    "陈": ("chan",), "黄": ("wong",), "王": ("wong",), "汪": ("wong",), "李": ("lee", "li"), "张": ("cheung",),
    "梁": ("leung",), "林": ("lam",), "刘": ("lau",), "吴": ("ng",), "伍": ("ng",), "何": ("ho",),
    "郑": ("cheng",), "杨": ("yeung",), "麦": ("mak",), "郭": ("kwok",), "周": ("chau", "chow"),
    "邹": ("chau", "chow"), "谢": ("tse",), "叶": ("yip",), "曾": ("tsang",), "邓": ("tang",), "冯": ("fung",),
    "蔡": ("choi", "tsoi"), "罗": ("law", "lo"), "卢": ("lo", "lou"), "许": ("hui",), "萧": ("siu",),
    "胡": ("wu", "woo"), "朱": ("chu", "chue"), "潘": ("poon", "pun"), "余": ("yu", "yue"), "俞": ("yu",),
    "姚": ("yiu",), "马": ("ma",), "袁": ("yuen",), "阮": ("yuen",), "谭": ("tam",), "谈": ("tam",),
    "钟": ("chung",), "赵": ("chiu",), "杜": ("to",), "陶": ("to",), "莫": ("mok",), "关": ("kwan",),
    "区": ("au",), "欧": ("au",), "单": ("sin",), "欧阳": ("au yeung",), "司徒": ("sze to",), "司马": ("sze ma",),
    "上官": ("sheung kwun",), "诸葛": ("chu kot",), "江": ("kong",), "彭": ("pang",), "范": ("fan",),
    "方": ("fong",), "石": ("shek",), "姜": ("keung",), "高": ("ko",), "孔": ("hung",), "陆": ("luk",),
    "韦": ("wai",), "卫": ("wai",), "简": ("kan",), "苏": ("so",), "戴": ("tai",), "岑": ("sham",),
    "甘": ("kam",), "金": ("kam",), "温": ("wan",), "尹": ("wan",), "龙": ("lung",), "霍": ("fok",),
    "汤": ("tong",), "唐": ("tong",), "邝": ("kwong",), "洪": ("hung",), "熊": ("hung",), "赖": ("lai",),
    "黎": ("lai",), "侯": ("hau",), "丁": ("ting",), "徐": ("tsui",), "崔": ("tsui", "chui"), "邱": ("yau",),
    "丘": ("yau",), "游": ("yau",), "邵": ("shiu",), "施": ("sze",), "史": ("sze",), "廖": ("liu",),
    "文": ("man",), "万": ("man",), "雷": ("lui",), "吕": ("lui",), "田": ("tin",), "顾": ("koo",),
    "孙": ("suen",), "宋": ("sung",), "沈": ("shum", "sum"), "翁": ("yung",), "容": ("yung",), "严": ("yim",),
    "阎": ("yim",), "魏": ("ngai",), "蒋": ("tseung", "cheung"), "包": ("pau",), "鲍": ("pau",), "柯": ("or",),
    "植": ("chik",), "聂": ("nip",), "易": ("yik",), "凌": ("ling",), "纪": ("kei",), "祁": ("kei",),
    "左": ("chor",), "秦": ("chun",), "童": ("tung",), "董": ("tung",), "常": ("sheung",), "利": ("lee",),
    "薛": ("sit",), "程": ("ching",), "卓": ("cheuk",), "白": ("pak",), "任": ("yam",), "华": ("wah",),
    "殷": ("yan",), "蓝": ("lam",), "庄": ("chong",), "夏": ("ha",), "贺": ("ho",), "毛": ("mo",),
    "傅": ("foo", "fu"), "符": ("foo", "fu"), "车": ("che",), "习": ("tsap", "chap"), "钱": ("chin",),
    "曹": ("cho", "tso"), "冼": ("sin",), "梅": ("mui",), "屈": ("wat",), "龚": ("kung",), "费": ("fai",),
    "骆": ("lok",), "齐": ("chai",), "倪": ("ngai",), "贝": ("pui",), "苗": ("miu",), "宁": ("ning",),
}

# Jyutping onsets and finals -> Hong Kong government romanisation (alternatives, usual first).
_JP_ONSETS: dict[str, tuple[str, ...]] = {
    "b": ("p",), "p": ("p",), "m": ("m",), "f": ("f",), "d": ("t",), "t": ("t",), "n": ("n",), "l": ("l",),
    "gw": ("kw",), "kw": ("kw",), "g": ("k",), "k": ("k",), "ng": ("ng",), "h": ("h",), "w": ("w",),
    "z": ("ch", "ts"), "c": ("ch", "ts"), "s": ("s", "sh"), "j": ("y",), "": ("",),
}
_JP_FINALS: dict[str, tuple[str, ...]] = {
    "aa": ("a", "ah"), "aai": ("ai",), "aau": ("au",), "aam": ("am",), "aan": ("an",), "aang": ("ang",),
    "aap": ("ap",), "aat": ("at",), "aak": ("ak",), "ai": ("ai",), "au": ("au",), "am": ("am",), "an": ("an", "un"),
    "ang": ("ang",), "ap": ("ap",), "at": ("at",), "ak": ("ak",), "e": ("e",), "ei": ("ei", "ee", "i"),
    "eu": ("eu",), "em": ("em",), "eng": ("eng",), "ep": ("ep",), "ek": ("ek", "ik"), "i": ("i", "ee"),
    "iu": ("iu",), "im": ("im",), "in": ("in",), "ing": ("ing",), "ip": ("ip",), "it": ("it",), "ik": ("ik",),
    "o": ("o", "or"), "oi": ("oi",), "ou": ("o", "ou"), "on": ("on",), "ong": ("ong",), "ot": ("ot",), "ok": ("ok",),
    "u": ("u", "oo"), "ui": ("ui",), "un": ("un", "oon"), "ung": ("ung", "oong"), "ut": ("ut", "oot"), "uk": ("uk",),
    "oe": ("oe", "eu"), "oeng": ("eung",), "oek": ("euk",), "eoi": ("ui", "eui"), "eon": ("un", "eun"),
    "eot": ("ut", "eut"), "yu": ("u", "ue", "yu"), "yun": ("un", "uen", "yun"), "yut": ("ut", "uet", "yut"),
    "m": ("m",), "ng": ("ng",),
}
_JP_WHOLE: dict[str, tuple[str, ...]] = {
    "si": ("sze", "si", "shi"), "zi": ("chi", "tsz", "tze"), "ci": ("chi", "tsz", "tsze"),
    "jyu": ("yu", "yue"), "jyun": ("yuen", "yun"), "ng": ("ng",), "m": ("m",),
}

HONORIFICS = frozenset(
    "mr mrs ms miss mx dr prof professor sir dame lord lady madam mme mlle herr frau hon honourable "
    "haji hajji hadji sheikh shaikh sheik mullah mulla maulana mawlawi maulvi mufti imam sayyid "
    "general gen colonel col captain capt major maj lieutenant lt admiral adm president minister "
    "esq jr sr".split()
)
HAN_HONORIFICS = ("先生", "女士", "小姐", "太太", "夫人", "博士", "教授", "医生", "律师", "阁下")
COMPANY_FORMS = frozenset(
    "co company ltd limited inc incorporated corp corporation llc llp lp plc gmbh ag sa sas sarl srl spa "
    "bv nv kg jsc ojsc pjsc cjsc oao zao ooo pte pvt private bhd sdn tbk kk kabushiki kaisha "
    "the and of".split()
)
HAN_COMPANY_FORMS = (
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "控股", "株式会社", "会社", "公司",
    "香港", "(香港)", "（香港）",
)
NAME_PARTICLES = frozenset("al el ul bin ibn bint abu abou".split())

# Common spellings of the same given name, folded to one (transliterations from Arabic and Russian).
_NAME_VARIANT_GROUPS = (
    "muhammad mohammed mohamed mohammad muhammed mohamad mohamud muhamad mohd",
    "husayn hussein hussain husain hosein hussien",
    "hasan hassan",
    "abd abdul abdel abdal abdu",
    "yusuf yousef youssef yousif yusef",
    "ahmad ahmed",
    "mahmud mahmoud",
    "umar omar",
    "uthman osman othman",
    "aleksandr alexander aleksander alexandr",
    "sergey sergei",
    "yevgeny evgeny evgeniy yevgeniy",
)
NAME_VARIANTS: dict[str, str] = {
    variant: group.split()[0] for group in _NAME_VARIANT_GROUPS for variant in group.split()
}

# Cyrillic and Arabic letters to Latin (simple, matching-oriented, not a standard).
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i yi ye g".split(),
        strict=True,
    )
)
_ARABIC = dict(
    zip(
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي" "ءآأإؤئةى",
        "a b t th j h kh d dh r z s sh s d t z _ gh f q k l m n h w y _ a a i w y h a".split(),
        strict=True,
    )
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPLIT = re.compile(r"[^a-z0-9]+")
_VOWELS = re.compile(r"[aeiouyw]")


# ---------------------------------------------------------------------------------------------------------------
# Lazily built resources (OpenCC, pypinyin, ToJyutping load dictionaries once)
# ---------------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text) if _CJK.search(text) else text


@lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            found.add(strip_marks(reading))
    return frozenset(s for s in found if s.isascii() and s.isalpha())


@lru_cache(maxsize=1)
def mandarin_equivalents() -> dict[str, frozenset[str]]:
    """Each pinyin or Wade-Giles syllable -> the syllables it may be written as in the other system."""
    pairs: dict[str, set[str]] = {}
    for py, wg in pinyin_to_wade_giles().items():
        pairs.setdefault(py, {py}).add(wg)
        pairs.setdefault(wg, {wg}).add(py)
    return {k: frozenset(v) for k, v in pairs.items()}


@lru_cache(maxsize=1)
def pinyin_to_wade_giles() -> dict[str, str]:
    """Pinyin syllable -> Wade-Giles without aspiration marks or umlauts (as names are usually written)."""
    from pypinyin.style.wadegiles import to_wade_glides

    return {py: _plain(to_wade_glides(py)) for py in pinyin_syllables()}


@lru_cache(maxsize=1)
def wade_giles_to_pinyin() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for py, wg in pinyin_to_wade_giles().items():
        out.setdefault(wg, set()).add(py)
    return {k: frozenset(v) for k, v in out.items()}


# Spellings are tagged by system so that a spelling means one thing: plain = pinyin, "^" = Wade-Giles,
# "~" = Hong Kong Cantonese. A romanised word stands for itself in all three, plus the pinyin its Wade-Giles
# reading implies ("Hsi" -> xi); characters give their pinyin, Wade-Giles and Cantonese spellings.
WG_TAG = "^"
HK_TAG = "~"


@lru_cache(maxsize=8_192)
def latin_syllable_token(syllable: str) -> frozenset[str]:
    return frozenset({syllable, WG_TAG + syllable, HK_TAG + syllable, *wade_giles_to_pinyin().get(syllable, ())})


def han_syllable_token(pinyin: str, cantonese: Iterable[str]) -> frozenset[str]:
    wg = pinyin_to_wade_giles().get(pinyin, pinyin)
    return frozenset({pinyin, WG_TAG + wg, *(HK_TAG + c for c in cantonese)})


@lru_cache(maxsize=1)
def cantonese_syllables() -> frozenset[str]:
    found: set[str] = set()
    for onset, onset_spellings in _JP_ONSETS.items():
        for final in _JP_FINALS:
            for spelling in jyutping_to_hk(onset + final):
                found.add(spelling)
            for o in onset_spellings:
                found.update(o + f for f in _JP_FINALS[final])
    for spellings in HK_SURNAMES.values():
        for spelling in spellings:
            found.update(spelling.split())
    return frozenset(s for s in found if s)


@lru_cache(maxsize=1)
def romanised_syllables() -> frozenset[str]:
    return pinyin_syllables() | frozenset(mandarin_equivalents()) | cantonese_syllables()


def strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _plain(syllable: str) -> str:
    return strip_marks(syllable).replace("'", "").replace("’", "").replace("v", "u").lower()


def jyutping_to_hk(syllable: str) -> tuple[str, ...]:
    """One Jyutping syllable (tone digit optional) -> its Hong Kong government spellings, usual first."""
    base = syllable.rstrip("123456").lower()
    if base in _JP_WHOLE:
        return _JP_WHOLE[base]
    for onset in ("gw", "kw", "ng", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "w", "z", "c", "s", "j"):
        if base.startswith(onset) and base[len(onset):] in _JP_FINALS:
            final = base[len(onset):]
            out: list[str] = []
            for o in _JP_ONSETS[onset]:
                for f in _JP_FINALS[final]:
                    if onset == "j" and f.startswith("y"):
                        f = f[1:]  # j + yu -> yu, not yyu
                    spelling = o + f
                    if spelling not in out:
                        out.append(spelling)
            return tuple(out)
    if base in _JP_FINALS:
        return _JP_FINALS[base]
    return (base,)


# ---------------------------------------------------------------------------------------------------------------
# Name forms
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameForm:
    """A normalised name. `tokens` are sets of equivalent spellings; `han` is its Simplified characters."""

    original: str
    schema: PartySchema
    han: str
    tokens: tuple[frozenset[str], ...]
    chinese: bool  # tokens are Chinese syllables (from characters or romanised Chinese)
    abjad: bool  # transliterated from Arabic script: compare consonant skeletons
    extra: tuple[str, ...] = ()  # words dropped to read the rest as Chinese (e.g. "Peter" in "Peter CHAN Tai Man")
    plain: tuple[str, ...] = ()  # usual spelling of each token (derived)
    weights: tuple[int, ...] = ()  # weight of each token in alignment (derived)
    skeletons: tuple[frozenset[str], ...] = ()  # consonant skeletons of each token (derived, Arabic matching)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", tuple(min(t, key=_spelling_rank) for t in self.tokens))
        weights = tuple(1 if self.chinese else max(2, len(p)) for p in self.plain)
        object.__setattr__(self, "weights", weights)
        if not self.chinese:
            object.__setattr__(self, "skeletons", tuple(frozenset(_skeleton(x) for x in t) for t in self.tokens))

    def index_keys(self) -> tuple[str, ...]:
        """Plain strings for the candidate index: the usual spelling of each token, sorted."""
        if self.han and not self.tokens:
            return ()
        first = " ".join(sorted(self.plain))
        return (first,) if first else ()


def _spelling_rank(spelling: str) -> tuple[int, int, str]:
    return (spelling[:1] in (WG_TAG, HK_TAG), len(spelling), spelling)


def transliterate(text: str) -> tuple[str, bool]:
    """Latin lower-case letters; Cyrillic and Arabic by table. Returns (text, came_from_arabic_script)."""
    out: list[str] = []
    abjad = False
    for ch in text.lower():
        if ch in _CYRILLIC:
            mapped = _CYRILLIC[ch]
            out.append("" if mapped == "_" else mapped)
        elif ch in _ARABIC:
            abjad = True
            mapped = _ARABIC[ch]
            out.append("" if mapped == "_" else mapped)
        else:
            out.append(ch)
    return strip_marks("".join(out)).lower(), abjad


def _latin_words(text: str, schema: PartySchema) -> tuple[list[str], bool]:
    # An apostrophe before a vowel separates pinyin syllables (Yue'e, Xi'an); after a consonant it marks
    # Wade-Giles aspiration (p'ing) and goes.
    text = re.sub(r"(?<=[AEIOUaeiou])['’](?=[AEIOUaeiou])", " ", text)
    text = text.replace("'", "").replace("’", "").replace("‘", "").replace("`", "")
    latin, abjad = transliterate(text)
    latin = latin.replace("ß", "ss").replace("æ", "ae").replace("ø", "o").replace("ł", "l").replace("đ", "d")
    words = [w for w in _SPLIT.split(latin) if w]
    if abjad:  # the Arabic article is written joined: التكريتي -> altkryty
        words = [w[2:] if w.startswith("al") and len(w) > 4 else w for w in words]
    words = [w for w in words if w not in HONORIFICS] or words
    if schema is not PartySchema.PERSON:
        words = [w for w in words if w not in COMPANY_FORMS] or words
    words = [w for w in words if w not in NAME_PARTICLES] or words
    words = [w for i, w in enumerate(words) if not (i and w == "ben")] or words
    return [v for w in words for v in _fold_variant(w)], abjad


def _fold_variant(word: str) -> tuple[str, ...]:
    """Fold spelling variants; split a known prefix written joined ("abdulrahman" -> "abd", "rahman")."""
    if word in NAME_VARIANTS:
        return (NAME_VARIANTS[word],)
    for cut in range(len(word) - 3, 2, -1):
        head = word[:cut]
        if head in NAME_VARIANTS and NAME_VARIANTS[head] == "abd":
            return ("abd", word[cut:])
    return (word,)


def segment_syllables(word: str, limit: int = 4) -> list[str] | None:
    """Cut a romanised word into Chinese syllables (fewest pieces), or None when it does not read as Chinese."""
    syllables = romanised_syllables()
    n = len(word)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            piece = word[start:end]
            if head is not None and piece in syllables and len(head) < limit:
                candidate = [*head, piece]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[n]


def _han_tokens(han: str, schema: PartySchema) -> list[frozenset[str]]:
    """Characters (Simplified) -> one token per syllable: pinyin, Wade-Giles and HK Cantonese spellings."""
    import ToJyutping
    from pypinyin import lazy_pinyin

    surname = ""
    if schema is PartySchema.PERSON and 2 <= len(han) <= 5:
        surname = han[:2] if han[:2] in COMPOUND_SURNAMES else han[0]
    tokens: list[frozenset[str]] = []
    if surname:
        readings = MANDARIN_SURNAMES.get(surname, " ".join(_plain(p) for p in lazy_pinyin(surname))).split()
        if surname in HK_SURNAMES:  # the table knows the surname reading; the dictionary's default may differ
            hk = [s.split() for s in HK_SURNAMES[surname]]
            cantonese = [[parts[i] for parts in hk if i < len(parts)] for i in range(len(readings))]
        else:
            jp = [jyutping_to_hk(j or "") for _, j in ToJyutping.get_jyutping_list(surname)]
            cantonese = [list(jp[i]) if i < len(jp) else [] for i in range(len(readings))]
        for i, py in enumerate(readings):
            tokens.append(han_syllable_token(py, cantonese[i]))
    rest = han[len(surname):]
    if rest:
        pys = [_plain(p) for p in lazy_pinyin(rest)]
        jps = [j for _, j in ToJyutping.get_jyutping_list(rest)]
        for i, py in enumerate(pys):
            jp = jps[i] if i < len(jps) else None
            tokens.append(han_syllable_token(py, jyutping_to_hk(jp) if jp else ()))
    return tokens


def _strip_han_forms(han: str, schema: PartySchema) -> str:
    if schema is PartySchema.PERSON:
        for h in HAN_HONORIFICS:
            if han.endswith(h) and len(han) > len(h) + 1:
                han = han[: -len(h)]
    else:
        changed = True
        while changed:
            changed = False
            for form in HAN_COMPANY_FORMS:
                if han.endswith(form) and len(han) > len(form) + 1:
                    han = han[: -len(form)]
                    changed = True
    return han


_COMPANY_MARKERS = COMPANY_FORMS - {"the", "and", "of", "co", "sa", "ag", "lp", "kk"}


def guess_schema(text: str) -> PartySchema:
    """Company when the name carries a company form (Limited, GmbH, 有限公司...), else Person."""
    simplified = to_simplified(text)
    if any(form in simplified for form in HAN_COMPANY_FORMS if form not in ("香港", "(香港)", "（香港）")):
        return PartySchema.COMPANY
    words = set(_SPLIT.split(strip_marks(text).lower()))
    return PartySchema.COMPANY if words & _COMPANY_MARKERS else PartySchema.PERSON


@lru_cache(maxsize=65_536)
def western_form(text: str, schema: PartySchema) -> NameForm:
    """The name read word by word, never as Chinese syllables."""
    words, abjad = _latin_words(unicodedata.normalize("NFKC", text).strip(), schema)
    return NameForm(text, schema, "", tuple(frozenset((w,)) for w in words), chinese=False, abjad=abjad)


def name_form(text: str, schema: PartySchema | None = PartySchema.PERSON) -> NameForm:
    """Normalise one written name (one script: split mixed names with `split_alternatives` first).

    `schema=None` guesses Person or Company from the name itself.
    """
    raw = unicodedata.normalize("NFKC", text).strip()
    if schema is None:
        schema = guess_schema(raw)
    han_chars = "".join(_CJK.findall(raw))
    if han_chars and len(han_chars) * 2 >= len(re.sub(r"\s", "", raw)):
        han = _strip_han_forms(to_simplified(han_chars), schema)
        tokens = _han_tokens(han, schema) if len(han) <= 12 else []
        return NameForm(raw, schema, han, tuple(tokens), chinese=True, abjad=False)
    words, abjad = _latin_words(raw, schema)
    if not abjad and words:
        pieces: list[str] = []
        extra: list[str] = []
        for w in words:
            seg = segment_syllables(w, limit=2) if len(w) > 1 or w in "aeo" else None
            if seg is None:
                extra.append(w)
            else:
                pieces.extend(seg)
        # Chinese when every word reads as syllables, or all but one leading/trailing Western given name
        # ("Peter CHAN Tai Man") when at least two other words read as Chinese.
        chinese_words = len(words) - len(extra)
        usable = 2 <= len(pieces) <= 4 and (
            not extra
            or (len(extra) == 1 and extra[0] in (words[0], words[-1]) and chinese_words >= 2 and len(pieces) <= 3)
        )
        if usable and schema is PartySchema.PERSON:
            tokens = tuple(latin_syllable_token(p) for p in pieces)
            return NameForm(raw, schema, "", tokens, chinese=True, abjad=False, extra=tuple(extra))
    return NameForm(raw, schema, "", tuple(frozenset((w,)) for w in words), chinese=False, abjad=abjad)


def split_alternatives(text: str) -> list[str]:
    """"Xi Jinping / 习近平" -> ["Xi Jinping", "习近平"]; a name mixing characters and Latin is split too."""
    parts = [p.strip() for p in re.split(r"\s*[/;|]\s*", text) if p.strip()]
    out: list[str] = []
    for part in parts:
        han = "".join(_CJK.findall(part))
        rest = _CJK.sub(" ", part).strip()
        if han and re.search(r"[A-Za-z]{2}", rest):
            out.extend([han, rest])
        else:
            out.append(part)
    return out or [text]


# ---------------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------------


def _skeleton(word: str) -> str:
    """Consonants only (Arabic script writes no short vowels): ibrahim / ابراهيم -> brhm."""
    skel = _VOWELS.sub("", word.replace("ou", "u").replace("ee", "i")).replace("k", "q").replace("c", "q")
    return re.sub(r"(.)\1+", r"\1", skel)


def _word_similarity(a: NameForm, i: int, b: NameForm, j: int, chinese: bool, abjad: bool) -> float:
    x_set, y_set = a.tokens[i], b.tokens[j]
    if not x_set.isdisjoint(y_set):
        return 1.0
    if chinese:
        # A different syllable is a different character: a near spelling (ping / pin) earns little.
        near = any(OSA.normalized_similarity(x, y) >= 0.75 for x in x_set for y in y_set)
        return 0.4 if near else 0.0
    shortest = min(len(a.plain[i]), len(b.plain[j]))
    floor = 0.85 if shortest <= 4 else 0.7
    best = OSA.normalized_similarity(a.plain[i], b.plain[j], score_cutoff=floor)
    if abjad and best < 1.0 and a.skeletons and b.skeletons:
        xs, ys = a.skeletons[i], b.skeletons[j]
        if any(len(x) >= 2 for x in xs) and not xs.isdisjoint(ys):
            return 1.0
        skel = max(OSA.normalized_similarity(x, y) for x in xs for y in ys) * 0.95
        best = max(best, skel if skel >= floor else 0.0)
    return best


def _align(a: NameForm, b: NameForm, chinese: bool, abjad: bool) -> float:
    """Greedy one-to-one token alignment weighted by token length; unmatched tokens count against."""
    if not a.tokens or not b.tokens:
        return 0.0
    wa, wb = a.weights, b.weights
    pairs = []
    for i in range(len(wa)):
        for j in range(len(wb)):
            sim = _word_similarity(a, i, b, j, chinese, abjad)
            if sim > 0:
                pairs.append((sim, i, j))
    pairs.sort(reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = 0.0
    for sim, i, j in pairs:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        matched += sim * (wa[i] + wb[j])
    total = sum(wa) + sum(wb)
    if not chinese:
        # Western names often add middle names or a tribal/family name: unmatched words on the longer side
        # weigh a quarter when the shorter side is fully matched with two words or more.
        left_a = sum(wa[i] for i in range(len(wa)) if i not in used_a)
        left_b = sum(wb[j] for j in range(len(wb)) if j not in used_b)
        short_left, long_left = (left_a, left_b) if len(wa) <= len(wb) else (left_b, left_a)
        if short_left == 0 and min(len(wa), len(wb)) >= 2:
            total -= long_left * 0.75
    return matched / total if total else 0.0


def _concat_similarity(a: NameForm, b: NameForm) -> float:
    """Spacing differences ("Abdulrahman" / "Abdul Rahman"): compare the words run together, both orders."""
    wa, wb = list(a.plain), list(b.plain)
    if len(wa) == len(wb) or not wa or not wb:
        return 0.0
    ja = "".join(wa)
    best = 0.0
    for rot in range(len(wb)):
        jb = "".join(wb[rot:] + wb[:rot])
        best = max(best, Levenshtein.normalized_similarity(ja, jb))
        if a.abjad or b.abjad:
            best = max(best, Levenshtein.normalized_similarity(_skeleton(ja), _skeleton(jb)))
    return best * 0.95 if best >= 0.9 else 0.0


@dataclass(frozen=True, slots=True)
class Comparison:
    score: float
    reason: str


def compare_forms(a: NameForm, b: NameForm) -> Comparison:
    """Score two normalised names in [0, 1] with a one-line reason."""
    if a.han and b.han:
        if a.han == b.han:
            return Comparison(1.0, f"same Chinese characters ({a.han})")
        sim = Levenshtein.normalized_similarity(a.han, b.han)
        if len(a.han) <= 4 and len(b.han) <= 4:
            sim *= 0.9  # in a short Chinese name one different character is a different name
        return Comparison(sim, f"Chinese characters differ ({a.han} / {b.han})")
    if a.chinese != b.chinese:
        if a.han or b.han:
            return Comparison(0.0, "Chinese characters against a name that does not read as Chinese")
        a, b = western_form(a.original, a.schema), western_form(b.original, b.schema)
    chinese = a.chinese and b.chinese
    abjad = a.abjad or b.abjad
    score = _align(a, b, chinese, abjad)
    reason = "romanised Chinese syllables align" if chinese else "words align"
    if not chinese:
        joined = _concat_similarity(a, b)
        if joined > score:
            score, reason = joined, "words align when run together"
    if chinese and (a.extra or b.extra):
        score *= 0.95
        reason += f" (ignoring {' '.join(a.extra + b.extra)})"
    if a.han or b.han:
        reason = "romanisation of the Chinese characters aligns (pinyin / Wade-Giles / HK Cantonese)"
    return Comparison(score, reason)


class ScreeningNameComparer:
    """ports.NameComparer over the matcher's normalisation: the names are the same party when they score at least
    `threshold` (a different word, "Importers" / "Exporters", falls below it)."""

    def __init__(self, threshold: float = 0.9) -> None:
        self.threshold = threshold

    def same_party(self, name: str, other: str) -> bool:
        if not name.strip() or not other.strip():
            return False
        schema = PartySchema.COMPANY if PartySchema.COMPANY in (guess_schema(name), guess_schema(other)) \
            else PartySchema.PERSON
        return score_names(name, other, schema).score >= self.threshold


def score_names(name1: str, name2: str, schema: PartySchema = PartySchema.PERSON) -> Comparison:
    """The best comparison over the alternatives each side writes ("Xi Jinping / 习近平")."""
    best = Comparison(0.0, "no comparable names")
    xs, ys = split_alternatives(name1), split_alternatives(name2)
    han_x, han_y = [x for x in xs if _CJK.search(x)], [y for y in ys if _CJK.search(y)]
    if han_x and han_y:  # both sides write the characters: they decide, not a shared romanisation
        xs, ys = han_x, han_y
    for x in xs:
        fx = name_form(x, schema)
        for y in ys:
            c = compare_forms(fx, name_form(y, schema))
            if c.score > best.score:
                best = c
    return best
