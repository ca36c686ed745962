"""The nfe stack: the NF-e saga on Lambda, EventBridge, SQS and a private RDS PostgreSQL.

`pulumi up -s dev|prod` runs this with the stack's config; `nfe plan` runs it under mocks with
NFE_OFFLINE_PLAN=1, which builds nothing and does not read the CA bundles (see nfe/build.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from components import runbook
from components.account import require_bootstrap
from components.dashboard import Dashboard, DashboardArgs
from components.database import SecureDatabase, SecureDatabaseArgs
from components.event_bus import EventBus, EventBusArgs
from components.fiscal_archive import FiscalArchive, FiscalArchiveArgs
from components.identity import Identity, IdentityArgs
from components.lambdas import LambdaRuntime
from components.publisher import OutboxPublisher, OutboxPublisherArgs
from components.queues import backlog_alarm_seconds
from components.rest_api import RestApi, RestApiArgs
from components.saga_service import SagaService, SagaServiceArgs
from components.sefaz_participant import SefazParticipant, SefazParticipantArgs
from components.static_site import StaticSite, StaticSiteArgs
from functions.migrator.runner import checksum_of_tree
from nfe import build, topology
from nfe.config import ConfigError, StackConfig, from_pulumi

SERVICES = ("faturamento", "estoque")


def load_config() -> StackConfig:
    try:
        config = from_pulumi()
        config.emitente_of()  # the one key the tools may do without and the program may not
        return config
    except ConfigError as exc:
        # RunError prints its message without a traceback: the message names every bad key.
        raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None


def package(config: StackConfig) -> tuple[build.TlsSettings, build.SefazTlsSettings, build.Artifacts]:
    """Both CA bundles decided (or the deploy refused, naming the key) before anything is built."""
    offline = build.is_offline()
    try:
        tls = build.tls_settings(
            config.environment, config.database.ca_bundle_path, offline, via_proxy=config.database.proxy
        )
        sefaz_tls = build.sefaz_tls_settings(config.emitente_of().ambiente, config.sefaz.ca_bundle_path, offline)
        artifacts = build.artifact_paths() if offline else build.build_all(tls.bundle, sefaz_ca_bundle=sefaz_tls.bundle)
    except build.BuildError as exc:
        raise pulumi.RunError(str(exc)) from None
    if tls.notice:
        pulumi.log.warn(tls.notice) if tls.sslmode != "verify-full" else pulumi.log.info(tls.notice)
    if sefaz_tls.notice:
        pulumi.log.warn(sefaz_tls.notice) if sefaz_tls.warning else pulumi.log.info(sefaz_tls.notice)
    return tls, sefaz_tls, artifacts


def main() -> None:
    # First: every alarm declared after this links to its runbook section.
    runbook.register()
    config = load_config()
    env = config.environment
    # Before anything else: without the account project's settings the stage's logging and the
    # bus's log target fail late, at `up`, in the middle of a deploy.
    require_bootstrap(config.region)
    tls, sefaz_tls, artifacts = package(config)
    lam = config.lambda_

    layer = aws.lambda_.LayerVersion(
        "deps-layer",
        layer_name=f"nfe-deps-{env}",
        description="psycopg, pydantic, powertools, the NF-e libraries (nfelib, lxml, BrazilFiscalReport); arm64 cp313",
        code=pulumi.FileArchive(str(artifacts.layer)),
        compatible_runtimes=["python3.13"],
        compatible_architectures=["arm64"],
    )
    runtime = LambdaRuntime(
        environment=env,
        code_paths={name: str(path) for name, path in artifacts.functions.items()},
        layer_arns=[layer.arn],
        memory_mb=lam.memory_mb,
        api_timeout_seconds=lam.api_timeout_seconds,
        consumer_timeout_seconds=lam.consumer_timeout_seconds,
        reserved_concurrency=lam.reserved_concurrency,
        log_retention_days=lam.log_retention_days,
        db_sslmode=tls.sslmode,
        db_sslrootcert=tls.sslrootcert,
        outage_tolerance_seconds=lam.outage_tolerance_minutes * 60,
        emitente_json=config.emitente_of().model_dump_json(by_alias=True),
        sefaz_ca_bundle=sefaz_tls.ca_bundle,
    )
    # Not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key,
    # and the notifications carry alarm names and metric values only.
    alarms = aws.sns.Topic("alarms", name=f"nfe-alarms-{env}")

    bus = EventBus(
        "events",
        EventBusArgs(environment=env, log_retention_days=lam.log_retention_days, alarm_topic_arn=alarms.arn),
    )
    fiscal = config.fiscal_archive
    # Before the database: its S3 gateway endpoint's policy names the archive bucket.
    archive = FiscalArchive(
        "fiscal-archive",
        FiscalArchiveArgs(
            environment=env,
            object_lock_mode=fiscal.object_lock_mode,
            retention_days=fiscal.retention_days,
            transition_to_ia_days=fiscal.transition_to_ia_days,
            transition_to_glacier_days=fiscal.transition_to_glacier_days,
            log_retention_days=fiscal.log_retention_days,
        ),
    )
    db = config.database
    net = config.network
    database = SecureDatabase(
        "database",
        SecureDatabaseArgs(
            environment=env,
            region=config.region,
            engine_version=db.engine_version,
            instance_class=db.instance_class,
            allocated_storage_gb=db.allocated_storage_gb,
            storage_type=db.storage_type,
            multi_az=db.multi_az,
            backup_retention_days=db.backup_retention_days,
            deletion_protection=db.deletion_protection,
            final_snapshot=env == "prod",
            proxy=db.proxy,
            vpc_cidr=net.vpc_cidr,
            availability_zone_ids=net.availability_zone_ids,
            endpoint_azs=net.endpoint_azs,
            xray_endpoint=net.xray_endpoint,
            admin_prefix_list_entries=net.admin_prefix_list_entries,
            log_retention_days=lam.log_retention_days,
            proxy_borrow_timeout_seconds=db.proxy_borrow_timeout_seconds,
            runtime=runtime,
            sql_checksum=checksum_of_tree(),
            alarm_topic_arn=alarms.arn,
            s3_endpoint_bucket_arns=[archive.bucket.arn],
        ),
    )
    publisher = OutboxPublisher(
        "outbox-publisher",
        OutboxPublisherArgs(
            runtime=runtime,
            network=database.function_network,
            database=database.access,
            bus_name=bus.bus_name,
            bus_arn=bus.bus_arn,
            alarm_topic_arn=alarms.arn,
        ),
    )
    # The API's CORS answers (the gateway's and the functions' own) name the console's origin, which
    # is the distribution's domain unless configured, and the distribution's /api/* origin is the
    # API: resolved once the site exists.
    deferred: tuple[pulumi.Output[str], Callable[[pulumi.Output[str]], None]] = pulumi.deferred_output()
    cors_origin, resolve_cors_origin = deferred
    services = {
        service: SagaService(
            service,
            SagaServiceArgs(
                service=service,
                runtime=runtime,
                network=database.function_network,
                database=database.access,
                bus_name=bus.bus_name,
                bus_arn=bus.bus_arn,
                alarm_topic_arn=alarms.arn,
                cors_allow_origin=cors_origin,
                fiscal_archive=archive.access,
            ),
        )
        for service in SERVICES
    }
    # The saga's third participant: outside the VPC, no database, SEFAZ over the internet.
    sefaz = SefazParticipant(
        "sefaz",
        SefazParticipantArgs(
            runtime=runtime,
            bus_name=bus.bus_name,
            bus_arn=bus.bus_arn,
            alarm_topic_arn=alarms.arn,
            fiscal_archive=archive.access,
            pending_alarm_minutes=config.sefaz.pending_alarm_minutes,
            migrated=database.access.migrated,
        ),
    )
    api_functions = {
        fn_name: (resources.function.name, resources.function.invoke_arn)
        for service in services.values()
        for fn_name, resources in service.functions.items()
    }
    users = Identity(
        "identity",
        IdentityArgs(environment=env, mfa=config.identity.mfa, deletion_protection=config.identity.deletion_protection),
    )
    api = RestApi(
        "api",
        RestApiArgs(
            environment=env,
            functions=api_functions,
            throttle_rate_limit=config.api.throttle_rate_limit,
            throttle_burst_limit=config.api.throttle_burst_limit,
            log_retention_days=lam.log_retention_days,
            alarm_topic_arn=alarms.arn,
            migrated=database.access.migrated,
            custom_domain=config.api.custom_domain,
            certificate_arn=config.api.certificate_arn,
            cors_allow_origin=cors_origin,
            user_pool_arns=[users.user_pool_arn],
        ),
    )
    dist_dir = build.PROJECT_ROOT / config.frontend.dist_dir
    if not (dist_dir / "index.html").is_file():
        message = f"no built web console in {dist_dir}: run `make build` (or set nfe:frontend.distDir)"
        if not build.is_offline():
            raise pulumi.RunError(message)
        pulumi.log.warn(message + "; the plan has no site files")
    console = StaticSite(
        "console",
        StaticSiteArgs(
            environment=env,
            region=config.region,
            dist_dir=dist_dir,
            rest_api_id=api.api.id,
            stage_name=env,
            # The console's config.json: the API on the distribution's own origin, sign-in at the pool.
            runtime_config={
                "apiBaseUrl": "",
                "region": config.region,
                "cognitoEndpoint": "",
                "userPoolClientId": users.client_id,
            },
            custom_domain=config.frontend.custom_domain,
            certificate_arn=config.frontend.certificate_arn,
            web_acl_arn=config.frontend.web_acl_arn,
            price_class=config.frontend.price_class,
            access_log_bucket=archive.access_logs_target,
        ),
    )
    resolve_cors_origin(pulumi.Output.from_input(config.api.cors_allow_origin or console.origin))

    function_names = {
        **{fn: r.function.name for service in services.values() for fn, r in service.functions.items()},
        sefaz.resources.spec.name: sefaz.resources.function.name,
        publisher.resources.spec.name: publisher.resources.function.name,
        database.migrator.spec.name: database.migrator.function.name,
    }
    routed = [q for service in services.values() for q in service.queues] + sefaz.queues.routed
    dlqs = [q.dlq for q in routed]
    target_dlqs = {name: service.target_dlq for name, service in services.items()}
    target_dlqs["sefaz"] = sefaz.queues.target_dlq
    dashboard = Dashboard(
        "dashboard",
        DashboardArgs(
            environment=env,
            region=config.region,
            function_names=function_names,
            dlq_names=[
                *(q.name for q in dlqs),
                *(t.name for t in target_dlqs.values()),
                f"{topology.bus_name(env)}-log-target-dlq",
            ],
            api_name=api.api.name,
            api_stage=api.stage.stage_name,
            db_instance_id=database.instance.identifier,
            queue_names=[q.queue.name for q in routed],
            backlog_alarm_seconds=backlog_alarm_seconds(lam.outage_tolerance_minutes * 60),
            sefaz_pending_alarm_seconds=config.sefaz.pending_alarm_minutes * 60,
        ),
    )

    pulumi.export("apiUrl", api.url)
    pulumi.export("consoleUrl", console.url)
    pulumi.export("userPoolId", users.user_pool_id)
    pulumi.export("userPoolClientId", users.client_id)
    if config.api.custom_domain:
        pulumi.export("customDomainTarget", api.domain.regional_domain_name)
    pulumi.export("eventBusName", bus.bus_name)
    pulumi.export("queueUrls", {q.spec.name: q.queue.url for q in routed})
    pulumi.export("databaseEndpoint", database.instance.address)
    pulumi.export("proxyEndpoint", database.proxy.endpoint if database.proxy else None)
    pulumi.export("databaseName", topology.DATABASE_NAME)
    pulumi.export("alarmTopicArn", alarms.arn)
    # What `nfe dlq|replay|outbox|saga --stack` read (nfe/ops/target.py), as local mode's state file.
    pulumi.export("region", config.region)
    pulumi.export("eventArchiveName", f"{topology.bus_name(env)}-archive")
    pulumi.export("dlqUrls", {q.spec.name: q.dlq.url for q in routed})
    pulumi.export("targetDlqUrls", {name: t.url for name, t in target_dlqs.items()})
    pulumi.export("dashboardName", dashboard.dashboard.dashboard_name)
    pulumi.export("fiscalArchiveBucket", archive.bucket.bucket)
    # Where the team puts the A1 certificate (`aws secretsmanager put-secret-value --secret-id <arn>`,
    # docs/operations.md): the secret's ARN and name, never its value, which the program never holds.
    pulumi.export("sefazCertificateSecretArn", sefaz.certificate_secret.arn)
    pulumi.export("sefazCertificateSecretName", sefaz.certificate_secret.name)


main()
