# pytest_outcomes.py - pytest plugin for the conformance harness: one JSON line per test phase, written as it happens.
"""Loaded with `-p pytest_outcomes` (PYTHONPATH=tests/conformance) into the drivers' own
suites. Each report becomes a line {"id", "when", "outcome", "msg"} in the file named by
CONFORMANCE_OUTCOMES, flushed at once: when a run is killed by its timeout the tests
finished so far are still known (pytest writes its --junitxml only at the end).
"""

import json
import os

_FILE = None


def _out():
    global _FILE
    if _FILE is None:
        _FILE = open(os.environ["CONFORMANCE_OUTCOMES"], "a", encoding="utf-8")
    return _FILE


def pytest_runtest_logreport(report):
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    msg = ""
    if report.failed:
        # the last line of the failure (the exception), enough to tell a cause apart
        text = report.longreprtext or ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        msg = lines[-1][:400] if lines else ""
        for ln in lines:
            if ln.startswith("E "):
                msg = ln[1:].strip()[:400]
                break
    f = _out()
    f.write(json.dumps({"id": report.nodeid, "when": report.when, "outcome": outcome, "msg": msg}) + "\n")
    f.flush()
