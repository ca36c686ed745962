-- The figure the inutilização alarm watches: how many days are left before the nearest deadline to
-- inutilizar a rejected número. Expand only: a new function.
--
-- SEFAZ keeps nothing of a rejected NF-e, so its número is a gap the emitente must inutilizar by the
-- 10th day of the month after (Ajuste SINIEF 07/05, cláusula décima quarta; reference/nfe.md §2).
-- The deadline ends at midnight after that 10th in the emitente's legal time, which is its UF's
-- standard time, read from the chave's cUF (AC UTC-5; RO, AM, RR, MS, MT UTC-4; every other UF
-- Brasília's UTC-3; Brazil keeps no daylight saving time): the same calendar `nfe fiscal status`
-- and `nfe fiscal numeracao` use (nfe/ops/fiscal.py `inutilizacao_deadline`), so the alarm and the
-- commands agree on the day. The rejection's time is SEFAZ's answer (sefaz_respondida_em).
--
-- Returns the fewest days (fractional, negative once a deadline has passed) among the REJEITADA
-- notas whose número no recorded inutilização covers, or NULL when there is none: the publisher
-- then reports nothing, and the alarm treats silence as fine.
--
-- The outbox publisher calls it every minute; its role may read no business table, so the function
-- runs with its owner's rights (SECURITY DEFINER, with a fixed search_path so nobody can slip an
-- object of the same name in front of it) and hands out one number, nothing else.
CREATE FUNCTION faturamento.dias_para_inutilizar(agora timestamptz DEFAULT now())
RETURNS numeric
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT round(min(extract(epoch FROM prazo.fim - agora) / 86400), 2)
    FROM faturamento.notas_fiscais n
    CROSS JOIN LATERAL (
        SELECT make_interval(hours => CASE left(n.chave, 2)
            WHEN '12' THEN -5
            WHEN '11' THEN -4 WHEN '13' THEN -4 WHEN '14' THEN -4 WHEN '50' THEN -4 WHEN '51' THEN -4
            ELSE -3
        END) AS fuso
    ) legal
    CROSS JOIN LATERAL (
        -- The local calendar month of the rejection, plus a month and ten days: midnight after the 10th.
        SELECT (date_trunc('month', COALESCE(n.sefaz_respondida_em, n.atualizada_em) AT TIME ZONE legal.fuso)
                + interval '1 month 10 days') AT TIME ZONE legal.fuso AS fim
    ) prazo
    WHERE n.status = 'REJEITADA'
      AND NOT EXISTS (
          SELECT 1 FROM faturamento.inutilizacoes i
          WHERE i.serie = n.serie AND i.ambiente = n.ambiente
            AND n.numero BETWEEN i.numero_inicial AND i.numero_final
      )
$$;

-- Functions are executable by PUBLIC by default: only the publisher may ask.
REVOKE ALL ON FUNCTION faturamento.dias_para_inutilizar(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION faturamento.dias_para_inutilizar(timestamptz) TO outbox_publisher;
