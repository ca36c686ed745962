-- Why a message failed, kept where the operator can read it next to the DLQ (`nfe dlq show`).
--
-- SQS cannot carry the reason: a message's attributes are fixed when it is sent, and the redrive
-- policy moves it to the DLQ as it was. So each consumer records its last failure of a message
-- here, keyed by the SQS message id (which the DLQ keeps), in a transaction of its own, separate
-- from the rolled-back effect. One row per message: later receives overwrite the reason and the
-- count, never the first failure's time. Rows about messages that later succeeded are harmless
-- history; nothing here is read by the saga itself.

CREATE TABLE faturamento.mensagens_falhas (
    mensagem_id        text PRIMARY KEY CHECK (length(mensagem_id) <= 128),
    fila               text NOT NULL,
    evento_id          uuid,            -- null when the body could not be read
    tipo               text,
    nota_fiscal_id     uuid,
    recebimentos       integer NOT NULL CHECK (recebimentos >= 1),
    -- The receive that used up maxReceiveCount: the next one goes to the DLQ.
    desistiu           boolean NOT NULL DEFAULT false,
    motivo             text NOT NULL CHECK (length(motivo) <= 2000),
    primeira_falha_em  timestamptz NOT NULL DEFAULT now(),
    ultima_falha_em    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mensagens_falhas_evento_idx ON faturamento.mensagens_falhas (evento_id);
CREATE INDEX mensagens_falhas_nota_idx ON faturamento.mensagens_falhas (nota_fiscal_id);

CREATE TABLE estoque.mensagens_falhas (LIKE faturamento.mensagens_falhas INCLUDING ALL);

GRANT SELECT, INSERT, UPDATE ON faturamento.mensagens_falhas TO faturamento_app;
GRANT SELECT, INSERT, UPDATE ON estoque.mensagens_falhas TO estoque_app;
