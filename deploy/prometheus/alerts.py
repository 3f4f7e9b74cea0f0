"""faxrelay's alert rules, built from code so that the business hours are settings, not PromQL.

    python -m deploy.prometheus.alerts -o deploy/prometheus/alerts.yml
    python -m deploy.prometheus.alerts --prometheus-rule \\
        -o deploy/k8s/components/prometheus-operator/prometheusrule.yaml

Both committed files are the defaults below (a test fails when either is stale). An installation
with other hours writes its own copy with the flags (docs/platform.md, "Alerts"):

    python -m deploy.prometheus.alerts --days mon-fri --hours 8-18 --utc-offset=+01:00 \\
        --quiet-hours 2 -o alerts.local.yml

PromQL's hour() and day_of_week() are UTC; the offset shifts the clock they read
(hour(vector(time() + offset))), so the days are local days too. A fixed offset knows no
daylight saving time: regenerate when the clocks change, or pick the offset that keeps the
window inside your hours all year.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # PromQL's day_of_week(): 0 is Sunday
COMMAND = "python -m deploy.prometheus.alerts"


@dataclass(frozen=True)
class BusinessHours:
    """When FaxrelayNoFaxRoutedInBusinessHours may fire: on `days`, from `start` to `end`
    (local hours, end excluded) at `utc_offset`, once `quiet_hours` passed without a routed fax.
    It looks only at hours inside the window, so it fires from start + quiet_hours on: an empty
    night does not page anyone at the first minute of the morning."""

    days: str = "mon-fri"
    start: int = 8
    end: int = 18
    utc_offset: str = "+00:00"
    quiet_hours: int = 2

    def __post_init__(self) -> None:
        day_numbers(self.days)
        offset_seconds(self.utc_offset)
        if not 0 <= self.start < self.end <= 24:
            raise ValueError(f"hours {self.start}-{self.end}: want 0 <= start < end <= 24")
        if not 1 <= self.quiet_hours < self.end - self.start:
            raise ValueError(
                f"quiet hours {self.quiet_hours}: want at least 1 and fewer than the "
                f"{self.end - self.start} business hours, or the alert could never fire"
            )

    def flags(self) -> str:
        return (
            f"--days {self.days} --hours {self.start}-{self.end} "
            f"--utc-offset={self.utc_offset} --quiet-hours {self.quiet_hours}"
        )

    def describe(self) -> str:
        return f"{self.days} {self.start:02d}:00-{self.end:02d}:00 UTC{self.utc_offset}"


def day_numbers(days: str) -> list[int]:
    """'mon-fri' or 'mon,wed,sat' or 'fri-mon' (wrapping) -> day_of_week() numbers, sorted."""
    found: set[int] = set()
    for part in days.lower().split(","):
        ends = part.strip().split("-")
        if len(ends) > 2 or not all(e in DAYS for e in ends):
            raise ValueError(f"days {days!r}: use mon..sun, ranges 'mon-fri', lists 'mon,thu'")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        found.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return sorted(found)


def offset_seconds(offset: str) -> int:
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", offset)
    if not match or int(match[2]) > 14 or int(match[3]) >= 60:
        raise ValueError(f"UTC offset {offset!r}: use +HH:MM or -HH:MM, e.g. +01:00, -05:00")
    seconds = int(match[2]) * 3600 + int(match[3]) * 60
    return -seconds if match[1] == "-" else seconds


def local(function: str, offset: int) -> str:
    if offset == 0:
        return f"{function}()"
    return f"{function}(vector(time() {'+' if offset > 0 else '-'} {abs(offset)}))"


def runs(numbers: list[int]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for n in numbers:
        if found and found[-1][1] == n - 1:
            found[-1] = (found[-1][0], n)
        else:
            found.append((n, n))
    return found


def business_hours_expr(hours: BusinessHours) -> str:
    offset = offset_seconds(hours.utc_offset)
    hour, day = local("hour", offset), local("day_of_week", offset)
    lines = [f"and on () ({hour} >= {hours.start + hours.quiet_hours} and {hour} < {hours.end})"]
    numbers = day_numbers(hours.days)
    if len(numbers) < 7:
        spans = [
            f"{day} == {a}" if a == b else f"({day} >= {a} and {day} <= {b})"
            for a, b in runs(numbers)
        ]
        joined = spans[0] if len(spans) == 1 and spans[0][0] == "(" else f"({' or '.join(spans)})"
        lines.append(f"and on () {joined}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str | None = None
    comment: str = ""


def rules(hours: BusinessHours) -> list[Rule]:
    rejected = 'faxrelay_deliveries_rejected_total{reason=~"bad_signature|missing_signature"}'
    return [
        Rule(
            "FaxrelayConsumerLagGrowing",
            "sum by (group, topic) (faxrelay_consumer_lag_records) > 0\n"
            "and sum by (group, topic) (deriv(faxrelay_consumer_lag_records[10m])) > 0",
            "warning",
            "{{ $labels.group }} falls behind on {{ $labels.topic }}",
            "Its lag ({{ $value }} records) has grown for 10 minutes.",
            for_="10m",
            comment="Reads low on Tansu (its end offsets trail); exact on Apache Kafka.",
        ),
        Rule(
            "FaxrelayDownloadFailed",
            "sum by (reason) (increase(faxrelay_downloads_failed_total[5m])) > 0",
            "critical",
            "a fax could not be downloaded ({{ $labels.reason }})",
            "It is on fax.download.failed; `faxrelay replay failed` brings it back.",
        ),
        Rule(
            "FaxrelayReadFailed",
            "sum by (reason) (increase(faxrelay_reads_failed_total[15m])) > 0",
            "warning",
            "a stored fax could not be read ({{ $labels.reason }})",
            "It was delivered without its text; it is on fax.read.failed with its reason.",
        ),
        Rule(
            "FaxrelayRejectedSignaturesAboveNormal",
            f"sum(rate({rejected}[10m]))\n"
            f"  > 3 * sum(rate({rejected}[1d]))\n"
            f"and sum(increase({rejected}[10m])) >= 5",
            "warning",
            "webhooks with wrong signatures above normal",
            "Check FAXRELAY_APPS hmac_secrets against eFax's webhook settings.",
            comment="Three times the rate of the last day, and at least 5 in 10 minutes: a "
            "secret rotated\non one side only, or someone forging webhooks.",
        ),
        Rule(
            "FaxrelayEfaxUnauthorizedAfterRefresh",
            "sum(increase(faxrelay_efax_unauthorized_after_refresh_total[10m])) > 0",
            "critical",
            "eFax refuses a freshly refreshed token",
            "The API key of an App was revoked or is wrong; no fax downloads.",
        ),
        Rule(
            "FaxrelayPollerCursorStale",
            "faxrelay_poller_cursor_age_seconds > 3 * faxrelay_poller_interval_seconds",
            "warning",
            "a poller has not completed a scan for 3 intervals",
            "{{ $labels.instance }}: the stalest user was scanned {{ $value }} s ago.",
            for_="1m",
        ),
        Rule(
            "FaxrelayNoFaxRoutedInBusinessHours",
            "(\n"
            f"  sum(increase(faxrelay_faxes_routed_total[{hours.quiet_hours}h])) == 0\n"
            "  or absent(faxrelay_faxes_routed_total)\n"
            ")\n" + business_hours_expr(hours),
            "warning",
            f"no fax routed for {hours.quiet_hours} hours during business hours",
            "Is eFax reaching the gateway, and is every stage running? "
            f"(Business hours: {hours.describe()}.)",
            for_="10m",
            comment="Business hours and the quiet hours come from deploy/prometheus/alerts.py "
            "(the header\nabove): the whole window lies inside the hours, so it fires from "
            "start + quiet hours on.",
        ),
    ]


def render_rule(rule: Rule, indent: str) -> str:
    lines = [f"- alert: {rule.alert}"]
    lines += [f"  # {line}" for line in rule.comment.splitlines()]
    lines.append("  expr: |")
    lines += [f"    {line}" for line in rule.expr.splitlines()]
    if rule.for_:
        lines.append(f"  for: {rule.for_}")
    lines += [
        f"  labels: {{severity: {rule.severity}}}",
        "  annotations:",
        f"    summary: {json.dumps(rule.summary)}",
        f"    description: {json.dumps(rule.description)}",
    ]
    return "\n".join(indent + line for line in lines)


def render_groups(hours: BusinessHours, indent: str) -> str:
    body = "\n\n".join(render_rule(r, indent + "      ") for r in rules(hours))
    return f"{indent}groups:\n{indent}  - name: faxrelay\n{indent}    rules:\n{body}\n"


def header(hours: BusinessHours, output: str | None, prometheus_rule: bool) -> str:
    command = f"{COMMAND} {hours.flags()}"
    if prometheus_rule:
        command += " --prometheus-rule"
    if output:
        command += f" -o {output}"
    return (
        "# faxrelay's alert rules, written by deploy/prometheus/alerts.py: do not edit, "
        "regenerate:\n"
        f"#   {command}\n"
        f"# FaxrelayNoFaxRoutedInBusinessHours: no fax routed for {hours.quiet_hours} hours, "
        f"{hours.describe()}.\n"
    )


def render(hours: BusinessHours | None = None, output: str | None = None) -> str:
    """A Prometheus rule file (`rule_files:`), checked by promtool (tests/deploy)."""
    hours = hours or BusinessHours()
    return header(hours, output, False) + render_groups(hours, "")


def render_prometheus_rule(hours: BusinessHours | None = None, output: str | None = None) -> str:
    """The same rules as a Prometheus Operator PrometheusRule."""
    hours = hours or BusinessHours()
    return (
        header(hours, output, True)
        + "apiVersion: monitoring.coreos.com/v1\n"
        + "kind: PrometheusRule\n"
        + "metadata:\n"
        + "  name: faxrelay\n"
        + "spec:\n"
        + render_groups(hours, "  ")
    )


def main(argv: list[str]) -> int:
    defaults = BusinessHours()
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--days", default=defaults.days, help="e.g. mon-fri, sun-thu, mon,wed")
    parser.add_argument(
        "--hours", default=f"{defaults.start}-{defaults.end}", help="local START-END, e.g. 8-18"
    )
    parser.add_argument(
        "--utc-offset",
        default=defaults.utc_offset,
        help="e.g. +01:00; a negative one with =: =-05:00",
    )
    parser.add_argument(
        "--quiet-hours",
        type=int,
        default=defaults.quiet_hours,
        help="hours without a routed fax before it fires",
    )
    parser.add_argument(
        "--prometheus-rule", action="store_true", help="a PrometheusRule (Prometheus Operator)"
    )
    parser.add_argument("-o", "--output", help="write here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        start, end = (int(h) for h in args.hours.split("-"))
        hours = BusinessHours(args.days, start, end, args.utc_offset, args.quiet_hours)
    except ValueError as exc:
        parser.error(str(exc))
    text = (render_prometheus_rule if args.prometheus_rule else render)(hours, args.output)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
