-- SEFAZ authorizes the NF-e. A CONFIRMADA nota (stock reserved, número, chave and XML made) is with
-- SEFAZ until it answers: AUTORIZADA (cStat 100/150) with its protocol, REJEITADA (SEFAZ kept nothing;
-- the stock is released and the número awaits inutilização) or DENEGADA (stored as denied; the número
-- is consumed and the stock released). Expand only: new statuses and nullable columns.

ALTER TABLE faturamento.notas_fiscais DROP CONSTRAINT notas_fiscais_status_check;
ALTER TABLE faturamento.notas_fiscais
    ADD CONSTRAINT notas_fiscais_status_check CHECK (
        status IN ('PENDING', 'CONFIRMADA', 'ERRO_ESTOQUE', 'AUTORIZADA', 'REJEITADA', 'DENEGADA', 'CANCELADA')
    ),
    -- nProt of the authorization or of the denial, with its dhRecbto and the digVal SEFAZ computed.
    ADD COLUMN protocolo           text CHECK (protocolo ~ '^[0-9]{15}$'),
    ADD COLUMN autorizada_em       timestamptz,
    ADD COLUMN digest_value        text,
    -- SEFAZ's answer when it refused the NF-e (REJEITADA, DENEGADA), and when it arrived.
    ADD COLUMN sefaz_cstat         smallint CHECK (sefaz_cstat BETWEEN 100 AND 999),
    ADD COLUMN sefaz_motivo        text,
    ADD COLUMN sefaz_respondida_em timestamptz,
    -- Where the nfeProc (the NF-e with SEFAZ's protNFe) is in the fiscal archive.
    ADD COLUMN documento_autorizado text,
    -- When Estoque announced the reservas of a refused nota released (the compensation finished).
    ADD COLUMN estoque_liberado_em timestamptz,
    -- An authorized nota carries its protocol; a refused one says why; only NF-e reach SEFAZ's states.
    ADD CONSTRAINT notas_fiscais_autorizada_check CHECK (
        status <> 'AUTORIZADA' OR (protocolo IS NOT NULL AND autorizada_em IS NOT NULL AND chave IS NOT NULL)
    ),
    ADD CONSTRAINT notas_fiscais_recusada_check CHECK (
        status NOT IN ('REJEITADA', 'DENEGADA') OR (sefaz_cstat IS NOT NULL AND chave IS NOT NULL)
    );

-- A cancelation may now be requested of an AUTORIZADA nota (V003 allowed CONFIRMADA only).
ALTER TABLE faturamento.notas_fiscais DROP CONSTRAINT notas_fiscais_cancelamento_check;
ALTER TABLE faturamento.notas_fiscais
    ADD CONSTRAINT notas_fiscais_cancelamento_check
        CHECK (cancelamento_solicitado_em IS NULL OR status IN ('CONFIRMADA', 'AUTORIZADA', 'CANCELADA'));

-- `nfe fiscal status` and the console list the notas waiting for SEFAZ, oldest first.
CREATE INDEX notas_fiscais_aguardando_sefaz_idx ON faturamento.notas_fiscais (emitida_em)
    WHERE status = 'CONFIRMADA' AND chave IS NOT NULL;
