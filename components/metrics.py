"""Custom metrics the stack alarms on, and who emits them.

The functions write these through Powertools Metrics (EMF): namespace `nfe`, dimension `service` =
the function's POWERTOOLS_SERVICE_NAME, which the program sets to its topology name.

The outbox publisher (functions/publisher/handler.py) emits the lag on every run, 0 when nothing is
pending, so a missing datapoint means the publisher is not running, and the alarm treats it as
breaching; its figure for the inutilização deadline comes only when a número awaits inutilização, so
that alarm treats silence as fine (a stopped publisher is the lag alarm's). The SEFAZ participant
emits its figures only when it runs (a nota to authorize), so its alarms treat silence as nothing to
report.
"""

from __future__ import annotations

METRICS_NAMESPACE = "nfe"
OUTBOX_LAG_METRIC = "OutboxOldestUnpublishedAgeSeconds"
OUTBOX_PUBLISHER_SERVICE = "outbox-publisher"
OUTBOX_LAG_DIMENSIONS = {"service": OUTBOX_PUBLISHER_SERVICE}
# The schedule runs every minute: five minutes of backlog means the safety net itself is stuck.
OUTBOX_LAG_THRESHOLD_SECONDS = 300
# On the same run the publisher reports the days left before the nearest deadline to inutilizar a
# rejected número (sql/V010 `faturamento.dias_para_inutilizar`: the 10th of the month after the
# rejection, in the emitente's legal time), and nothing when no número awaits inutilização.
INUTILIZACAO_DEADLINE_METRIC = "DiasParaInutilizar"
# Inutilizar is one command (`nfe fiscal inutilizar`), but SEFAZ must answer it and a weekend may fall
# before the 10th: three days' notice.
INUTILIZACAO_ALARM_DAYS = 3

# The SEFAZ participant (functions/sefaz/participant.py), dimension `service` = sefaz-autorizador.
SEFAZ_SERVICE = "sefaz-autorizador"
SEFAZ_DIMENSIONS = {"service": SEFAZ_SERVICE}
# Seconds since the nota's dhEmi, on every attempt, failed ones too: the pending alarm's metric.
SEFAZ_PENDING_METRIC = "EsperaAutorizacao"
# One per outcome, counted once per nota SEFAZ answered.
SEFAZ_AUTHORIZED_METRIC = "NotasAutorizadas"
SEFAZ_REJECTED_METRIC = "NotasRejeitadas"
SEFAZ_DENIED_METRIC = "NotasDenegadas"
# One per attempt SEFAZ did not answer (down, 108/109, a timeout): the dashboard's outage line.
SEFAZ_UNAVAILABLE_METRIC = "SefazIndisponivel"
# Days until the A1 certificate expires, on every invocation that loads it.
SEFAZ_CERTIFICATE_DAYS_METRIC = "CertificadoDiasRestantes"
# An A1 is renewed through a certificate authority (identity checks, payment), which takes days:
# a month's notice leaves time for it.
SEFAZ_CERTIFICATE_ALARM_DAYS = 30
# The refusal-rate alarm: more than this share of SEFAZ's answers (rejected over rejected plus
# authorized) in a window, counted only when the window holds at least the minimum of answers, so
# one rejected nota out of two at night does not page anyone.
SEFAZ_REFUSAL_RATE_PERCENT = 20
SEFAZ_REFUSAL_MIN_ANSWERS = 10
SEFAZ_REFUSAL_PERIOD_SECONDS = 900
