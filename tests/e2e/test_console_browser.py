"""The operations console and the transparency page in headless Chromium: sign-in per role and what each role
sees and cannot do, coverage and a redemption's time left on the dashboard, maker-checker through the console,
CSRF, and the proof checker (server and in-browser JavaScript) on a valid and a tampered proof."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_browser import CHROMIUM_ARGS, TIMEOUT_MS, Site, csrf_of, require_chromium, serve, shot, sign_in

from bauhinia.domain.money import Currency

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    from bauhinia.entrypoints.api.app import create_app
    from bauhinia.entrypoints.web import demo_data

    data = demo_data.seed(tmp_path_factory.mktemp("console") / "data", api_jwt_secret="c" * 40, log_json=False)
    app = create_app(data.container.settings, container=data.container)
    with serve(app) as base:
        yield Site(base, data)
    data.container.close()


@pytest.fixture(scope="module")
def page(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=require_chromium(),
            args=CHROMIUM_ARGS, headless=True, viewport={"width": 1360, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        yield pg
        context.close()
        assert errors == [], f"JavaScript errors: {errors}"


def _nav(page: Any) -> set[str]:
    return set(page.locator("[data-nav]").evaluate_all("els => els.map(e => e.dataset.nav)"))


def test_console_needs_sign_in_and_refuses_customers(site: Site, page: Any) -> None:
    page.context.clear_cookies()
    page.goto(f"{site.base}/console/approvals")
    assert page.url.endswith("/console/login")
    sign_in(page, site.base, "ops-admin", "not-the-secret")
    assert "/console/login" in page.url and "wrong secret" in page.get_by_test_id("flash").inner_text()
    sign_in(page, site.base, "cust-szx", site.data.secrets["cust-szx"])
    assert "/console/login" in page.url and "for the issuer's staff" in page.get_by_test_id("flash").inner_text()
    shot(page, "login-refused")
    page.goto(f"{site.base}/console")
    assert page.url.endswith("/console/login")


@pytest.mark.parametrize(("client_id", "pages", "forbidden"), [
    ("ops-operator", {"dashboard", "reserves", "approvals", "customers"}, "/console/compliance"),
    ("ops-treasury", {"dashboard", "reserves", "approvals"}, "/console/customers/szx-hk"),
    ("ops-compliance", {"dashboard", "reserves", "approvals", "compliance", "customers", "controls"}, None),
    ("ops-auditor", {"dashboard", "reserves", "approvals", "compliance", "customers", "controls"}, None),
    ("ops-admin", {"dashboard", "reserves", "approvals", "compliance", "customers", "controls"}, None),
])
def test_each_role_sees_its_pages(site: Site, page: Any, client_id: str, pages: set[str],
                                  forbidden: str | None) -> None:
    sign_in(page, site.base, client_id, site.data.secrets[client_id])
    assert page.url.rstrip("/").endswith("/console"), page.url
    assert page.get_by_test_id("user").inner_text() == client_id
    assert _nav(page) == pages
    if forbidden:
        response = page.goto(f"{site.base}{forbidden}")
        assert response.status == 403
        assert "your roles do not allow this page" in page.get_by_test_id("error").inner_text()


def test_dashboard_shows_coverage_and_redemption_time_left(site: Site, page: Any) -> None:
    from bauhinia.entrypoints.web import readmodel

    sign_in(page, site.base, "ops-operator", site.data.secrets["ops-operator"])
    for view in readmodel.coin_views(site.container):
        shown = page.get_by_test_id(f"coverage-{view.coin.value}").inner_text()
        assert shown == readmodel.coverage_text(view.coverage_bps)
        assert shown.endswith("%") and int(shown.split(".")[0]) >= 100
    row = page.locator(f"tr[data-redemption='{site.data.unpaid_redemption}']")
    assert "HKD 120,000.00" in row.inner_text()
    left = row.get_by_test_id("time-left").inner_text()
    assert " h " in left or " d " in left, left
    assert page.locator("svg.chart polyline.reserve").count() == 2  # one chart per coin, server-rendered
    assert page.locator("svg.chart polyline.supply").count() == 2
    shot(page, "dashboard")
    page.goto(f"{site.base}/console/customers/peak-tea")
    accounts = page.get_by_test_id("bank-accounts").inner_text()
    assert "•••• 0977" in accounts and "551230" not in page.content()  # masked, never in full
    assert "HKD 120,000.00" in page.get_by_test_id("customer-redemptions").inner_text()
    shot(page, "customer")
    page.goto(f"{site.base}/console/reserves")
    shot(page, "reserves")


def test_auditor_is_read_only(site: Site, page: Any) -> None:
    approval_id = site.data.pending_approval
    sign_in(page, site.base, "ops-auditor", site.data.secrets["ops-auditor"])
    page.goto(f"{site.base}/console/approvals")
    row = page.locator(f"tr[data-approval='{approval_id}']")
    assert row.locator("[data-action=approve]").count() == 0
    assert "Needs one of" in row.get_by_test_id("cannot-decide").inner_text()
    # Even a well-formed POST with the auditor's own CSRF token is refused by the role check.
    response = page.request.post(f"{site.base}/console/approvals/{approval_id}/approve",
                                 form={"csrf_token": csrf_of(page)}, headers={"Origin": site.base})
    assert "your roles do not allow deciding approvals" in response.text()
    page.goto(f"{site.base}/console/compliance")
    assert page.get_by_test_id("cases").count() == 1 and "structuring" in page.get_by_test_id("alerts").inner_text()
    shot(page, "compliance")
    assert site.container.approvals.get(approval_id).status.value == "requested"


def test_forms_need_the_csrf_token(site: Site, page: Any) -> None:
    approval_id = site.data.pending_approval
    sign_in(page, site.base, "ops-admin", site.data.secrets["ops-admin"])
    response = page.request.post(f"{site.base}/console/approvals/{approval_id}/approve",
                                 form={"csrf_token": "0" * 64}, headers={"Origin": site.base})
    assert response.status == 403 and "CSRF" in response.text()
    response = page.request.post(f"{site.base}/console/approvals/{approval_id}/approve",
                                 form={"csrf_token": csrf_of(page)}, headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert site.container.approvals.get(approval_id).status.value == "requested"


def test_maker_cannot_approve_and_a_second_person_can(site: Site, page: Any) -> None:
    approval_id = site.data.pending_approval
    reserves = site.container.reserves
    assert reserves.breaker_state(Currency.BCNH).halted
    sign_in(page, site.base, "ops-treasury", site.data.secrets["ops-treasury"])  # the maker
    page.goto(f"{site.base}/console/approvals")
    row = page.locator(f"tr[data-approval='{approval_id}']")
    assert "You made this request" in row.get_by_test_id("cannot-decide").inner_text()
    response = page.request.post(f"{site.base}/console/approvals/{approval_id}/approve",
                                 form={"csrf_token": csrf_of(page)}, headers={"Origin": site.base})
    assert response.ok and 'class="flash error"' in response.text()  # the service's refusal, shown as a message
    assert site.container.approvals.get(approval_id).status.value == "requested"  # the service refused it
    shot(page, "approvals")

    sign_in(page, site.base, "ops-admin", site.data.secrets["ops-admin"])
    page.goto(f"{site.base}/console/approvals")
    shot(page, "approvals-checker")
    page.locator(f"tr[data-approval='{approval_id}'] [data-action=approve]").click()
    page.wait_for_load_state()
    assert "executed" in page.get_by_test_id("flash").inner_text()
    shot(page, "approval-executed")
    assert approval_id in page.get_by_test_id("recent-approvals").inner_text()
    done = site.container.approvals.get(approval_id)
    assert done.status.value == "executed" and done.approvers == ("client:ops-admin",)
    assert not reserves.breaker_state(Currency.BCNH).halted  # the executor ran, once


def test_breaker_trip_then_reset_request_goes_to_the_queue(site: Site, page: Any) -> None:
    sign_in(page, site.base, "ops-treasury", site.data.secrets["ops-treasury"])
    page.goto(f"{site.base}/console/reserves")
    form = page.locator("form[action='/console/reserves/breakers/BHKD/trip']")
    form.locator("input[name=reason]").fill("test: bank feed stalled")
    form.locator("button").click()
    page.wait_for_load_state()
    assert site.container.reserves.breaker_state(Currency.BHKD).halted
    form = page.locator("form[action='/console/reserves/breakers/BHKD/reset']")
    form.locator("input[name=reason]").fill("feed restored and reconciled")
    form.locator("button").click()
    page.wait_for_load_state()
    assert "needs a second person" in page.get_by_test_id("flash").inner_text()
    assert site.container.reserves.breaker_state(Currency.BHKD).halted  # still halted until approved
    assert page.locator("tr[data-approval] [data-testid=cannot-decide]").first.inner_text().startswith("You made")


def _tampered(proof_text: str) -> str:
    data = json.loads(proof_text)
    data["leaf"]["balance_base_units"] = str(int(data["leaf"]["balance_base_units"]) + 1_000_000_000)
    return json.dumps(data)


def _wait_true(page: Any, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a page expression from the test side: page.evaluate is not subject to the page's CSP, while
    wait_for_function may be refused by it ('unsafe-eval' is rightly not allowed)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(f"() => Boolean({expression})"):
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expression}")


def _verdicts(page: Any, text: str, holder_id: str = "") -> tuple[str, str]:
    page.fill("#proof-text", text)
    page.fill("#holder-id", holder_id)
    page.click("#verify-button")
    for box in ("#browser-verdict", "#server-verdict"):
        _wait_true(page, f"document.querySelector('{box}').dataset.state !== 'checking' && "
                         f"!document.querySelector('{box}').hidden")
    return page.inner_text("#browser-verdict"), page.inner_text("#server-verdict")


def test_transparency_page_and_proof_checker(site: Site, page: Any, tmp_path: Path) -> None:
    from bauhinia.entrypoints.web import readmodel

    page.context.clear_cookies()
    page.goto(f"{site.base}/transparency")  # public: no sign-in
    for view in readmodel.coin_views(site.container):
        assert page.get_by_test_id(f"public-coverage-{view.coin.value}").inner_text() == view.coverage
        assert page.get_by_test_id(f"supply-{view.coin.value}").inner_text() == readmodel.money(
            view.outstanding_minor, view.fiat)
        assert page.get_by_test_id(f"root-hash-{view.coin.value}").inner_text() == view.root.root_hash_hex
    # The page's own SHA-256 (used without WebCrypto) agrees with the browser's WebCrypto.
    same = page.evaluate("""async () => {
        const data = new TextEncoder().encode('bauhinia'.repeat(40));
        const a = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
        const b = window.BauhiniaProof.sha256Pure(data);
        return a.length === 32 && a.every((v, i) => v === b[i]);
    }""")
    assert same is True

    key = "BHKD:harbour-fx"
    good = site.data.proofs[key]
    mine, server = _verdicts(page, good, site.data.holder_ids[key])
    assert "valid: a balance of BHKD" in mine and "the leaf is yours" in mine, mine
    assert "valid: a balance of BHKD" in server and "not valid" not in server, server
    shot(page, "transparency-valid")

    mine, server = _verdicts(page, _tampered(good))
    assert "not valid" in mine and "published root" in mine, mine
    assert "not valid" in server and "published root" in server, server
    shot(page, "transparency-tampered")

    mine, _ = _verdicts(page, good, "chain:0x0000000000000000000000000000000000000001")
    assert "holder id does not match" in mine

    # Upload instead of paste; the file's text goes through the same checks.
    path = tmp_path / "proof.json"
    path.write_text(site.data.proofs["BCNH:kln-imp"])
    page.fill("#proof-text", "")
    page.set_input_files("#proof-file", str(path))
    _wait_true(page, "document.querySelector('#proof-text').value.length > 0")
    page.fill("#holder-id", "")
    page.click("#verify-button")
    _wait_true(page, "document.querySelector('#server-verdict').dataset.state === 'valid'")
    assert "BCNH" in page.inner_text("#browser-verdict")


def test_proof_with_its_own_root_is_not_trusted(site: Site, page: Any) -> None:
    """A self-consistent proof over a made-up tree passes against the root inside it, so both checkers must compare
    with the published root instead."""
    from bauhinia.domain import proofs

    forged_leaf = (proofs.hash_holder_id("chain:0xabc", b"s" * 16), 10**15)
    other = (proofs.hash_holder_id("chain:0xdef", b"t" * 16), 1)
    snapshot_id = json.loads(site.data.proofs["BHKD:harbour-fx"])["snapshot_id"]
    tree = proofs.build_sum_tree([forged_leaf, other], snapshot_id=snapshot_id, coin="BHKD")
    forged = proofs.proof_to_json(tree.proof(tree.index_of(forged_leaf[0])))
    page.goto(f"{site.base}/transparency")
    mine, server = _verdicts(page, forged)
    assert "not valid" in mine and "not valid" in server


def test_server_form_path_without_javascript(site: Site, page: Any) -> None:
    response = page.request.post(f"{site.base}/transparency/verify", multipart={
        "proof_text": site.data.proofs["BHKD:peak-tea"], "holder_id": site.data.holder_ids["BHKD:peak-tea"]})
    assert response.ok
    text = response.text()
    assert 'data-state="valid"' in text and "and the leaf is yours" in text
    response = page.request.post(f"{site.base}/transparency/verify",
                                 multipart={"proof_text": _tampered(site.data.proofs["BHKD:peak-tea"])})
    assert 'data-state="invalid"' in response.text()
