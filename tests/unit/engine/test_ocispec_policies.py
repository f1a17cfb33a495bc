"""Restart policies, health checks and stop signals."""

from __future__ import annotations

import pytest

from cove.engine.ocispec import (
    RestartPolicyName,
    parse_healthcheck,
    parse_restart_policy,
    parse_signal,
    signal_name,
)
from cove.errors import InvalidArgument


@pytest.mark.parametrize(("obj", "name", "count"), [
    (None, RestartPolicyName.NO, 0),
    ({"Name": ""}, RestartPolicyName.NO, 0),
    ({"Name": "always"}, RestartPolicyName.ALWAYS, 0),
    ({"Name": "unless-stopped"}, RestartPolicyName.UNLESS_STOPPED, 0),
    ({"Name": "on-failure", "MaximumRetryCount": 5}, RestartPolicyName.ON_FAILURE, 5),
])
def test_restart_policy(obj: object, name: RestartPolicyName, count: int) -> None:
    policy = parse_restart_policy(obj)
    assert (policy.name, policy.maximum_retry_count) == (name, count)
    assert policy.to_api()["Name"] == name.value


@pytest.mark.parametrize(("obj", "message"), [
    ({"Name": "sometimes"}, "invalid restart policy: unknown policy 'sometimes'"),
    ({"Name": "always", "MaximumRetryCount": 2},
     "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    ({"Name": "on-failure", "MaximumRetryCount": -1},
     "invalid restart policy: maximum retry count cannot be negative"),
])
def test_restart_policy_errors(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_restart_policy(obj)


def test_healthcheck() -> None:
    h = parse_healthcheck({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 1_000_000,
                           "Timeout": 0, "StartPeriod": 3_000_000_000, "Retries": 2})
    assert h.test == ("CMD-SHELL", "curl -f localhost")
    assert (h.interval_ns, h.start_period_ns, h.retries) == (1_000_000, 3_000_000_000, 2)
    assert not h.disabled
    assert parse_healthcheck({"Test": ["NONE"]}).disabled
    assert parse_healthcheck({}).test == ()


@pytest.mark.parametrize(("obj", "message"), [
    ({"Interval": 999_999}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Timeout": 10}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"StartPeriod": 1}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"StartInterval": 5}, "StartInterval in Healthcheck cannot be less than 1ms"),
    ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ({"Test": ["CMD"]}, "CMD needs a command"),
    ({"Test": ["CMD-SHELL", "a", "b"]}, "CMD-SHELL takes exactly one command"),
    ({"Test": ["RUN", "x"]}, "the first item must be"),
])
def test_healthcheck_errors(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_healthcheck(obj)


@pytest.mark.parametrize(("text", "number"), [
    ("SIGTERM", 15), ("TERM", 15), ("term", 15), ("9", 9), (2, 2), ("SIGRTMIN", 34),
    ("SIGRTMIN+3", 37), ("RTMAX-1", 63), ("SIGCHLD", 17), ("SIGIOT", 6),
])
def test_parse_signal(text: str | int, number: int) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["SIGFOO", "0", "65", "-1", "", "SIGRTMIN+40", "RTMIN+x"])
def test_bad_signal(text: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid signal"):
        parse_signal(text)


def test_signal_name() -> None:
    assert signal_name(15) == "SIGTERM"
    assert signal_name(6) == "SIGABRT"
    assert signal_name(36) == "SIGRTMIN+2"
