-- Schemas and tables of both services (seed section 3), one schema per service so that each
-- service's database role can be confined to its own.

CREATE SCHEMA IF NOT EXISTS faturamento;
CREATE SCHEMA IF NOT EXISTS estoque;

-- Faturamento ---------------------------------------------------------------------------------

CREATE TABLE faturamento.notas_fiscais (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    destinatario_documento  text NOT NULL CHECK (destinatario_documento ~ '^[0-9]{11}$|^[0-9]{14}$'),
    destinatario_nome       text NOT NULL CHECK (length(destinatario_nome) BETWEEN 1 AND 200),
    status                  text NOT NULL DEFAULT 'PENDING'
                            CHECK (status IN ('PENDING', 'CONFIRMADA', 'ERRO_ESTOQUE', 'CANCELADA')),
    valor_total             numeric(15, 2) NOT NULL CHECK (valor_total >= 0),
    criada_em               timestamptz NOT NULL DEFAULT now(),
    atualizada_em           timestamptz NOT NULL DEFAULT now(),
    confirmada_em           timestamptz,
    cancelada_em            timestamptz,
    erro_codigo             text,
    erro_mensagem           text,
    erro_timestamp          timestamptz,
    -- A nota in ERRO_ESTOQUE always says why; no other status carries an error.
    CHECK ((status = 'ERRO_ESTOQUE') = (erro_codigo IS NOT NULL))
);
-- Listing by status, newest first, with a keyset cursor on (criada_em, id).
CREATE INDEX notas_fiscais_status_criada_idx ON faturamento.notas_fiscais (status, criada_em DESC, id DESC);
CREATE INDEX notas_fiscais_criada_idx ON faturamento.notas_fiscais (criada_em DESC, id DESC);

CREATE TABLE faturamento.itens_nota (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    nota_fiscal_id  uuid NOT NULL REFERENCES faturamento.notas_fiscais (id) ON DELETE CASCADE,
    -- produto_id lives in the estoque schema; the services share no foreign keys on purpose.
    produto_id      uuid NOT NULL,
    quantidade      integer NOT NULL CHECK (quantidade BETWEEN 1 AND 1000000),
    valor_unitario  numeric(15, 2) NOT NULL CHECK (valor_unitario >= 0),
    posicao         smallint NOT NULL,
    UNIQUE (nota_fiscal_id, produto_id)
);

CREATE TABLE faturamento.eventos_outbox (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tipo          text NOT NULL,
    agregado_id   uuid NOT NULL,
    payload       jsonb NOT NULL,
    criado_em     timestamptz NOT NULL DEFAULT clock_timestamp(),
    publicado     boolean NOT NULL DEFAULT false,
    publicado_em  timestamptz,
    tentativas    integer NOT NULL DEFAULT 0,
    ultimo_erro   text,
    -- A row the bus refused for good (too large, malformed): kept, never dropped, never resent.
    estacionado   boolean NOT NULL DEFAULT false
);
CREATE INDEX eventos_outbox_pendentes_idx ON faturamento.eventos_outbox (criado_em)
    WHERE NOT publicado AND NOT estacionado;

CREATE TABLE faturamento.mensagens_processadas (
    evento_id      uuid PRIMARY KEY,
    tipo           text NOT NULL,
    processada_em  timestamptz NOT NULL DEFAULT now()
);

-- Estoque -------------------------------------------------------------------------------------

CREATE TABLE estoque.produtos (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku            text NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    nome           text NOT NULL CHECK (length(nome) BETWEEN 1 AND 200),
    -- The last line of defence against overselling: whatever the code does, stock never goes negative.
    quantidade     integer NOT NULL CHECK (quantidade >= 0),
    criado_em      timestamptz NOT NULL DEFAULT now(),
    atualizado_em  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX produtos_criado_idx ON estoque.produtos (criado_em DESC, id DESC);

CREATE TABLE estoque.reservas (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    nota_fiscal_id  uuid NOT NULL,
    produto_id      uuid NOT NULL REFERENCES estoque.produtos (id),
    quantidade      integer NOT NULL CHECK (quantidade > 0),
    status          text NOT NULL DEFAULT 'ATIVA' CHECK (status IN ('ATIVA', 'LIBERADA')),
    criada_em       timestamptz NOT NULL DEFAULT now(),
    liberada_em     timestamptz,
    UNIQUE (nota_fiscal_id, produto_id)
);
CREATE INDEX reservas_produto_idx ON estoque.reservas (produto_id);

CREATE TABLE estoque.eventos_outbox (LIKE faturamento.eventos_outbox INCLUDING ALL);
CREATE TABLE estoque.mensagens_processadas (LIKE faturamento.mensagens_processadas INCLUDING ALL);
