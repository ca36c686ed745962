"""Building blocks of the API models: camelCase JSON, strict inputs, money as decimal strings."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator
from pydantic.alias_generators import to_camel


class ApiInput(BaseModel):
    """A request body: camelCase names only, and an unknown field is an error, not ignored."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # JSON allows both, PostgreSQL text stores neither: refused here as bad input, not a 500 later.
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text (no lone surrogates)") from None
        return value


class ApiOutput(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UsuarioOut(ApiOutput):
    """Who did something: the signed-in user's Cognito `sub` (stable) and e-mail (as it was then)."""

    sub: str
    email: str


def usuario(sub: str | None, email: str | None) -> UsuarioOut | None:
    """An audit column pair as the API shows it; null for rows written before sign-in existed."""
    return None if sub is None else UsuarioOut(sub=sub, email=email or "")


_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
MONEY_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"


def _money_text(value: Any) -> Any:
    # JSON numbers reach us as binary floats (0.1 is not 0.1); money travels as text, as the
    # contracts' valorTotal does, so an amount is exactly what the client wrote.
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "10.50"')
    if not _DECIMAL_TEXT.match(value):
        raise ValueError('must be a decimal string such as "10.50"')
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_money_text),
    Field(ge=0, max_digits=15, decimal_places=2),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["10.50"]}),
]


def _money_out(value: Decimal) -> str:
    return f"{value:.2f}"


MoneyOut = Annotated[
    Decimal,
    PlainSerializer(_money_out, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["21.00"]}),
]
