"""Metric names used by a PromQL expression, so tests can hold rules and dashboards to the exporter's names.

A small tokenizer, not a parser: promtool checks the syntax; this only has to find the names.
Strings, label matchers, ranges and the label lists of by/without/on/ignoring/group_* are removed,
then every identifier that is not a function call or a keyword is a metric name.
"""

from __future__ import annotations

import re

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
             "bool", "inf", "nan", "atan2", "topk", "bottomk", "quantile", "count_values"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"\b\d+(\.\d+)?(e[+-]?\d+)?[smhdwy]?\b", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expression: str) -> set[str]:
    text = _STRING.sub('""', expression)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    text = _NUMBER.sub("0", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        following = text[match.end():].lstrip()
        if following.startswith("(") or match.group() in _KEYWORDS:
            continue
        names.add(match.group())
    return names
