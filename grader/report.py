"""Render a RunResult as text (colours on a terminal), JSON, JUnit XML or Markdown."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

from grader.results import FAIL, PASS, SKIP, RunResult

_MARK = {PASS: "✓", FAIL: "✗", "error": "!", SKIP: "·"}
_COLOUR = {PASS: "\033[32m", FAIL: "\033[31m", "error": "\033[33m", SKIP: "\033[2m"}
_RESET, _DIM, _BOLD = "\033[0m", "\033[2m", "\033[1m"


def render(result: RunResult, fmt: str, colour: bool = False) -> str:
    return {"text": to_text, "json": to_json, "junit": to_junit, "markdown": to_markdown}[fmt](
        clean(result), colour
    )


# Lone surrogates (a file name that is not UTF-8, decoded with surrogateescape) cannot be written
# as UTF-8, and control characters are not allowed in XML or safe on a terminal.
_UNSAFE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f]")


def _escape(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(text: str) -> str:
    """``text`` with the bytes of a non-UTF-8 name as ``\\xff`` and control characters escaped."""
    return _UNSAFE.sub(_escape, text) if isinstance(text, str) else text


def clean(result: RunResult) -> RunResult:
    """A copy of ``result`` that every format can write, whatever bytes the learner's files hold."""
    return replace(
        result,
        path=clean_text(result.path),
        notes=[clean_text(n) for n in result.notes],
        criteria=[replace(c, **{k: clean_text(getattr(c, k)) for k in ("id", "title", "message", "hint")})
                  for c in result.criteria],
    )


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def to_text(result: RunResult, colour: bool = False) -> str:
    def c(code: str, s: str) -> str:
        return f"{code}{s}{_RESET}" if colour else s

    lines = [c(_BOLD, f"{result.target}: {result.path}")]
    for cr in result.criteria:
        mark = c(_COLOUR.get(cr.status, ""), _MARK.get(cr.status, "?"))
        lines.append(f"  {mark} {cr.title}  {c(_DIM, '[' + cr.id + ']')}")
        if cr.status != PASS:
            if cr.message:
                lines.append(_indent(cr.message))
            if cr.hint and cr.status != SKIP:
                lines.append(_indent(c(_DIM, "hint: " + cr.hint)))
    for note in result.notes:
        lines.append(c(_DIM, f"  note: {note}"))
    total = len(result.criteria)
    summary = f"{result.passed}/{total} passed"
    if result.failed:
        summary += f", {result.failed} failed"
    if result.errors:
        summary += f", {result.errors} could not be checked"
    if result.skipped:
        summary += f", {result.skipped} skipped"
    summary += f" in {result.duration_s:.1f} s"
    lines.append(c(_BOLD, summary))
    return "\n".join(lines)


def to_json(result: RunResult, colour: bool = False) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def to_junit(result: RunResult, colour: bool = False) -> str:
    suite = ET.Element(
        "testsuite",
        name=result.target,
        tests=str(len(result.criteria)),
        failures=str(result.failed),
        errors=str(result.errors),
        skipped=str(result.skipped),
        time=f"{result.duration_s:.3f}",
    )
    for cr in result.criteria:
        case = ET.SubElement(suite, "testcase", classname=result.target, name=cr.id, time=f"{cr.duration_s:.3f}")
        ET.SubElement(case, "properties").append(ET.Element("property", name="title", value=cr.title))
        if cr.status == FAIL:
            ET.SubElement(case, "failure", message=cr.message.splitlines()[0] if cr.message else "").text = (
                f"{cr.message}\nhint: {cr.hint}"
            )
        elif cr.status == SKIP:
            ET.SubElement(case, "skipped", message=cr.message)
        elif cr.status != PASS:
            ET.SubElement(case, "error", message=cr.message.splitlines()[0] if cr.message else "").text = cr.message
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def to_markdown(result: RunResult, colour: bool = False) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", "<br>")

    icon = {PASS: "✅", FAIL: "❌", "error": "⚠️", SKIP: "⏭️"}
    lines = [
        f"## {result.target}: {result.passed}/{len(result.criteria)} passed",
        "",
        f"`{result.path}`",
        "",
        "| | criterion | id | reason | hint |",
        "|---|---|---|---|---|",
    ]
    for cr in result.criteria:
        reason = cr.message if cr.status != PASS else ""
        hint = cr.hint if cr.status != PASS else ""
        lines.append(f"| {icon.get(cr.status, '?')} | {cell(cr.title)} | `{cr.id}` | {cell(reason)} | {cell(hint)} |")
    return "\n".join(lines) + "\n"
