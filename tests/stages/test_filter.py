"""filter: the expression language keeps the right rows and refuses anything unsafe."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from curate.errors import StageError
from curate.stages.base import RunContext
from curate.stages.filter import Filter, FilterConfig


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "text": ["short", "a much longer text, long enough", "Another LONG text of more words", "x" * 30, "Spam offer"],
        "confidence": [0.9, 0.7, 0.3, None, 0.95],
        "sentiment": ["positive", "negative", "neutral", "positive", "negative"],
        "odd name": [1, 2, 3, 4, 5],
    })


def apply(frame: pl.DataFrame, expr: str, **kw) -> tuple[list[str], pl.DataFrame]:
    result = Filter(FilterConfig(expr=expr, **kw)).apply(frame, RunContext())
    return result.kept["id"].to_list(), result.removed


def test_issue_example_and_ledger(frame):
    kept, removed = apply(frame, "confidence >= 0.6 and text.len() > 20")
    assert kept == ["b"]
    ledger = {r["id"]: r for r in removed.iter_rows(named=True)}
    assert ledger["a"]["detail"] == "failed: text.len() > 20" and ledger["a"]["score"] == 5.0
    assert ledger["c"]["detail"] == "failed: confidence >= 0.6" and ledger["c"]["score"] == 0.3
    assert ledger["d"]["score"] is None  # null confidence: removed by default
    assert set(removed["reason"]) == {"filter_expr"}


def test_null_rows_can_be_kept(frame):
    kept, _ = apply(frame, "confidence >= 0.6", keep_null=True)
    assert kept == ["a", "b", "d", "e"]


@pytest.mark.parametrize(("expr", "expected"), [
    ("sentiment in ['positive', 'neutral']", ["a", "c", "d"]),
    ("sentiment not in ('positive',)", ["b", "c", "e"]),
    ("not text.lower().contains('spam') and confidence.is_not_null()", ["a", "b", "c"]),
    ("text.startswith('A') or text.endswith('t')", ["a", "c"]),
    ("0.5 < confidence <= 0.9", ["a", "b"]),
    ("col('odd name') * 2 - 1 >= 7 and confidence.is_null() == False", ["e"]),
    ("(confidence - 1).abs() < 0.2 or text.strip().upper() == 'SHORT'", ["a", "e"]),
    ("text.len() // 10 == 3 and -confidence < 0", ["b", "c"]),
    ("True", ["a", "b", "c", "d", "e"]),
])
def test_expressions(frame, expr, expected):
    assert apply(frame, expr)[0] == expected


@pytest.mark.parametrize("expr", [
    "__import__('os').system('echo pwned')",
    "text.__class__.__mro__",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1",
    "eval('1')",
    "open('/etc/passwd').read()",
    "text.map_elements(print)",
    "[c for c in text]",
    "text[0] == 'a'",
    "__builtins__",
    "confidence if True else 0",
    "f'{text}'",
    "(x := 1)",
    "text.len() >",
    "",
    "text.contains(confidence)",
    "text.len(1)",
    "text.len(key=1)",
    "confidence in ['a', text]",
    "confidence in text",
    "1 is 1",
    "~confidence",
])
def test_rejects_unsafe_or_invalid(expr):
    with pytest.raises(ValidationError) as info:
        FilterConfig(expr=expr)
    assert "expr" in str(info.value)


def test_error_names_the_bad_token():
    with pytest.raises(ValidationError, match=r"call to 'system' is not allowed.*column 1"):
        FilterConfig(expr="__import__('os').system('x')")
    with pytest.raises(ValidationError, match=r"Attribute is not allowed: 'text.__class__'"):
        FilterConfig(expr="text.len() > 1 and text.__class__ == 1")
    with pytest.raises(ValidationError, match="names starting with '__' are not allowed: '__builtins__'"):
        FilterConfig(expr="__builtins__")


def test_unknown_column_is_named_with_a_suggestion(frame):
    with pytest.raises(StageError, match=r"unknown column 'confidense'.*did you mean 'confidence'"):
        apply(frame, "confidense > 0.5")
    with pytest.raises(StageError, match="unknown column 'nope'"):
        apply(frame, "col('nope') > 1")


def test_type_errors_are_stage_errors(frame):
    with pytest.raises(StageError, match="cannot be evaluated"):
        apply(frame, "confidence.len() > 3")


def test_empty_frame(frame):
    kept, removed = apply(frame.head(0), "confidence > 0.5")
    assert kept == [] and removed.height == 0


# --- issue 13: hostile expressions are bounded ----------------------------------------------


def test_deeply_nested_expression_is_a_clear_error_not_a_crash():
    with pytest.raises(ValidationError) as info:
        FilterConfig(expr="not " * 5000 + "confidence > 1")
    message = str(info.value)
    assert "too large or too deeply nested" in message and "RecursionError" not in message
    with pytest.raises(ValidationError, match="too large or too deeply nested"):
        FilterConfig(expr="-" * 100 + "confidence > 1")  # 100 levels: past the limit, far from the stack's
    assert FilterConfig(expr="not " * 20 + "confidence > 1")  # a plausible depth passes


def test_a_five_thousand_term_expression_is_refused_at_validation(frame):
    huge = " and ".join(f"confidence > {i / 10_000}" for i in range(5000))
    with pytest.raises(ValidationError, match="at most 2000 parts"):
        FilterConfig(expr=huge)
    largest = " and ".join(f"confidence > {i / 10_000}" for i in range(300))  # 901 parts: allowed, and quick
    kept, removed = apply(frame, largest)
    assert kept == ["a", "b", "c", "e"] and removed["id"].to_list() == ["d"]  # d: no confidence
