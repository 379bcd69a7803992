"""Hypothesis state machine over StableCoin.vy: random mints, batch mints, transfers, burns, freezes, wipes
and attestations against a Python model. Invariants: sum of balances == totalSupply; supply never exceeds the
attested reserve through a mint; the contract accepts exactly what the model accepts."""

from __future__ import annotations

from typing import Any

import boa
from contract_env import UNIT, actors, deploy_coin, pack_credits
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

A = actors()
HOLDERS = [A.alice.address, A.bob.address, A.carol.address, A.minter]
holder = st.sampled_from(HOLDERS)
amount = st.integers(min_value=1, max_value=300 * UNIT)


class CoinMachine(RuleBasedStateMachine):
    @initialize()
    def deploy(self) -> None:
        self.anchor = boa.env.anchor()
        self.anchor.__enter__()
        self.coin: Any = deploy_coin(A, reserve_base_units=1_000 * UNIT)
        self.reserve = 1_000 * UNIT
        self.balances = dict.fromkeys(HOLDERS, 0)
        self.frozen: set[str] = set()

    def teardown(self) -> None:
        if hasattr(self, "anchor"):
            self.anchor.__exit__(None, None, None)

    @property
    def supply(self) -> int:
        return sum(self.balances.values())

    @rule(to=holder, value=amount)
    def mint(self, to: str, value: int) -> None:
        ok = to not in self.frozen and A.minter not in self.frozen and self.supply + value <= self.reserve
        with boa.env.prank(A.minter):
            if ok:
                self.coin.mint(to, value)
                self.balances[to] += value
                assert self.coin.totalSupply() <= self.coin.attested_reserve()
            else:
                with boa.reverts():
                    self.coin.mint(to, value)

    @rule(receivers=st.lists(holder, min_size=1, max_size=6), value=st.integers(1, 80 * UNIT))
    def batch_mint(self, receivers: list[str], value: int) -> None:
        total = value * len(receivers)
        ok = (not (set(receivers) | {A.minter}) & self.frozen) and self.supply + total <= self.reserve
        with boa.env.prank(A.minter):
            if ok:
                self.coin.batchMint(pack_credits(receivers, [value] * len(receivers)))
                for r in receivers:
                    self.balances[r] += value
                assert self.coin.totalSupply() <= self.coin.attested_reserve()
            else:
                with boa.reverts():
                    self.coin.batchMint(pack_credits(receivers, [value] * len(receivers)))

    @rule(src=holder, dst=holder, value=amount)
    def transfer(self, src: str, dst: str, value: int) -> None:
        ok = src not in self.frozen and dst not in self.frozen and self.balances[src] >= value
        with boa.env.prank(src):
            if ok:
                self.coin.transfer(dst, value)
                self.balances[src] -= value
                self.balances[dst] += value
            else:
                with boa.reverts():
                    self.coin.transfer(dst, value)

    @rule(value=amount)
    def burn(self, value: int) -> None:
        ok = A.minter not in self.frozen and self.balances[A.minter] >= value
        with boa.env.prank(A.minter):
            if ok:
                self.coin.burn(value)
                self.balances[A.minter] -= value
            else:
                with boa.reverts():
                    self.coin.burn(value)

    @rule(who=holder)
    def toggle_freeze(self, who: str) -> None:
        with boa.env.prank(A.blacklister):
            if who in self.frozen:
                self.coin.unfreeze(who)
                self.frozen.discard(who)
            else:
                self.coin.freeze(who)
                self.frozen.add(who)

    @rule(who=holder)
    def wipe(self, who: str) -> None:
        ok = who in self.frozen and self.balances[who] > 0
        with boa.env.prank(A.blacklister):
            if ok:
                self.coin.wipeFrozenBalance(who, b"\x05" * 32)
                self.balances[who] = 0
            else:
                with boa.reverts():
                    self.coin.wipeFrozenBalance(who, b"\x05" * 32)

    @rule(reserve=st.integers(0, 2_000 * UNIT))
    def attest(self, reserve: int) -> None:
        # The attested reserve may fall below supply (a loss): then minting stops, nothing else changes.
        with boa.env.prank(A.attestor):
            self.coin.attestReserve(reserve, boa.env.timestamp, b"\x06" * 32)
        self.reserve = reserve

    @invariant()
    def balances_sum_to_supply(self) -> None:
        if not hasattr(self, "coin"):
            return
        on_chain = {h: self.coin.balanceOf(h) for h in HOLDERS}
        assert on_chain == self.balances
        assert sum(on_chain.values()) == self.coin.totalSupply()

    @invariant()
    def headroom_matches(self) -> None:
        if not hasattr(self, "coin"):
            return
        assert self.coin.mintHeadroom() == max(0, self.reserve - self.supply)


CoinMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCoinProperties = CoinMachine.TestCase
