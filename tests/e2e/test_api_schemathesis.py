"""Schemathesis against the OpenAPI contract, in-process (ASGI): no input makes the API answer 5xx.

Every operation gets a bounded number of generated requests, sent as an admin (the deepest access), against the
real parts a user runs: the in-process revm chain with both coins deployed and the packaged sanctions lists."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from api_support import make_api  # tests/e2e/api_support.py
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 15


def test_no_server_errors(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    auth = {"Authorization": f"Bearer {api.tokens['admin']}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=dict(auth))
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every failing operation, not only the first
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert operations >= 30
    sent = sum(s.value for m in api.client.app.state.metrics.requests.collect() for s in m.samples
               if s.name.endswith("_total"))
    statuses = {s.labels["status"] for m in api.client.app.state.metrics.requests.collect() for s in m.samples}
    assert sent >= operations * 5, sent  # the generator really exercised the API
    assert {"200", "422"} <= statuses
    assert failures == [], "\n\n".join(failures)
