-- Faturamento's projection of what each produto needs to be invoiced, fed by Estoque's ProdutoCadastrado:
-- a nota with an item whose produto lacks NCM, unidade or origem is refused at emission (422 naming the
-- item and the fields) instead of failing at reservation. Faturamento still cannot read Estoque's schema;
-- the fiscal snapshot that goes into the NF-e still travels in ReservaConfirmada.
CREATE TABLE faturamento.produtos_fiscais (
    produto_id     uuid PRIMARY KEY,
    sku            text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    ncm            text CHECK (ncm ~ '^[0-9]{8}$'),
    unidade        text CHECK (length(unidade) BETWEEN 1 AND 6),
    origem         smallint CHECK (origem BETWEEN 0 AND 8),
    atualizado_em  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON faturamento.produtos_fiscais TO faturamento_app;

-- The produtos registered before: Estoque announces each one through its own outbox (the publisher relays
-- them like any event), so the projection is filled by the same path as new ones. Written here, in the
-- migration's transaction, with the detail the outbox writes (functions/shared/events.py build_detail).
WITH novos AS (
    SELECT gen_random_uuid() AS event_id, clock_timestamp() AS quando, p.*
    FROM estoque.produtos p
)
INSERT INTO estoque.eventos_outbox (id, tipo, agregado_id, payload, criado_em)
SELECT event_id, 'ProdutoCadastrado', id,
       jsonb_build_object(
           'eventId', event_id,
           'eventType', 'ProdutoCadastrado',
           'schemaVersion', 1,
           'occurredAt', to_char(quando AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'correlationId', id,
           'payload', jsonb_build_object(
               'produtoId', id, 'sku', sku, 'ncm', ncm, 'unidade', unidade, 'origem', origem
           )
       ),
       quando
FROM novos;
