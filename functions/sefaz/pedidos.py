"""What an operator may ask the SEFAZ participant directly: an inutilização (cheap to import)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from functions.fiscal.limits import MAX_NUMEROS_INUTILIZACAO, normalizar_justificativa

__all__ = ["InutilizacaoPedido"]


class InutilizacaoPedido(BaseModel):
    """`{"serie": 1, "de": 7, "ate": 9, "justificativa": "...", "ano": 2026}`; `ano` defaults to this year."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serie: int = Field(ge=0, le=889)
    de: int = Field(ge=1, le=999_999_999)
    ate: int = Field(ge=1, le=999_999_999)
    justificativa: Annotated[str, AfterValidator(normalizar_justificativa)]
    ano: int | None = Field(default=None, ge=2006, le=2099)

    @model_validator(mode="after")
    def _range(self) -> InutilizacaoPedido:
        if self.ate < self.de:
            raise ValueError(f"ate ({self.ate}) is before de ({self.de}) (SEFAZ: 224)")
        if self.ate - self.de + 1 > MAX_NUMEROS_INUTILIZACAO:
            raise ValueError(f"at most {MAX_NUMEROS_INUTILIZACAO:,} números per request (SEFAZ: 201)")
        return self
