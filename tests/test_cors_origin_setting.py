"""An API function's allowed CORS origin is the stack's to give: missing, `*` or not an origin, the
function's settings refuse to build (so its cold start fails naming CORS_ALLOW_ORIGIN) instead of
answering every site with `Access-Control-Allow-Origin: *`."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from functions.estoque.settings import EstoqueApiSettings
from functions.faturamento.settings import FaturamentoApiSettings
from functions.shared.settings import SettingsError, load
from tests.conftest import TEST_CORS_ORIGIN, set_function_env

API_SETTINGS = [FaturamentoApiSettings, EstoqueApiSettings]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # The settings only; nothing here connects to the database.
    set_function_env(monkeypatch, "postgresql://127.0.0.1/none")
    return monkeypatch


@pytest.mark.parametrize("settings", API_SETTINGS)
def test_the_stacks_origin_is_taken_as_given(env: pytest.MonkeyPatch, settings: type[BaseSettings]) -> None:
    assert load(settings).cors_allow_origin == TEST_CORS_ORIGIN  # type: ignore[attr-defined]
    env.setenv("CORS_ALLOW_ORIGIN", "http://127.0.0.1:3000")  # local mode's own origin
    assert load(settings).cors_allow_origin == "http://127.0.0.1:3000"  # type: ignore[attr-defined]


@pytest.mark.parametrize("settings", API_SETTINGS)
def test_a_missing_origin_is_a_settings_error_naming_the_variable(
    env: pytest.MonkeyPatch, settings: type[BaseSettings]
) -> None:
    # Given the function's environment without CORS_ALLOW_ORIGIN (there is no default any more)
    env.delenv("CORS_ALLOW_ORIGIN")
    # When its settings are built / Then the error names the variable
    with pytest.raises(SettingsError, match=r"CORS_ALLOW_ORIGIN: Field required"):
        load(settings)


@pytest.mark.parametrize("settings", API_SETTINGS)
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("*", "'\\*' would let any site call the API"),
        (" * ", "'\\*' would let any site call the API"),
        ("https://app.example.com/console", "must be one origin"),
        ("https://a.example.com https://b.example.com", "must be one origin"),
        ("app.example.com", "must be one origin"),
        ("", "must be one origin"),
    ],
)
def test_a_wildcard_or_anything_but_one_origin_is_refused(
    env: pytest.MonkeyPatch, settings: type[BaseSettings], value: str, says: str
) -> None:
    env.setenv("CORS_ALLOW_ORIGIN", value)
    with pytest.raises(SettingsError, match=f"CORS_ALLOW_ORIGIN: {says}"):
        load(settings)


def test_the_api_handler_module_fails_its_cold_start_without_an_origin(env: pytest.MonkeyPatch) -> None:
    # Given the estoque-api function's environment without its origin / When Lambda imports the module
    import importlib
    import sys

    env.delenv("CORS_ALLOW_ORIGIN")
    sys.modules.pop("functions.estoque.handlers.api", None)
    try:
        with pytest.raises(SettingsError, match="CORS_ALLOW_ORIGIN"):
            importlib.import_module("functions.estoque.handlers.api")
    finally:
        sys.modules.pop("functions.estoque.handlers.api", None)
