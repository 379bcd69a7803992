"""`bauhinia approvals list | show | approve | reject | execute`: the maker-checker queue, decided as the
authenticated operator (BAUHINIA_OPERATOR_ID / BAUHINIA_OPERATOR_SECRET) through the same approvals service as
the API and the console. The maker never decides its own request; approving runs the operation once."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bauhinia.domain import approvals as apv

app = typer.Typer(help="Maker-checker approvals: list, show, approve, reject, execute.", no_args_is_help=True)


def _container() -> Any:
    from bauhinia.bootstrap import Container

    return Container()


def _line(r: apv.ApprovalRequest) -> str:
    approvers = ",".join(r.approvers) or "-"
    return f"{r.id} {r.kind} {r.status.value} maker={r.maker} approvers={approvers}" + (
        f" error={r.last_error}" if r.last_error else "")


def _doc(r: apv.ApprovalRequest) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "status": r.status.value, "maker": r.maker, "params": dict(r.params),
            "approvals_required": r.approvals_required, "created_at_ns": r.created_at_ns,
            "expires_at_ns": r.expires_at_ns,
            "decisions": [{"actor": d.actor, "approve": d.approve, "at_ns": d.at_ns, "comment": d.comment}
                          for d in r.decisions],
            "result": None if r.result is None else dict(r.result), "last_error": r.last_error, "reason": r.reason}


@app.command("list")
def list_cmd(status: Annotated[str | None, typer.Option(help="requested, approved, rejected, expired, executed")]
             = "requested", limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """Approval requests (open ones by default), one a line."""
    for r in _container().approvals.list(status=status or None, limit=limit):
        typer.echo(_line(r))


@app.command("show")
def show(approval_id: Annotated[str, typer.Argument()]) -> None:
    """One approval request as JSON."""
    typer.echo(json.dumps(_doc(_container().approvals.get(approval_id)), indent=2, sort_keys=True))


@app.command("approve")
def approve(approval_id: Annotated[str, typer.Argument()],
            comment: Annotated[str, typer.Option(help="recorded with the decision")] = "") -> None:
    """Approve as the operator (never the maker); enough approvals run the operation."""
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    typer.echo(_line(controls.approve(_container().approvals, approval_id, _identity.current(), comment)))


@app.command("reject")
def reject(approval_id: Annotated[str, typer.Argument()],
           reason: Annotated[str, typer.Option(help="why not")]) -> None:
    """Reject as the operator (never the maker); the request is closed."""
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    typer.echo(_line(controls.reject(_container().approvals, approval_id, _identity.current(), reason)))


@app.command("execute")
def execute(approval_id: Annotated[str, typer.Argument()]) -> None:
    """Run an approved request whose execution failed before (it still runs once)."""
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    typer.echo(_line(controls.execute(_container().approvals, approval_id, _identity.current())))


@app.command("resubmit")
def resubmit(approval_id: Annotated[str, typer.Argument()]) -> None:
    """Open again an operation whose request expired undecided (e.g. a high-risk customer's sign-off); you become
    its maker, so another person approves it."""
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    typer.echo(_line(controls.resubmit(_container().approvals, approval_id, _identity.current())))


@app.command("policies")
def policies_cmd() -> None:
    """The approval policies in force (the defaults, with approved policy changes), as JSON."""
    from bauhinia.services import controls

    service = _container().approvals
    typer.echo(json.dumps([controls.policy_view(p) for _, p in sorted(service.policies.items())], indent=2))


@app.command("policy-set")
def policy_set(kind: Annotated[str, typer.Argument(help="the policy, e.g. mint or freeze")],
               reason: Annotated[str, typer.Option(help="why the policy changes")],
               approver_roles: Annotated[str | None, typer.Option(help="comma-separated, e.g. treasury,admin")] = None,
               approvals_required: Annotated[int | None, typer.Option(help="distinct approvers needed")] = None,
               ttl_s: Annotated[int | None, typer.Option(help="how long a request stays open, seconds")] = None,
               threshold_minor: Annotated[int | None, typer.Option(
                   help="above this amount (minor units) the operation needs approval")] = None) -> None:
    """Ask to change an approval policy: a policy_change request that two other admins approve."""
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    changes: dict[str, Any] = {}
    if approver_roles is not None:
        changes["approver_roles"] = [r.strip() for r in approver_roles.split(",") if r.strip()]
    if approvals_required is not None:
        changes["approvals_required"] = approvals_required
    if ttl_s is not None:
        changes["ttl_s"] = ttl_s
    if threshold_minor is not None:
        changes["threshold"] = threshold_minor
    sub = controls.request_policy_change(_container().approvals, _identity.current(), kind, changes, reason)
    typer.echo(_line(sub.request) if sub.request is not None else json.dumps(sub.result))
