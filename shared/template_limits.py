"""Cost limits for staff templates: the Jinja2 sandbox blocks escapes, this bounds what a
template may compute (numbers, string and list sizes, loop iterations, call depth, time and
rendered size), cheaply enough for the mailer's per-recipient rendering.

Every render gets a work budget and a deadline. Loops (each ``for`` is rewritten to iterate
through a metering filter), calls (macros, ``loop()`` of recursive loops, methods, filters),
intercepted operators and each piece of output spend from it, so a template cannot run for
long whatever it nests; sizes are checked before the operations that could allocate much.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from itertools import islice
from typing import Any, Final

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_SIZE: Final = 1_000_000  # characters (or items) of any value a template makes or renders
MAX_INT_BITS: Final = 4096  # integers far beyond any count or date a newsletter needs
MAX_DEPTH: Final = 40  # nested calls: macros calling macros, recursive loops
WORK_UNITS: Final = 5_000_000  # per render: about 0.1 s of the worst kind of work
TIME_LIMIT: Final = 0.25  # seconds per render
_STEP: Final = 20  # a loop iteration or a filter, in work units
_CALL: Final = 100  # a call (macros cost far more than a loop step)
_CHECK_EVERY: Final = 2_000  # work units between looks at the clock (well under a millisecond)
_METER: Final = "_brevdue_metered"
# Format specs whose width or precision alone would make a huge string.
_WIDE_FORMAT: Final = re.compile(r"%[-#0 +]*(?:\d{7,}|\d*\.\d{7,})|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")


class TemplateLimitError(Exception):
    """A template tried to compute more than a newsletter ever needs."""


class Budget:
    """What one render may still spend."""

    __slots__ = ("check_at", "deadline", "depth", "work")

    def __init__(self, work: int = WORK_UNITS, seconds: float = TIME_LIMIT) -> None:
        self.work = work
        self.deadline = time.monotonic() + seconds
        self.depth = 0
        self.check_at = work - _CHECK_EVERY

    def spend(self, units: int) -> None:
        """Take ``units`` from the budget; raise TemplateLimitError when it runs out."""
        self.work -= units
        if self.work < self.check_at:
            self.check()

    def check(self) -> None:
        """Raise TemplateLimitError when work or time has run out (the clock is read here)."""
        if self.work < 0:
            raise TemplateLimitError("the template does too much work")
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"the template takes longer than {TIME_LIMIT:g} s to render")
        self.check_at = self.work - _CHECK_EVERY


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def _spend(units: int) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(units)


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        if len(value) > MAX_SIZE:
            raise TemplateLimitError(f"a value longer than {MAX_SIZE} characters or items")
        _spend(len(value))
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError("a number too large")
    return value


def _check_args(args: Iterable[Any]) -> None:
    for arg in args:
        # Widths, counts and repeats: a huge one would allocate before any result check.
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_SIZE:
            raise TemplateLimitError(f"a number larger than {MAX_SIZE} passed to a call")
        # Concatenations (~) are not intercepted: what they make is checked where it is passed.
        if isinstance(arg, str) and len(arg) > MAX_SIZE:
            raise TemplateLimitError(f"a text longer than {MAX_SIZE} characters passed to a call")


def _check_format(spec: Any) -> None:
    if isinstance(spec, str) and _WIDE_FORMAT.search(spec):
        raise TemplateLimitError("a format width or precision too large")


def _guard_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
            raise TemplateLimitError("a power too large")
    elif operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, Sized) and isinstance(times, int) and len(seq) * times > MAX_SIZE:
                raise TemplateLimitError(f"a repetition longer than {MAX_SIZE}")
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        ):
            raise TemplateLimitError("a product too large")
    elif operator == "+" and isinstance(left, Sized) and isinstance(right, Sized):
        if len(left) + len(right) > MAX_SIZE:
            raise TemplateLimitError(f"a concatenation longer than {MAX_SIZE}")
    elif operator == "%" and isinstance(left, str):
        _check_format(left)


def _bounded_items(iterable: Iterable[Any]) -> list[Any]:
    items = list(islice(iterable, MAX_SIZE + 1))
    if len(items) > MAX_SIZE:
        raise TemplateLimitError(f"more than {MAX_SIZE} items")
    return items


def _guard_join(separator: Any, items: list[Any]) -> None:
    estimate = len(str(separator)) * len(items)
    if estimate <= MAX_SIZE:
        estimate += sum(len(str(item)) for item in items)
    if estimate > MAX_SIZE:
        raise TemplateLimitError(f"a join longer than {MAX_SIZE} characters")


def _guard_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = text.count(old) if old else len(text) + 1
        if len(text) + count * (len(new) - len(old)) > MAX_SIZE:
            raise TemplateLimitError(f"a replacement longer than {MAX_SIZE} characters")


def _guard_lines(text: Any, width: Any) -> None:
    # indent() adds its width to every line.
    if isinstance(width, int) and len(str(text)) + str(text).count("\n") * width > MAX_SIZE:
        raise TemplateLimitError(f"an indented text longer than {MAX_SIZE} characters")


def _owner(method: Any) -> Any:
    # The sandbox hands out str.format wrapped; the wrapper keeps the original in __wrapped__.
    return getattr(getattr(method, "__wrapped__", method), "__self__", None)


def _call_str_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a string method after the checks for those whose result could be huge."""
    owner = _owner(method)
    name = getattr(method, "__name__", "")
    if name in ("format", "format_map"):
        _check_format(owner)
    elif name == "join" and args:
        items = _bounded_items(args[0])
        _guard_join(owner, items)
        args = (items, *args[1:])
    elif name == "replace" and len(args) >= 2:
        _guard_replace(owner, args[0], args[1])
    return method(*args, **kwargs)


def _metered(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _BUDGET.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        # spend(), inlined: this runs for every iteration of every loop.
        budget.work -= _STEP
        if budget.work < budget.check_at:
            budget.check()
        yield item


class _MeteredNamespace(Namespace):
    """``namespace()`` whose assignments are size-checked: loops accumulate through it."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, _check_size(value))


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    pass_arg = getattr(function, "jinja_pass_arg", None)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        # Context-, eval-context- and environment-passing filters get that object first.
        values = args[1:] if pass_arg is not None else args
        _spend(_STEP)
        _check_args(values[1:])
        _check_args(kwargs.values())
        if name == "join" and values:
            items = _bounded_items(values[0])
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            _guard_join(separator, items)
            args = (*args[: len(args) - len(values)], items, *values[1:])
        elif name == "replace" and len(values) >= 3:
            _guard_replace(values[0], values[1], values[2])
        elif name == "indent":
            _guard_lines(values[0] if values else "", values[1] if len(values) > 1 else 4)
        elif name == "format" and values:
            _check_format(values[0])
        return _check_size(function(*args, **kwargs))

    if pass_arg is not None:
        guarded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return guarded


def _sized_parts(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    size = 0
    for part in parts:
        size += len(part) if isinstance(part, str) else len(str(part))
        if size > MAX_SIZE:
            raise TemplateLimitError(f"a concatenation longer than {MAX_SIZE} characters")
    _spend(size)
    return parts


def _bounded_concat(parts: Iterable[str]) -> str:
    pieces: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_SIZE:
            raise TemplateLimitError(f"a block renders to more than {MAX_SIZE} characters")
        pieces.append(part)
    _spend(size)
    return "".join(pieces)


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``a ~ b ~ ...`` sized before the parts are joined."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """As Jinja's own, but the parts pass through environment.sized_parts first."""
        if frame.eval_ctx.volatile:
            function = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            function = "markup_join"
        else:
            function = "str_join"
        self.write(f"{function}(environment.sized_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with cost limits; render through ``render_bounded``."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator
    # Captured blocks ({% set x %}…{% endset %}), macro and call bodies are joined with this.
    concat = staticmethod(_bounded_concat)
    sized_parts = staticmethod(_sized_parts)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_METER] = _metered
        self.globals["namespace"] = _MeteredNamespace

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        # Every loop iterates through the meter, so nested loops spend from the budget.
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _METER, [], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """An intercepted operator, refused when its result would be too large."""
        _guard_binop(operator, left, right)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from template code: counted, depth-limited, its arguments and result sized."""
        budget = _BUDGET.get()
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        budget.spend(_CALL)
        _check_args(args)
        _check_args(kwargs.values())
        if budget.depth >= MAX_DEPTH:
            raise TemplateLimitError(f"calls nested deeper than {MAX_DEPTH} (recursion?)")
        budget.depth += 1
        try:
            if not __self.is_safe_callable(__obj):
                return super().call(__context, __obj, *args, **kwargs)  # raises SecurityError
            if isinstance(_owner(__obj), str):
                return _check_size(_call_str_method(__obj, args, kwargs))
            return _check_size(__context.call(__obj, *args, **kwargs))
        finally:
            budget.depth -= 1


def render_bounded(generate: Callable[[], Iterable[str]], budget: Budget | None = None) -> str:
    """Run ``generate`` (a template's ``generate``) within a budget and a rendered-size cap."""
    token = _BUDGET.set(budget or Budget())
    try:
        parts: list[str] = []
        size = 0
        for part in generate():
            size += len(part)
            if size > MAX_SIZE:
                raise TemplateLimitError(f"renders to more than {MAX_SIZE} characters")
            parts.append(part)
        _spend(size)
        return "".join(parts)
    finally:
        _BUDGET.reset(token)
