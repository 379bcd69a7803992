"""Trade-party screening for settlement (services.settlement.Screener): the name against the sanctions lists
(the Matcher) and the chain address against listed and blacklisted wallets (the WalletScreener).

A name at or above the hit threshold, or a blocked address, is a `hit`; a name in the review band or a wallet
with indirect exposure is `review`; otherwise `clear`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bauhinia.adapters.screening.matcher import Matcher, Query
from bauhinia.adapters.screening.wallets import WalletScreener
from bauhinia.domain.compliance import PartySchema, ScreeningDecision, WalletDecision


@dataclass(frozen=True, slots=True)
class PartyVerdict:
    decision: str
    detail: str = ""


class TradeScreener:
    def __init__(self, matcher: Matcher, wallets: WalletScreener | None = None) -> None:
        self.matcher = matcher
        self.wallets = wallets or WalletScreener()

    def screen_party(self, name: str, country: str, address: str) -> PartyVerdict:
        hits = self.matcher.screen(Query(name, PartySchema.COMPANY, nationality=country), limit=3)
        worst = ScreeningDecision.CLEAR
        reasons: list[str] = []
        for hit in hits:
            decision = self.matcher.thresholds.decide(hit.score)
            if decision is ScreeningDecision.HIT or (decision is ScreeningDecision.REVIEW
                                                     and worst is ScreeningDecision.CLEAR):
                worst = decision
            reasons.append(f"{hit.matched_name} ({hit.entity_id}, {hit.score:.2f})")
        wallet = self.wallets.screen(address)
        if wallet.decision is WalletDecision.BLOCK:
            worst = ScreeningDecision.HIT
        elif wallet.decision is WalletDecision.ALERT and worst is ScreeningDecision.CLEAR:
            worst = ScreeningDecision.REVIEW
        reasons.extend(wallet.reasons)
        return PartyVerdict(worst.value, "; ".join(reasons)[:500])
