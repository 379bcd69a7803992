"""Pytest plugin used by `bauhinia compliance controls-report`: writes every test that carries
`@pytest.mark.requirement(ID)` with its outcome to the JSON file named by BAUHINIA_EVIDENCE_OUT."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_marks: dict[str, list[str]] = {}
_results: dict[str, dict[str, Any]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        ids = [str(a) for m in item.iter_markers("requirement") for a in m.args]
        if ids:
            _marks[item.nodeid] = ids


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _marks:
        return
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "duration_s": 0.0, "message": ""})
    entry["duration_s"] += float(report.duration)
    if report.failed:
        entry["outcome"] = "failed"
        entry["message"] = str(report.longrepr)[-600:]
    elif report.skipped and entry["outcome"] != "failed":
        entry["outcome"] = "skipped"
        entry["message"] = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)[-300:]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("BAUHINIA_EVIDENCE_OUT")
    if not path:
        return
    rows = [{"nodeid": n, "requirements": _marks[n], **_results.get(n, {"outcome": "skipped", "duration_s": 0.0,
                                                                            "message": "not run"})}
            for n in sorted(_marks)]
    with open(path, "w") as fh:
        json.dump({"tests": rows}, fh, indent=1)
