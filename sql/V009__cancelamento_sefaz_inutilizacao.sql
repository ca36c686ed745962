-- After authorization: the cancelation is SEFAZ's event 110111, and the números SEFAZ never authorized
-- are inutilizados. Expand only: nullable columns and new tables.

-- The cancelation of an AUTORIZADA nota is asked of SEFAZ with a justificativa (xJust); SEFAZ's event
-- protocol and the procEventoNFe's key in the archive when it is homologated, or why it refused it.
ALTER TABLE faturamento.notas_fiscais
    ADD COLUMN cancelamento_justificativa  text CHECK (length(cancelamento_justificativa) BETWEEN 15 AND 255),
    ADD COLUMN cancelamento_protocolo      text CHECK (cancelamento_protocolo ~ '^[0-9]{15}$'),
    ADD COLUMN cancelamento_documento      text,
    ADD COLUMN cancelamento_recusa_cstat   smallint CHECK (cancelamento_recusa_cstat BETWEEN 100 AND 999),
    ADD COLUMN cancelamento_recusa_motivo  text,
    ADD COLUMN cancelamento_recusado_em    timestamptz;

-- Every inutilização SEFAZ homologated (102, or 563 with its earlier protocol): the range of a série,
-- its protocol and the procInutNFe's key in the archive. A range is asked once: SEFAZ answers the same
-- range again with 563 and the earlier protocol, which changes nothing here.
CREATE TABLE faturamento.inutilizacoes (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    serie          smallint NOT NULL CHECK (serie BETWEEN 0 AND 889),
    ambiente       smallint NOT NULL CHECK (ambiente IN (1, 2)),
    numero_inicial integer NOT NULL CHECK (numero_inicial BETWEEN 1 AND 999999999),
    numero_final   integer NOT NULL CHECK (numero_final BETWEEN 1 AND 999999999),
    justificativa  text NOT NULL CHECK (length(justificativa) BETWEEN 15 AND 255),
    protocolo      text NOT NULL CHECK (protocolo ~ '^[0-9]{15}$'),
    homologada_em  timestamptz NOT NULL,
    documento      text,
    registrada_em  timestamptz NOT NULL DEFAULT now(),
    CHECK (numero_final >= numero_inicial AND numero_final - numero_inicial < 10000),
    UNIQUE (serie, ambiente, numero_inicial, numero_final)
);
CREATE INDEX inutilizacoes_serie_idx ON faturamento.inutilizacoes (serie, numero_inicial);

GRANT SELECT, INSERT ON faturamento.inutilizacoes TO faturamento_app;
