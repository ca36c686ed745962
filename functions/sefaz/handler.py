"""Lambda entry point of sefaz-autorizador: SQS batches of its queue (one request per batch), and the
operator's direct invocation to inutilizar números (`nfe fiscal inutilizar`).

No database and no VPC: the function reaches SEFAZ over the internet, Secrets Manager, S3 and
EventBridge through their public endpoints, with a role that names each resource.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.sefaz.bootstrap import consumer_of, participant
from functions.sefaz.pedidos import InutilizacaoPedido
from functions.sefaz.settings import SefazSettings
from functions.shared.observability import logger, metrics, tracer
from functions.shared.settings import load

settings = load(SefazSettings)
autorizador = participant(settings)
consumer = consumer_of(autorizador, settings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return consumer.handle(event, context)
    if "inutilizar" in event:
        try:
            pedido = InutilizacaoPedido.model_validate(event["inutilizar"])
        except ValidationError as exc:
            # The operator's command checks first; this answers anyone else invoking it directly.
            return {"erro": "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())}
        return autorizador.inutilizar(pedido.serie, pedido.de, pedido.ate, pedido.justificativa, ano=pedido.ano)
    raise ValueError("expected an SQS batch (Records) or an operator's request (inutilizar)")
