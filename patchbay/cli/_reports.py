"""Machine- and human-readable reports of ``contract`` and ``fuzz``: JUnit XML (for CI test
tabs) and one self-contained HTML page (inline CSS and SVG, no external assets).

Both are built from the same neutral model: suites (one per connector) of cases (one per
fixture or fuzzed operation), each case belonging to an action."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

#: A case's outcome: passed, failed, or missing (an action without any case).
Outcome = str


@dataclass
class Case:
    action: str
    name: str
    outcome: Outcome
    detail: str = ""


@dataclass
class Suite:
    connector: str
    actions: list[str]
    cases: list[Case] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    def covered(self) -> int:
        """Actions with at least one case and no failed one."""
        return sum(
            1
            for action in self.actions
            if any(c.action == action for c in self.cases)
            and all(c.outcome == "passed" for c in self.cases if c.action == action)
        )

    def ratio(self) -> float:
        return self.covered() / len(self.actions) if self.actions else 1.0


def junit_xml(title: str, suites: list[Suite]) -> str:
    """JUnit XML: ``testsuite`` per connector, ``testcase`` per case (``classname`` is
    ``connector.action``); failed and missing cases carry a ``failure`` element."""
    root = ET.Element("testsuites", name=title)
    total = failures = 0
    for suite in suites:
        bad = suite.count("failed") + suite.count("missing")
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.connector,
            tests=str(len(suite.cases)),
            failures=str(bad),
            errors="0",
            skipped="0",
        )
        total += len(suite.cases)
        failures += bad
        for case in suite.cases:
            item = ET.SubElement(
                node, "testcase", classname=f"{suite.connector}.{case.action}", name=case.name
            )
            if case.outcome != "passed":
                failure = ET.SubElement(
                    item,
                    "failure",
                    type=case.outcome,
                    message=case.detail.splitlines()[0][:500] if case.detail else case.outcome,
                )
                failure.text = case.detail
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}
.passed{color:#176f2c}.failed,.missing{color:#b00020;font-weight:bold}
pre{margin:0;white-space:pre-wrap;font-size:12px}
"""


def _chart(suites: list[Suite]) -> str:
    """An inline SVG bar chart: per connector, the share of actions covered (passing)."""
    bar, gap, width, label = 18, 6, 300, 140
    height = len(suites) * (bar + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + width + 60}" '
        f'height="{height}" role="img" aria-label="coverage per connector">'
    ]
    for i, suite in enumerate(suites):
        y = gap + i * (bar + gap)
        share = suite.ratio()
        name = html.escape(suite.connector)
        parts.append(f'<text x="0" y="{y + bar - 5}" font-size="12">{name}</text>')
        parts.append(
            f'<rect x="{label}" y="{y}" width="{width}" height="{bar}" fill="#eee"></rect>'
        )
        colour = "#2e9e4f" if share == 1 else "#d9822b"
        parts.append(
            f'<rect class="bar" data-connector="{name}" x="{label}" y="{y}" '
            f'width="{round(width * share, 1)}" height="{bar}" fill="{colour}"></rect>'
        )
        parts.append(
            f'<text x="{label + width + 6}" y="{y + bar - 5}" font-size="12">'
            f"{suite.covered()}/{len(suite.actions)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def html_report(title: str, suites: list[Suite]) -> str:
    """One self-contained page: a coverage chart, then per connector a table per action."""
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<h2>Actions covered per connector</h2>",
        _chart(suites),
    ]
    for suite in suites:
        out.append(f'<h2 id="{esc(suite.connector)}">{esc(suite.connector)}</h2>')
        out.append(
            f"<p>{suite.count('passed')} passed, {suite.count('failed')} failed, "
            f"{suite.count('missing')} missing; {suite.covered()}/{len(suite.actions)} "
            "actions covered</p>"
        )
        out.append("<table><tr><th>action</th><th>case</th><th>outcome</th><th>detail</th></tr>")
        for case in suite.cases:
            out.append(
                f'<tr class="case" data-outcome="{esc(case.outcome)}"><td>{esc(case.action)}</td>'
                f"<td>{esc(case.name)}</td>"
                f'<td class="{esc(case.outcome)}">{esc(case.outcome)}</td>'
                f"<td><pre>{esc(case.detail)}</pre></td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_reports(
    title: str, suites: list[Suite], junit: Path | None, html_path: Path | None
) -> None:
    """Write the reports that were asked for (parents created)."""
    for path, text in ((junit, junit_xml), (html_path, html_report)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text(title, suites), encoding="utf-8")


def report_options[F: Callable[..., Any]](func: F) -> F:
    """``--junit-xml PATH`` and ``--html PATH`` (applied by the command modules)."""
    func = click.option(
        "--html",
        "html_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write a self-contained HTML report (per connector and action, coverage chart).",
    )(func)
    return click.option(
        "--junit-xml",
        "junit_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write a JUnit XML report (a testsuite per connector, a testcase per case).",
    )(func)
