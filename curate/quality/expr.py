"""A safe row-filter expression language: Python expression syntax, translated to polars.

The text is parsed with :func:`ast.parse` in ``eval`` mode and every node is checked against
a whitelist before anything runs; nothing is ever ``eval``-ed. Allowed:

- column names (``confidence``), or ``col("name with spaces")``;
- constants (numbers, strings, ``True``, ``False``, ``None``) and lists/tuples of constants;
- ``and``, ``or``, ``not``; comparisons ``== != < <= > >= in not in`` (chained too);
- arithmetic ``+ - * / // %`` and unary minus;
- the methods ``len() lower() upper() strip() contains(s) startswith(s) endswith(s)
  is_null() is_not_null() abs()`` on a value.

Anything else (attribute access, subscripts, lambdas, other calls, dunder names) is rejected
with an error naming the offending token and its position. An expression has at most
:data:`MAX_NODES` syntax nodes nested at most :data:`MAX_DEPTH` deep, so a hostile one can
neither exhaust the stack nor keep the run busy for minutes.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

_COMPARE: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}
_ARITHMETIC: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
}
_METHODS: dict[str, tuple[int, Callable[..., pl.Expr]]] = {
    "len": (0, lambda e: e.str.len_chars()),
    "lower": (0, lambda e: e.str.to_lowercase()),
    "upper": (0, lambda e: e.str.to_uppercase()),
    "strip": (0, lambda e: e.str.strip_chars()),
    "contains": (1, lambda e, s: e.str.contains(s, literal=True)),
    "startswith": (1, lambda e, s: e.str.starts_with(s)),
    "endswith": (1, lambda e, s: e.str.ends_with(s)),
    "is_null": (0, lambda e: e.is_null()),
    "is_not_null": (0, lambda e: e.is_not_null()),
    "abs": (0, lambda e: e.abs()),
}


MAX_NODES = 2_000
MAX_DEPTH = 64


class ExpressionError(ValueError):
    """The expression is not valid; the message names the token and its position."""


@dataclass(frozen=True)
class Clause:
    """One top-level ``and`` clause: its source text, polars expression and left-hand value."""

    text: str
    expr: pl.Expr
    value: pl.Expr | None


class _Source:
    """The expression's text, with each node's source segment found in time proportional to its length."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self.starts = [0, *(i + 1 for i, byte in enumerate(self.data) if byte == 10)]

    def segment(self, node: ast.AST) -> str | None:
        """The source text of ``node`` (``ast`` column offsets count UTF-8 bytes)."""
        if getattr(node, "end_lineno", None) is None:
            return None
        start = self.starts[node.lineno - 1] + node.col_offset
        end = self.starts[node.end_lineno - 1] + node.end_col_offset
        return self.data[start:end].decode("utf-8")


class _Translator:
    def __init__(self, source: _Source, columns: list[str] | None) -> None:
        self.source = source.text
        self.segments = source
        self.columns = columns
        self.used: list[str] = []

    def fail(self, node: ast.AST, what: str) -> ExpressionError:
        token = self.segments.segment(node) or type(node).__name__
        col = getattr(node, "col_offset", 0) + 1
        return ExpressionError(f"{what}: '{token}' at column {col} of \"{_short(self.source)}\"")

    def column(self, node: ast.AST, name: str) -> pl.Expr:
        if name.startswith("__"):
            raise self.fail(node, "names starting with '__' are not allowed")
        if self.columns is not None and name not in self.columns:
            from curate.registry import suggest

            raise ExpressionError(f"unknown column '{name}' in \"{_short(self.source)}\"; columns are: {', '.join(self.columns)}"
                                  f" ({suggest(name, self.columns)})")
        self.used.append(name)
        return pl.col(name)

    def constant(self, node: ast.AST) -> object:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return -node.operand.value
        raise self.fail(node, "lists may only hold constants")

    def __call__(self, node: ast.AST) -> pl.Expr:
        if isinstance(node, ast.Expression):
            return self(node.body)
        if isinstance(node, ast.BoolOp):
            parts = [self(v) for v in node.values]
            out = parts[0]
            for part in parts[1:]:
                out = (out & part) if isinstance(node.op, ast.And) else (out | part)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ~self(node.operand)
            if isinstance(node.op, ast.USub):
                return -self(node.operand)
            raise self.fail(node, "operator not allowed")
        if isinstance(node, ast.Compare):
            out, left = None, self(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    if not isinstance(right_node, (ast.List, ast.Tuple)):
                        raise self.fail(right_node, "'in' needs a list of constants")
                    test = left.is_in([self.constant(e) for e in right_node.elts])
                    test = ~test if isinstance(op, ast.NotIn) else test
                    right = None
                elif type(op) in _COMPARE:
                    right = self(right_node)
                    test = _COMPARE[type(op)](left, right)
                else:
                    raise self.fail(node, "comparison not allowed")
                out = test if out is None else out & test
                left = right
            return out
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITHMETIC:
                raise self.fail(node, "operator not allowed")
            return _ARITHMETIC[type(node.op)](self(node.left), self(node.right))
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str, bool, type(None))):
                raise self.fail(node, "constant type not allowed")
            return pl.lit(node.value)
        if isinstance(node, ast.Name):
            return self.column(node, node.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"{type(node).__name__} is not allowed")

    def call(self, node: ast.Call) -> pl.Expr:
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        func = node.func
        if isinstance(func, ast.Name) and func.id == "col":
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
                raise self.fail(node, "col() takes one column name in quotes")
            return self.column(node, node.args[0].value)
        if not isinstance(func, ast.Attribute) or func.attr not in _METHODS:
            name = func.attr if isinstance(func, ast.Attribute) else self.segments.segment(func)
            raise self.fail(node, f"call to '{name}' is not allowed (methods: {', '.join(_METHODS)})")
        arity, build = _METHODS[func.attr]
        if len(node.args) != arity:
            raise self.fail(node, f"{func.attr}() takes {arity} argument(s)")
        args = []
        for arg in node.args:
            if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
                raise self.fail(arg, f"{func.attr}() takes a string constant")
            args.append(arg.value)
        return build(self(func.value), *args)


def _parse(source: str) -> ast.Expression:
    if not source.strip():
        raise ExpressionError("the expression is empty")
    too_big = ExpressionError(f"the expression is too large or too deeply nested (at most {MAX_NODES} parts, "
                              f"{MAX_DEPTH} levels): split it over several filter stages")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error at column {exc.offset} of \"{_short(source)}\": {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise too_big from None
    nodes, stack = 0, [(tree.body, 1)]
    while stack:  # iterative: a deep tree must not recurse here either
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            raise too_big
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.expr_context, ast.boolop, ast.cmpop, ast.operator, ast.unaryop)))
    return tree


def _short(source: str, limit: int = 200) -> str:
    return source if len(source) <= limit else source[:limit] + "..."


def check(source: str) -> None:
    """Validate syntax and allowed tokens without knowing the columns (config time)."""
    tree = _parse(source)
    _Translator(_Source(source.strip()), None)(tree)


def compile_clauses(source: str, columns: list[str]) -> list[Clause]:
    """Top-level ``and`` clauses of ``source`` as polars expressions, checked against ``columns``."""
    text = _Source(source.strip())
    body = _parse(source).body
    nodes = body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else [body]
    clauses = []
    for node in nodes:
        translate = _Translator(text, columns)
        expr = translate(node)
        value = translate(node.left) if isinstance(node, ast.Compare) else None
        clauses.append(Clause(text.segment(node) or text.text, expr, value))
    return clauses
