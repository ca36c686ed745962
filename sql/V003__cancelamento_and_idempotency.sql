-- Cancelation requests and the store behind the Idempotency-Key header of POST /api/v1/notas.

-- A cancelation is requested while the nota is CONFIRMADA and completes when Estoque has released
-- the stock (ReservaLiberada). The status CHECK of V001 has no "cancelation pending" state, so the
-- request is recorded here: a second request finds it set and is refused, and the nota keeps
-- saying CONFIRMADA (the stock is still reserved) until the saga finishes.
ALTER TABLE faturamento.notas_fiscais
    ADD COLUMN cancelamento_solicitado_em timestamptz,
    ADD CONSTRAINT notas_fiscais_cancelamento_check
        CHECK (cancelamento_solicitado_em IS NULL OR status IN ('CONFIRMADA', 'CANCELADA'));

-- Records of the Powertools idempotency utility (functions/shared/idempotency.py): the same
-- fields its DynamoDB layer keeps, with expiries as Unix epoch numbers because that is how
-- Powertools computes and compares them (seconds for the record, milliseconds while in progress).
CREATE TABLE faturamento.idempotencia (
    chave                    text PRIMARY KEY CHECK (length(chave) <= 512),
    status                   text NOT NULL CHECK (status IN ('INPROGRESS', 'COMPLETED')),
    expira_em                bigint NOT NULL,
    em_andamento_expira_em   bigint,
    hash_payload             text,
    resposta                 text,
    criada_em                timestamptz NOT NULL DEFAULT now()
);
-- Expired records are purged a few at a time by later requests, oldest first.
CREATE INDEX idempotencia_expira_idx ON faturamento.idempotencia (expira_em);

-- V002's default privileges already cover new tables created by the migrating role; granting
-- explicitly keeps this migration correct whoever runs it.
GRANT SELECT, INSERT, UPDATE, DELETE ON faturamento.idempotencia TO faturamento_app;
