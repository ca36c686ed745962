"""Wiring of the SEFAZ participant: settings (and, in tests, clients) in, a ready consumer out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.sefaz.participant import AutorizadorSefaz, ClientFactory
from functions.sefaz.settings import SefazSettings

if TYPE_CHECKING:
    from functions.fiscal.archive import FiscalArchive
    from functions.sefaz.certificate import SecretsClient
    from functions.shared.consumer import EventConsumer


def participant(
    settings: SefazSettings,
    *,
    events_client: Any = None,
    fiscal_archive: FiscalArchive | None = None,
    secrets_client: SecretsClient | None = None,
    client_factory: ClientFactory | None = None,
) -> AutorizadorSefaz:
    return AutorizadorSefaz(
        settings,
        events_client=events_client,
        fiscal_archive=fiscal_archive,
        secrets_client=secrets_client,
        client_factory=client_factory,
    )


def consumer(settings: SefazSettings, sqs_client: Any = None, **clients: Any) -> EventConsumer:
    return consumer_of(participant(settings, **clients), settings, sqs_client)


def consumer_of(autorizador: AutorizadorSefaz, settings: SefazSettings, sqs_client: Any = None) -> EventConsumer:
    from functions.shared.consumer import EventConsumer, SqsVisibility
    from functions.shared.redelivery import Backoff

    # No failure log: it lives in a database this function has none of; a failed record's reason is in
    # its log line, and `nfe dlq show` prints the message itself.
    return EventConsumer(
        autorizador.handlers(),
        None,
        Backoff(settings.outage_tolerance_seconds),
        SqsVisibility(sqs_client),
    )
