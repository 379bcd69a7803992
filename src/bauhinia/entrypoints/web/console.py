"""The operations console (/console): server-rendered pages behind a staff sign-in.

Reads come from the stores through `readmodel`. Every change goes through the very functions the REST API's
routes run (approvals, breaker trip, breaker-reset request), with the same role lists, so the console can never
do what the API would refuse and never skips maker-checker. Forms are CSRF-protected (see `session`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bauhinia.adapters.store import audit
from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import BauhiniaError, ForbiddenError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, OPERATOR, STAFF
from bauhinia.entrypoints.api.routes import approvals as api_approvals
from bauhinia.entrypoints.api.routes import reserves as api_reserves
from bauhinia.entrypoints.web import charts, readmodel
from bauhinia.entrypoints.web.session import (
    COOKIE_PATH,
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    LoginRequired,
    Session,
    SignInLocked,
    check_csrf,
    current_session,
    new_login_csrf,
    sign_in,
    sign_out,
)
from bauhinia.entrypoints.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)

# Who may open which page. Customer data and compliance work are need-to-know: treasury sees neither.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "dashboard": frozenset(STAFF),
    "reserves": frozenset(STAFF),
    "approvals": frozenset(api_approvals.READERS),
    "compliance": frozenset({COMPLIANCE, AUDITOR, ADMIN}),
    "customers": frozenset({OPERATOR, COMPLIANCE, AUDITOR, ADMIN}),
    "controls": frozenset({COMPLIANCE, AUDITOR, ADMIN}),
}
NAV = (("dashboard", "Dashboard", "/console"), ("reserves", "Reserves", "/console/reserves"),
       ("approvals", "Approvals", "/console/approvals"), ("compliance", "Alerts & cases", "/console/compliance"),
       ("customers", "Customers", "/console/customers"), ("controls", "Controls", "/console/controls"))
ApprovalId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_:-]{1,64}$")]
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
CoinName = Annotated[api_reserves.Coin, Path()]
Text500 = Annotated[str, Form(max_length=500)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=256)]


def page_session(page: str) -> Any:
    allowed = PAGE_ROLES[page]

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if not session.roles & allowed:
            raise ForbiddenError("your roles do not allow this page", code="role_not_allowed")
        return session

    return dependency


def _render(request: Request, name: str, session: Session | None, page: str, **context: Any) -> HTMLResponse:
    nav = [(key, label, href) for key, label, href in NAV if session and session.roles & PAGE_ROLES[key]]
    return render(request, name, {
        "session": session, "nav": nav, "page": page, "csrf": session.csrf if session else "",
        "message": request.query_params.get("msg", "")[:300], "level": request.query_params.get("level", "ok"),
        "now": readmodel.now_text(request.app.state.container), "m": readmodel.money,
        "cov": readmodel.coverage_text, "mask": readmodel.mask_account, "hk": readmodel.hk_time,
        "hkdt": readmodel.hk_datetime, "dur": readmodel.duration_text,
        "can": {key: bool(session and session.roles & roles) for key, roles in PAGE_ROLES.items()}, **context,
    })


def _back(to: str, message: str, level: str = "ok") -> RedirectResponse:
    from urllib.parse import urlencode

    return RedirectResponse(f"{to}?{urlencode({'msg': message, 'level': level})}", status_code=303)


def _record(request: Request, session: Session, action: str, subject: str, details: dict[str, Any]) -> None:
    container = request.app.state.container
    with container.engine.begin() as conn:
        audit.append(conn, actor=session.principal.subject, action=f"console.{action}", subject=subject,
                     details=details, now_ns=container.clock.now_ns())


# --- sign-in -----------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = render(request, "login.html", {
        "csrf": token, "message": request.query_params.get("msg", "")[:300], "session": None, "nav": [],
        "level": "ok" if request.query_params.get("level") == "ok" else "error",
    })
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path=COOKIE_PATH,
                        secure=request.url.scheme == "https")
    return response


@router.post("/login")
def login(
    request: Request, client_id: Annotated[str, Form(max_length=64)],
    client_secret: Annotated[str, Form(max_length=256)], csrf_token: CsrfField,
) -> Response:
    check_csrf(request, csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE, ""))
    session_id = sign_in(request, client_id.strip(), client_secret.strip())
    response = RedirectResponse("/console", status_code=303)
    ttl = request.app.state.container.settings.console_session_ttl_s
    response.set_cookie(SESSION_COOKIE, session_id, max_age=ttl, httponly=True, samesite="strict", path=COOKIE_PATH,
                        secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: CsrfField) -> Response:
    session = current_session(request)
    check_csrf(request, csrf_token, session.csrf)
    sign_out(request, session)  # revoked server-side: the cookie, even replayed, opens nothing any more
    response = RedirectResponse("/console/login?msg=Signed+out.&level=ok", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


# --- pages -------------------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: Annotated[Session, Depends(page_session("dashboard"))]) -> Response:
    container = request.app.state.container
    coins = readmodel.coin_views(container)
    charts_svg = {v.coin.value: charts.supply_vs_reserves(readmodel.history(container, v), v.fiat.value,
                                                          f"{v.coin.value}: reserves and coins outstanding")
                  for v in coins}
    pending = container.approvals.list(status=apv.ApprovalStatus.REQUESTED.value, limit=100)
    alerts, cases = readmodel.alerts_and_cases(container) if session.roles & PAGE_ROLES["compliance"] else ([], [])
    return _render(request, "dashboard.html", session, "dashboard", coins=coins, charts=charts_svg,
                   redemptions=readmodel.redemptions_due(container), pending=pending,
                   open_cases=[c for c in cases if c.state.value != "closed"],
                   open_alerts=[a for a, case_id in alerts if case_id is None])


@router.get("/reserves", response_class=HTMLResponse)
def reserves_page(request: Request, session: Annotated[Session, Depends(page_session("reserves"))]) -> Response:
    container = request.app.state.container
    coins = readmodel.coin_views(container)
    runs = {v.coin.value: container.reserves.list_recon_runs(v.coin, limit=10) for v in coins}
    return _render(request, "reserves.html", session, "reserves", coins=coins, runs=runs,
                   incidents=container.reserves.list_incidents()[:50],
                   can_trip=session.can(*api_reserves.BREAKER_TRIPPERS),
                   can_reset=session.can(*api_reserves.BREAKER_RESETTERS))


@router.post("/reserves/breakers/{coin}/trip")
def trip_breaker(
    request: Request, coin: CoinName, reason: Text500, csrf_token: CsrfField,
    session: Annotated[Session, Depends(page_session("reserves"))],
) -> Response:
    check_csrf(request, csrf_token, session.csrf)
    if not session.can(*api_reserves.BREAKER_TRIPPERS):
        raise ForbiddenError("your roles do not allow tripping the breaker", code="role_not_allowed")
    body = api_reserves.BreakerChange(reason=reason.strip() or "-")
    api_reserves.trip_breaker(coin, body, request.app.state.container, session.principal)
    _record(request, session, "breaker_trip", f"breaker:{coin.value}", {"reason": body.reason})
    return _back("/console/reserves", f"Minting of {coin.value} halted.")


@router.post("/reserves/breakers/{coin}/reset")
def request_breaker_reset(
    request: Request, coin: CoinName, reason: Text500, csrf_token: CsrfField,
    session: Annotated[Session, Depends(page_session("reserves"))],
) -> Response:
    check_csrf(request, csrf_token, session.csrf)
    if not session.can(*api_reserves.BREAKER_RESETTERS):
        raise ForbiddenError("your roles do not allow resetting the breaker", code="role_not_allowed")
    body = api_reserves.BreakerChange(reason=reason.strip() or "-")
    request_public = api_reserves.request_breaker_reset(coin, body, request.app.state.container, session.principal)
    _record(request, session, "breaker_reset_requested", f"approval:{request_public.id}", {"coin": coin.value})
    return _back("/console/approvals", f"Reset of the {coin.value} breaker requested: approval {request_public.id} "
                 "needs a second person.")


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, session: Annotated[Session, Depends(page_session("approvals"))]) -> Response:
    container = request.app.state.container
    requested = container.approvals.list(status=apv.ApprovalStatus.REQUESTED.value, limit=100)
    recent = [r for r in container.approvals.list(limit=200) if r.status != apv.ApprovalStatus.REQUESTED][-30:]
    decide = {}
    for r in requested:
        policy = container.approvals.policy(r.kind)
        if r.maker == session.principal.subject:
            decide[r.id] = "You made this request: someone else must approve it."
        elif not session.can(*api_approvals.CHECKERS) or policy is None or not session.roles & policy.approver_roles:
            roles = ", ".join(sorted(policy.approver_roles)) if policy else "-"
            decide[r.id] = f"Needs one of: {roles}."
        elif session.principal.subject in r.approvers:
            decide[r.id] = "You already approved."
        else:
            decide[r.id] = ""
    return _render(request, "approvals.html", session, "approvals", requested=requested,
                   recent=list(reversed(recent)), decide=decide, policies=container.approvals.policies)


@router.post("/approvals/{approval_id}/approve")
def approve(
    request: Request, approval_id: ApprovalId, csrf_token: CsrfField,
    session: Annotated[Session, Depends(page_session("approvals"))], comment: Text500 = "",
) -> Response:
    check_csrf(request, csrf_token, session.csrf)
    if not session.can(*api_approvals.CHECKERS):
        raise ForbiddenError("your roles do not allow deciding approvals", code="role_not_allowed")
    done = api_approvals.approve(approval_id, api_approvals.DecisionCreate(comment=comment),
                                 request.app.state.container, session.principal)
    _record(request, session, "approval_approve", f"approval:{approval_id}", {"status": done.status})
    return _back("/console/approvals", f"Approval {approval_id}: {done.status}.")


@router.post("/approvals/{approval_id}/reject")
def reject(
    request: Request, approval_id: ApprovalId, reason: Text500, csrf_token: CsrfField,
    session: Annotated[Session, Depends(page_session("approvals"))],
) -> Response:
    check_csrf(request, csrf_token, session.csrf)
    if not session.can(*api_approvals.CHECKERS):
        raise ForbiddenError("your roles do not allow deciding approvals", code="role_not_allowed")
    body = api_approvals.RejectionCreate(reason=reason.strip() or "rejected in the console")
    done = api_approvals.reject(approval_id, body, request.app.state.container, session.principal)
    _record(request, session, "approval_reject", f"approval:{approval_id}", {"status": done.status})
    return _back("/console/approvals", f"Approval {approval_id}: {done.status}.")


@router.get("/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, session: Annotated[Session, Depends(page_session("compliance"))]) -> Response:
    alerts, cases = readmodel.alerts_and_cases(request.app.state.container)
    return _render(request, "compliance.html", session, "compliance", alerts=alerts, cases=cases)


@router.get("/customers", response_class=HTMLResponse)
def customers_page(request: Request, session: Annotated[Session, Depends(page_session("customers"))]) -> Response:
    return _render(request, "customers.html", session, "customers",
                   customers=readmodel.customers(request.app.state.container))


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request, customer_id: CustomerId, session: Annotated[Session, Depends(page_session("customers"))],
) -> Response:
    view = readmodel.customer(request.app.state.container, customer_id)
    return _render(request, "customer.html", session, "customers", v=view, Currency=Currency)


@router.get("/controls", response_class=HTMLResponse)
def controls_page(request: Request, session: Annotated[Session, Depends(page_session("controls"))]) -> Response:
    """The requirements register with the result of the latest evidence pack (`bauhinia compliance
    controls-report` writes it under the data folder): green when a requirement's tests passed, red when they
    failed or none proved it, grey when no pack has been run yet."""
    view = readmodel.controls(request.app.state.container)
    return _render(request, "controls.html", session, "controls", v=view)


# --- errors ---------------------------------------------------------------------------------------------------


def install_handlers(app: Any) -> None:
    """Console errors are pages, not problem+json: sign-in redirects, a 403 page, and form errors as messages."""

    async def login_required(request: Request, exc: Exception) -> Response:
        from urllib.parse import urlencode

        reason = exc.reason if isinstance(exc, LoginRequired) else ""
        if request.method == "POST" and request.url.path.endswith("/login"):
            return RedirectResponse(f"/console/login?{urlencode({'msg': reason})}", status_code=303)
        response = RedirectResponse(f"/console/login?{urlencode({'msg': reason})}" if reason else "/console/login",
                                    status_code=303)
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        auditor = getattr(request.app.state, "refusals", None)
        if auditor is not None:
            await auditor.arecord(request, status=403, reason="csrf_refused", detail=str(exc), area="console")
        return render(request, "error.html", {
            "session": None, "nav": [], "status": 403, "title": "Form refused",
            "detail": "This form was not sent from a current console page (CSRF check). Reload and try again.",
        }, status_code=403)

    async def signin_locked(request: Request, exc: Exception) -> Response:
        retry = exc.retry_after_s if isinstance(exc, SignInLocked) else 900
        minutes = max(1, (retry + 59) // 60)
        response = render(request, "login.html", {
            "csrf": request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf(), "session": None, "nav": [],
            "level": "error",
            "message": f"Too many failed sign-ins: signing in is locked for about {minutes} minutes. Try again "
                       "later or ask an administrator.",
        }, status_code=429)
        response.headers["Retry-After"] = str(retry)
        return response

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(SignInLocked, signin_locked)


def console_error(request: Request, exc: BauhiniaError) -> Response | None:
    """A BauhiniaError raised under /console: a form error goes back as a message, a page error is a page."""
    if not request.url.path.startswith("/console"):
        return None
    if request.method == "POST":
        to = request.headers.get("referer", "/console")
        from urllib.parse import urlsplit

        path = urlsplit(to).path or "/console"
        if not path.startswith("/console"):
            path = "/console"
        return _back(path, exc.detail, "error")
    try:
        session: Session | None = current_session(request)
    except LoginRequired:
        session = None
    return _render_error(request, session, exc)


def _render_error(request: Request, session: Session | None, exc: BauhiniaError) -> Response:
    nav = [(key, label, href) for key, label, href in NAV if session and session.roles & PAGE_ROLES[key]]
    return render(request, "error.html", {
        "session": session, "nav": nav, "csrf": session.csrf if session else "", "status": exc.http_status,
        "title": exc.title, "detail": exc.detail,
    }, status_code=exc.http_status)
