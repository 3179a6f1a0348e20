"""JSON from strangers: how deeply it nests, checked before decoding.

The decoder recurses once per level of nesting, so a few kilobytes of brackets exhaust the
interpreter's recursion limit and fail as a server error. No sign-up nests more than a few
levels, so anything deeper is refused with a reason before it reaches the decoder.
"""

from __future__ import annotations

from typing import Final

# A sign-up nests three levels at most (body, custom fields, a field's list of choices).
MAX_DEPTH: Final = 16

_OPEN: Final = frozenset(b"[{")
_CLOSE: Final = frozenset(b"]}")
_QUOTE: Final = ord('"')
_BACKSLASH: Final = ord("\\")


def is_too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in ``raw`` nest deeper than ``limit`` (brackets inside
    strings do not count; for text that is not JSON the answer does not matter)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # the common case, without looking at every byte
    return nesting_depth(raw) > limit


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSE:
            depth -= 1
    return deepest
