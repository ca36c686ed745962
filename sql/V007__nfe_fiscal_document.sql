-- The nota becomes an NF-e (modelo 55, leiaute 4.00). Expand only: every new column is nullable or
-- has a default, so rows written before stay valid and code deployed before keeps working until the
-- new code replaces it.

-- Estoque: what an NF-e item needs of a produto. A produto without NCM can be stocked, not invoiced.
ALTER TABLE estoque.produtos
    ADD COLUMN ncm      text CHECK (ncm ~ '^[0-9]{8}$'),
    ADD COLUMN unidade  text CHECK (length(unidade) BETWEEN 1 AND 6),
    ADD COLUMN origem   smallint CHECK (origem BETWEEN 0 AND 8),
    ADD COLUMN gtin     text CHECK (gtin ~ '^([0-9]{8}|[0-9]{12,14})$');

-- Faturamento: the destinatário as the NF-e needs it, the operation, and the document's identity.
-- The alphanumeric CNPJ (NT 2025.001) is a destinatário's documento too.
ALTER TABLE faturamento.notas_fiscais DROP CONSTRAINT notas_fiscais_destinatario_documento_check;
ALTER TABLE faturamento.notas_fiscais
    ADD CONSTRAINT notas_fiscais_destinatario_documento_check
        CHECK (destinatario_documento ~ '^[0-9]{11}$|^[0-9A-Z]{12}[0-9]{2}$'),
    -- The whole destinatário (address, IE, e-mail) as the API received it, validated there.
    ADD COLUMN destinatario        jsonb,
    ADD COLUMN natureza_operacao   text NOT NULL DEFAULT 'Venda de mercadoria'
                                   CHECK (length(natureza_operacao) BETWEEN 1 AND 60),
    -- The série the nota will be numbered in, fixed when it is emitted; tpAmb of the emitente.
    ADD COLUMN serie               smallint CHECK (serie BETWEEN 0 AND 889),
    ADD COLUMN ambiente            smallint CHECK (ambiente IN (1, 2)),
    -- Allocated with the reservation's confirmation, in the same transaction: gapless per série.
    ADD COLUMN numero              integer CHECK (numero BETWEEN 1 AND 999999999),
    ADD COLUMN chave               text CHECK (chave ~ '^[0-9]{6}[0-9A-Z]{12}[0-9]{26}$'),
    ADD COLUMN emitida_em          timestamptz,
    -- The NF-e as built from the official schemas (unsigned; the SEFAZ step signs it).
    ADD COLUMN xml                 text,
    ADD CONSTRAINT notas_fiscais_serie_numero_key UNIQUE (serie, numero),
    ADD CONSTRAINT notas_fiscais_chave_key UNIQUE (chave),
    -- Número, chave, emission time and XML come together, and only with a série.
    ADD CONSTRAINT notas_fiscais_documento_check CHECK (
        (numero IS NULL) = (chave IS NULL) AND (numero IS NULL) = (xml IS NULL)
        AND (numero IS NULL) = (emitida_em IS NULL) AND (numero IS NULL OR serie IS NOT NULL)
    ),
    -- A nota refused for lack of stock takes no número.
    ADD CONSTRAINT notas_fiscais_erro_sem_numero_check CHECK (status <> 'ERRO_ESTOQUE' OR numero IS NULL);
CREATE INDEX notas_fiscais_serie_numero_idx ON faturamento.notas_fiscais (serie, numero DESC);

-- Each item's fiscal snapshot, taken by Estoque when it reserved the stock (Faturamento cannot read
-- Estoque's schema), and its CFOP; filled with the número.
ALTER TABLE faturamento.itens_nota
    ADD COLUMN codigo     text,
    ADD COLUMN descricao  text,
    ADD COLUMN ncm        text CHECK (ncm ~ '^[0-9]{8}$'),
    ADD COLUMN unidade    text,
    ADD COLUMN origem     smallint CHECK (origem BETWEEN 0 AND 8),
    ADD COLUMN gtin       text,
    ADD COLUMN cfop       text CHECK (cfop ~ '^[1-7][0-9]{3}$');

-- The last número of each série. A row locked for update by the transaction that numbers a nota, not
-- a sequence: a sequence burns its value when that transaction rolls back, leaving a gap SEFAZ
-- would want inutilizada; this counter rolls back with it.
CREATE TABLE faturamento.numeracao (
    serie          smallint PRIMARY KEY CHECK (serie BETWEEN 0 AND 889),
    ultimo_numero  integer NOT NULL DEFAULT 0 CHECK (ultimo_numero BETWEEN 0 AND 999999999)
);

-- V002's default privileges cover new tables of the migrating role; explicit keeps it right for any role.
GRANT SELECT, INSERT, UPDATE ON faturamento.numeracao TO faturamento_app;
