"""Reading a form body: text a multipart part cannot decode is the sender's error, not ours.

The framework decodes each multipart part with the charset the part names (UTF-8 otherwise) and
lets the failure through: bytes that are not UTF-8 raise UnicodeDecodeError, an unknown charset
LookupError. Both become a 400 with the reason, like any other broken multipart body. (An
urlencoded body is decoded leniently instead, with U+FFFD for bad bytes, as browsers do.)
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.exceptions import ClientException


async def read_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The request's form fields; raise ClientException (400) when a part cannot be decoded."""
    try:
        return await request.form()
    except UnicodeDecodeError:
        raise ClientException("A form field is not valid text in its character set.") from None
    except LookupError:
        raise ClientException("A form field names an unknown character set.") from None
