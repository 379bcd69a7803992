"""The screening matcher: an index built once over the listed names, a fast candidate stage and a precise one.

Candidates come from (1) exact Chinese characters, (2) a syllable index for Chinese names in any romanisation,
(3) rapidfuzz over sorted-word keys, (4) rare-word and consonant-skeleton lookups. The precise stage scores each
candidate with `names.compare_forms`, then dates of birth and nationality add or remove evidence.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bauhinia.adapters.screening.lists import fingerprint
from bauhinia.adapters.screening.names import (
    NameForm,
    compare_forms,
    name_form,
    split_alternatives,
    western_form,
)
from bauhinia.domain.compliance import (
    DEFAULT_THRESHOLDS,
    ListedParty,
    PartySchema,
    ScreeningHit,
    ScreeningThresholds,
    best_hits,
)
from bauhinia.domain.errors import ValidationError

candidates_max: int = 30
fuzzy_limit: int = 25
fuzzy_cutoff: float = 70.0
posting_cache_max: int = 20_000
query_length_max: int = 300

# Country words and codes -> ISO 3166 alpha-2, for nationality evidence (lists write names, customers codes).
_COUNTRIES: dict[str, tuple[str, ...]] = {
    "CN": ("china", "chn", "prc", "chinese", "people's republic of china", "mainland china"),
    "HK": ("hong kong", "hkg", "hong kong sar", "china, hong kong", "hong kong, china"),
    "MO": ("macau", "macao", "mac"),
    "TW": ("taiwan", "twn"),
    "KP": ("north korea", "korea, north", "prk", "dprk", "democratic people's republic of korea"),
    "KR": ("south korea", "korea, south", "kor", "republic of korea"),
    "RU": ("russia", "russian federation", "rus"),
    "IR": ("iran", "irn", "iran (islamic republic of)"),
    "IQ": ("iraq", "irq"),
    "SY": ("syria", "syr", "syrian arab republic"),
    "AF": ("afghanistan", "afg"),
    "US": ("united states", "usa", "united states of america"),
    "GB": ("united kingdom", "gbr", "uk"),
    "SG": ("singapore", "sgp"),
    "PK": ("pakistan", "pak"),
    "CU": ("cuba", "cub"),
    "VE": ("venezuela", "ven"),
}
_COUNTRY_LOOKUP: dict[str, str] = {
    word: code for code, words in _COUNTRIES.items() for word in (code.lower(), *words)
}


def country_code(text: str) -> str:
    key = re.sub(r"\s+", " ", text.strip().lower())
    return _COUNTRY_LOOKUP.get(key, key)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    schema: PartySchema | None = None
    date_of_birth: str = ""  # YYYY, YYYY-MM or YYYY-MM-DD
    nationality: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("cannot screen an empty name")
        if len(self.name) > query_length_max:
            raise ValidationError(f"name is longer than {query_length_max} characters")
        if self.date_of_birth and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", self.date_of_birth.strip()):
            raise ValidationError(f"date_of_birth {self.date_of_birth!r} must be YYYY, YYYY-MM or YYYY-MM-DD")


@dataclass(frozen=True, slots=True)
class _Entry:
    party_index: int
    name: str
    form: NameForm


def _evidence(query: Query, party: ListedParty) -> tuple[float, list[str]]:
    delta = 0.0
    notes: list[str] = []
    if query.date_of_birth and party.dates_of_birth:
        q = query.date_of_birth.strip()
        exact = any(d == q or (len(d) >= 10 and d[:10] == q) for d in party.dates_of_birth)
        years = {d[:4] for d in party.dates_of_birth if d[:4].isdigit()}
        near = any(abs(int(y) - int(q[:4])) <= 1 for y in years)
        if exact:
            delta += 0.08
            notes.append(f"date of birth {q} matches")
        elif q[:4] in years:
            delta += 0.05
            notes.append(f"year of birth {q[:4]} matches")
        elif near:
            notes.append(f"year of birth {q[:4]} is within a year of the listed {sorted(years)}")
        else:
            delta -= 0.15
            notes.append(f"date of birth {q} differs from the listed {list(party.dates_of_birth)}")
    if query.nationality and party.nationalities:
        q = country_code(query.nationality)
        listed = {country_code(n) for n in party.nationalities}
        if q in listed:
            delta += 0.03
            notes.append(f"nationality {query.nationality} matches")
        else:
            delta -= 0.05
            notes.append(f"nationality {query.nationality} differs from the listed {list(party.nationalities)}")
    return delta, notes


class Matcher:
    """Screens names against listed parties. Build once (`Matcher(parties)`), query many times."""

    def __init__(self, parties: Sequence[ListedParty], thresholds: ScreeningThresholds = DEFAULT_THRESHOLDS):
        self.parties = list(parties)
        self.thresholds = thresholds
        self._by_id = {p.entity_id: i for i, p in enumerate(self.parties)}
        self._fingerprints = [fingerprint(p) for p in self.parties]
        self.entries: list[_Entry] = []
        self._han: dict[str, list[int]] = defaultdict(list)
        self._syllables: dict[str, list[int]] = defaultdict(list)
        self._words: dict[str, list[int]] = defaultdict(list)
        self._deletes: dict[str, set[str]] = defaultdict(set)  # word with one letter deleted -> words
        self._skeletons: dict[str, list[int]] = defaultdict(list)
        keys: list[str] = []
        key_entries: list[int] = []
        forms: dict[tuple[str, PartySchema], NameForm] = {}
        for pi, party in enumerate(self.parties):
            for raw in party.names:
                for name in split_alternatives(raw):
                    form = forms.get((name, party.schema))
                    if form is None:
                        form = forms[(name, party.schema)] = name_form(name, party.schema)
                    ei = len(self.entries)
                    self.entries.append(_Entry(pi, name, form))
                    if form.han:
                        self._han[form.han].append(ei)
                    if form.chinese:
                        for spelling in set().union(*form.tokens) if form.tokens else ():
                            self._syllables[spelling].append(ei)
                    else:
                        for word in form.plain:
                            self._words[word].append(ei)
                        skel = self._skeleton_key(form)
                        if skel:
                            self._skeletons[skel].append(ei)
                    for key in form.index_keys():
                        keys.append(key)
                        key_entries.append(ei)
        for word in self._words:
            for d in _deletes(word):
                self._deletes[d].add(word)
        entry_count = max(1, len(self.entries))
        self._idf = {w: math.log(1 + entry_count / len(e)) for w, e in self._words.items()}
        self._posting_cache: dict[frozenset[str], frozenset[int]] = {}
        self._keys_by_length: dict[int, tuple[list[str], list[int]]] = {}
        for key, ei in zip(keys, key_entries, strict=True):
            bucket = self._keys_by_length.setdefault(len(key), ([], []))
            bucket[0].append(key)
            bucket[1].append(ei)

    @property
    def list_names(self) -> int:
        return len(self.entries)

    def party(self, entity_id: str) -> ListedParty:
        if entity_id not in self._by_id:
            raise ValidationError(f"unknown listed entity {entity_id}", code="not_found")
        return self.parties[self._by_id[entity_id]]

    @staticmethod
    def _skeleton_key(form: NameForm) -> str:
        if len(form.tokens) < 2:
            return ""
        return " ".join(sorted(min(s) for s in form.skeletons))

    def _similar_words(self, word: str) -> set[str]:
        """Listed words within about one edit of `word` (exact, one deletion either side, one substitution)."""
        found = {word} if word in self._words else set()
        if len(word) >= 5:
            found.update(self._deletes.get(word, ()))
            for d in _deletes(word):
                if d in self._words:
                    found.add(d)
                found.update(self._deletes.get(d, ()))
        return found

    def _postings(self, token: frozenset[str]) -> frozenset[int]:
        cached = self._posting_cache.get(token)
        if cached is not None:
            return cached
        out: set[int] = set()
        for spelling in token:
            posting = self._syllables.get(spelling)
            if posting:
                out.update(posting)
        result = frozenset(out)
        if len(self._posting_cache) >= posting_cache_max:
            self._posting_cache.clear()
        self._posting_cache[token] = result
        return result

    def _chinese_candidates(self, form: NameForm) -> set[int]:
        """Entries sharing every syllable of the name, or all but one (in any romanisation)."""
        sets = [self._postings(t) for t in form.tokens]
        if len(sets) == 1:
            return set(sorted(sets[0])[:candidates_max])
        if len(sets) == 2:
            return sets[0] & sets[1]
        found: set[int] = set()
        for skip in range(len(sets)):
            rest = sorted((s for i, s in enumerate(sets) if i != skip), key=len)
            common = set(rest[0])
            for other in rest[1:]:
                common &= other
                if not common:
                    break
            found |= common
        return found

    def _word_candidates(self, form: NameForm) -> set[int]:
        weights: dict[int, float] = defaultdict(float)
        for word in form.plain:
            best: dict[int, float] = {}
            for similar in self._similar_words(word):
                idf = self._idf[similar] * (1.0 if similar == word else 0.6)
                for ei in self._words[similar]:
                    if idf > best.get(ei, 0.0):
                        best[ei] = idf
            for ei, w in best.items():
                weights[ei] += w
        # Long names (and Arabic-script ones, compared by consonant skeletons) cost more to score precisely.
        budget = candidates_max if len(form.tokens) <= 5 and not form.abjad else candidates_max // 2
        ranked = heapq.nlargest(budget, weights.items(), key=lambda kv: kv[1])
        found = {ei for ei, _ in ranked}
        skel = self._skeleton_key(form)
        if skel:
            found.update(self._skeletons.get(skel, ()))
        return found

    def _fuzzy_candidates(self, form: NameForm) -> set[int]:
        """Last resort when no index found anything: rapidfuzz over keys of a compatible length."""
        found: set[int] = set()
        for key in form.index_keys():
            low, high = int(len(key) * 0.55), int(len(key) * 1.8) + 1
            for length in range(low, high + 1):
                bucket = self._keys_by_length.get(length)
                if not bucket:
                    continue
                keys, entries = bucket
                for _choice, _score, ki in process.extract(
                    key, keys, scorer=fuzz.ratio, limit=fuzzy_limit, score_cutoff=fuzzy_cutoff
                ):
                    found.add(entries[ki])
        return found

    def _candidates(self, form: NameForm) -> set[int]:
        found: set[int] = set()
        if form.han:
            found.update(self._han.get(form.han, ()))
        if form.chinese and form.tokens:
            chinese = self._chinese_candidates(form)
            if len(chinese) > candidates_max:
                chinese = set(sorted(chinese)[:candidates_max])
            found |= chinese
            if not form.han:  # romanised Chinese may also be listed as plain words (Korean, Vietnamese...)
                found |= self._word_candidates(western_form(form.original, form.schema))
        elif form.tokens:
            found |= self._word_candidates(form)
        if not found and not form.han:  # characters are indexed completely: no fuzzy fallback needed
            found = self._fuzzy_candidates(form)
        return found

    def screen(self, query: Query, limit: int = 5, minimum: float | None = None) -> tuple[ScreeningHit, ...]:
        """Best hits (one per entity), best first; only those scoring at least `minimum` (default: review)."""
        floor = self.thresholds.review if minimum is None else minimum
        hits: list[ScreeningHit] = []
        for alternative in split_alternatives(query.name):
            form = name_form(alternative, query.schema)
            for ei in self._candidates(form):
                entry = self.entries[ei]
                party = self.parties[entry.party_index]
                comparison = compare_forms(form, entry.form)
                if comparison.score < floor - 0.1:
                    continue
                score = comparison.score
                notes = [f"name {alternative!r} ~ {entry.name!r}: {comparison.reason} ({comparison.score:.2f})"]
                if query.schema is not None and _kind(query.schema) != _kind(party.schema):
                    score -= 0.2
                    notes.append(f"listed as {party.schema.value}, screened as {query.schema.value}")
                delta, evidence = _evidence(query, party)
                score = min(1.0, max(0.0, score + delta))
                notes.extend(evidence)
                if score >= floor:
                    hits.append(
                        ScreeningHit(
                            entity_id=party.entity_id,
                            matched_name=entry.name,
                            score=round(score, 4),
                            explanation=tuple(notes),
                            entity_fingerprint=self._fingerprints[entry.party_index],
                        )
                    )
        return best_hits(hits, limit) if hits else ()

    def screen_many(self, queries: Iterable[Query], limit: int = 5) -> list[tuple[ScreeningHit, ...]]:
        return [self.screen(q, limit) for q in queries]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _kind(schema: PartySchema) -> str:
    return "person" if schema is PartySchema.PERSON else "other"
