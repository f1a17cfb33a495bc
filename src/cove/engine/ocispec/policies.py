"""Restart policies and health checks: not part of the OCI spec, parsed here for the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cove.engine.ocispec._fields import Fields, show
from cove.errors import InvalidArgument

__all__ = ["MIN_HEALTH_DURATION_NS", "Healthcheck", "RestartPolicy", "RestartPolicyName",
           "merge_healthcheck", "parse_healthcheck", "parse_restart_policy"]

# Engine API (HealthConfig): durations "should be 0 or at least 1000000 (1 ms)".
MIN_HEALTH_DURATION_NS = 1_000_000


class RestartPolicyName(str, Enum):
    NO = "no"
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    UNLESS_STOPPED = "unless-stopped"


@dataclass(frozen=True)
class RestartPolicy:
    name: RestartPolicyName = RestartPolicyName.NO
    maximum_retry_count: int = 0  # only with on-failure; 0 = retry forever

    def to_api(self) -> dict[str, object]:
        return {"Name": self.name.value, "MaximumRetryCount": self.maximum_retry_count}


def parse_restart_policy(obj: object,
                         where: str = "HostConfig.RestartPolicy") -> RestartPolicy:
    """A decoded RestartPolicy object; an empty name means ``no``, as in Docker."""
    return restart_policy_from(Fields(obj, where))


def restart_policy_from(fields: Fields) -> RestartPolicy:
    name = fields.text("Name")
    count = fields.number("MaximumRetryCount")
    try:
        policy = RestartPolicyName(name or "no")
    except ValueError:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of "
                              "'no', 'always', 'on-failure', or 'unless-stopped'") from None
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if count and policy is not RestartPolicyName.ON_FAILURE:
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")
    return RestartPolicy(policy, count)


@dataclass(frozen=True)
class Healthcheck:
    """A HealthConfig. ``test`` is () to inherit, ("NONE",) to disable, or
    ("CMD", args...) / ("CMD-SHELL", command). Durations in ns, 0 = inherit/default."""

    test: tuple[str, ...] = ()
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0

    @property
    def disabled(self) -> bool:
        return self.test[:1] == ("NONE",)

    def to_api(self) -> dict[str, object]:
        return {"Test": list(self.test), "Interval": self.interval_ns,
                "Timeout": self.timeout_ns, "StartPeriod": self.start_period_ns,
                "StartInterval": self.start_interval_ns, "Retries": self.retries}


_DURATIONS = (("Interval", "interval_ns"), ("Timeout", "timeout_ns"),
              ("StartPeriod", "start_period_ns"), ("StartInterval", "start_interval_ns"))


def parse_healthcheck(obj: object, where: str = "Healthcheck") -> Healthcheck:
    """A decoded HealthConfig object, checked with Docker's minimums."""
    return healthcheck_from(Fields(obj, where))


def healthcheck_from(fields: Fields) -> Healthcheck:
    test = fields.str_list("Test") or []
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        fields.fail("Test", test, 'the first item must be "NONE", "CMD" or "CMD-SHELL"')
    if test[:1] in (["CMD"], ["CMD-SHELL"]) and len(test) < 2:
        fields.fail("Test", test, f"{test[0]} needs a command")
    if test[:1] == ["CMD-SHELL"] and len(test) > 2:
        fields.fail("Test", test, "CMD-SHELL takes exactly one command string")
    values: dict[str, int] = {}
    for key, attr in _DURATIONS:
        value = fields.number(key)
        if value != 0 and value < MIN_HEALTH_DURATION_NS:
            # Docker's own wording (daemon verifyContainerSettings).
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms: "
                                  f"{show(value)}")
        values[attr] = value
    retries = fields.number("Retries")
    if retries < 0:
        raise InvalidArgument(f"Retries in Healthcheck cannot be negative: {retries}")
    return Healthcheck(test=tuple(test), retries=retries, **values)


def merge_healthcheck(container: Healthcheck | None,
                      image: Healthcheck | None) -> Healthcheck | None:
    """Docker's rule: the container's check, its empty test and zero values filled from
    the image's."""
    if image is None:
        return container
    if container is None:
        return image
    return Healthcheck(
        test=container.test or image.test,
        interval_ns=container.interval_ns or image.interval_ns,
        timeout_ns=container.timeout_ns or image.timeout_ns,
        start_period_ns=container.start_period_ns or image.start_period_ns,
        start_interval_ns=container.start_interval_ns or image.start_interval_ns,
        retries=container.retries or image.retries,
    )
