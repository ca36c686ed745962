-- Who did what: the signed-in user (the Cognito `sub`, immutable, and the e-mail it had then) next
-- to each thing a person does through the API. Every column is nullable: rows written before
-- sign-in existed stay valid and say "unknown"; the API writes both columns of a pair from then on.

ALTER TABLE faturamento.notas_fiscais
    ADD COLUMN criada_por_sub                     text CHECK (length(criada_por_sub) <= 128),
    ADD COLUMN criada_por_email                   text CHECK (length(criada_por_email) <= 320),
    ADD COLUMN cancelamento_solicitado_por_sub    text CHECK (length(cancelamento_solicitado_por_sub) <= 128),
    ADD COLUMN cancelamento_solicitado_por_email  text CHECK (length(cancelamento_solicitado_por_email) <= 320),
    -- Nobody asked for a cancelation that was never requested.
    ADD CONSTRAINT notas_fiscais_cancelamento_por_check
        CHECK (cancelamento_solicitado_por_sub IS NULL OR cancelamento_solicitado_em IS NOT NULL);

ALTER TABLE estoque.produtos
    ADD COLUMN criado_por_sub    text CHECK (length(criado_por_sub) <= 128),
    ADD COLUMN criado_por_email  text CHECK (length(criado_por_email) <= 320);

-- An entrada used to be only an UPDATE of produtos.quantidade, leaving no trace of who added
-- what; each one is now a row too, written in the same transaction as the stock change.
CREATE TABLE estoque.entradas (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    produto_id            uuid NOT NULL REFERENCES estoque.produtos (id),
    quantidade            integer NOT NULL CHECK (quantidade BETWEEN 1 AND 1000000),
    registrada_em         timestamptz NOT NULL DEFAULT now(),
    registrada_por_sub    text CHECK (length(registrada_por_sub) <= 128),
    registrada_por_email  text CHECK (length(registrada_por_email) <= 320)
);
CREATE INDEX entradas_produto_idx ON estoque.entradas (produto_id, registrada_em DESC);

-- V002's default privileges cover new tables of the migrating role; explicit keeps it right for any role.
GRANT SELECT, INSERT, UPDATE, DELETE ON estoque.entradas TO estoque_app;
