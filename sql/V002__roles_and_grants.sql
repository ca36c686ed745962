-- One login role per service, confined to its schema, and a publisher role that may only read and
-- mark the two outbox tables. Creation is idempotent: roles are cluster-wide and may already exist.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['faturamento_app', 'estoque_app', 'outbox_publisher'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
        END IF;
        -- On RDS these roles authenticate with IAM tokens only; locally rds_iam does not exist.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
            EXECUTE format('GRANT rds_iam TO %I', r);
        END IF;
    END LOOP;
END
$$;

-- Nobody but the owner creates objects in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

REVOKE ALL ON SCHEMA faturamento, estoque FROM PUBLIC;

GRANT USAGE ON SCHEMA faturamento TO faturamento_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA faturamento TO faturamento_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA faturamento
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO faturamento_app;

GRANT USAGE ON SCHEMA estoque TO estoque_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA estoque TO estoque_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA estoque
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO estoque_app;

-- The publisher reads pending rows and marks them; it cannot insert, delete or see business tables.
GRANT USAGE ON SCHEMA faturamento, estoque TO outbox_publisher;
GRANT SELECT, UPDATE (publicado, publicado_em, tentativas, ultimo_erro, estacionado)
    ON faturamento.eventos_outbox, estoque.eventos_outbox TO outbox_publisher;
