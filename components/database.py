"""SecureDatabase: a private PostgreSQL on RDS, its network, optional RDS Proxy, and the migrator.

The database lives in private subnets with no NAT and no internet gateway (DESIGN.md, "Where the
seed cannot be built as drawn"): functions reach it from the same subnets, and AWS APIs through
interface endpoints. Security groups reference each other (functions -> proxy -> database, or
functions -> database without a proxy); the only CIDR path to port 5432 is the customer-managed
prefix list `nfe-db-admin-<env>`, whose entries come from stack config.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pulumi
import pulumi_aws as aws

from components import iam
from components.fiscal_archive import gateway_endpoint_policy
from components.lambdas import DB_PORT, DatabaseAccess, LambdaRuntime, Network, create_function, errors_alarm
from nfe import topology

MASTER_USERNAME = "nfe_admin"
# Interface endpoints the private functions need: the bus (every publisher), Secrets Manager (the
# migrator) and SQS (a consumer delays the messages whose dependency is down with
# ChangeMessageVisibility, functions/shared/redelivery.py); X-Ray (traces) when the stack asks for it
# (nfe:network.xrayEndpoint, docs/deploy.md).
ENDPOINT_SERVICES = ("events", "secretsmanager", "sqs")
XRAY_ENDPOINT_SERVICE = "xray"
# Matches the RDS CA bundle the functions verify against (the global bundle holds every RDS CA).
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
EXPORTED_LOGS = ("postgresql", "upgrade")


@dataclass(frozen=True)
class SecureDatabaseArgs:
    environment: str
    region: str
    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    storage_type: str
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    final_snapshot: bool
    proxy: bool
    vpc_cidr: str
    availability_zone_ids: Sequence[str]  # zone IDs (use1-az1): names map to other zones in each account
    endpoint_azs: int
    admin_prefix_list_entries: Sequence[str]
    xray_endpoint: bool
    log_retention_days: int
    proxy_borrow_timeout_seconds: int  # at most the shortest function timeout (nfe/config.py checks it)
    runtime: LambdaRuntime  # packaging and TLS settings of the migrator
    sql_checksum: str  # digest of sql/: a new value re-runs the migrator on deploy
    alarm_topic_arn: pulumi.Input[str]
    # Deploy into an existing VPC instead: its id and private subnets in at least two AZs.
    vpc_id: pulumi.Input[str] | None = None
    subnet_ids: Sequence[pulumi.Input[str]] | None = None
    # The existing VPC's route tables of those subnets, for the S3 gateway endpoint (none: no endpoint).
    route_table_ids: Sequence[pulumi.Input[str]] | None = None
    # Buckets whose NF-e documents the functions reach through the S3 gateway endpoint; its policy
    # admits those and nothing else (empty: the endpoint's default policy, full access).
    s3_endpoint_bucket_arns: Sequence[pulumi.Input[str]] = ()


def subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """The first `count` /(n+4) blocks of the VPC (a /16 gives /20s of 4,091 usable addresses)."""
    network = ipaddress.ip_network(vpc_cidr)
    new_prefix = min(network.prefixlen + 4, 28)
    blocks = network.subnets(new_prefix=new_prefix)
    return [str(next(blocks)) for _ in range(count)]


def final_snapshot_identifier(identifier: str, now: datetime | None = None) -> str:
    """`nfe-db-prod-final-20261201T220000Z`: one name per instance, fixed when the instance is created.

    A fixed `<id>-final` would be taken by the first teardown, and the teardown of an instance
    restored from that snapshot would fail with DBSnapshotAlreadyExists. The program passes a new
    timestamp every run; `ignore_changes` keeps the one the instance was created with, so a deploy
    never shows a diff and a new instance (a new stack, or a restore into one) gets a new name.
    """
    moment = now or datetime.now(UTC)
    return f"{identifier}-final-{moment:%Y%m%dT%H%M%SZ}"


def engine_family(engine_version: str) -> str:
    return f"postgres{engine_version.split('.')[0]}"


def rds_db_user_prefix(instance_arn: pulumi.Input[str], resource_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """`arn:<partition>:rds-db:<region>:<account>:dbuser:<resource id>/`, the database user name follows.

    Partition, region and account come from the instance's own ARN, so no lookup is needed.
    """

    def prefix(values: list[str]) -> str:
        arn, rid = values
        _, partition, _, region, account = arn.split(":")[:5]
        return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{rid}/"

    return pulumi.Output.all(instance_arn, resource_id).apply(prefix)


def application_roles() -> list[str]:
    return sorted({f.database_role for f in topology.FUNCTIONS if f.database_role})


class SecureDatabase(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    instance: aws.rds.Instance
    proxy: aws.rds.Proxy | None
    access: DatabaseAccess
    function_network: Network

    def __init__(self, name: str, args: SecureDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:SecureDatabase", name, None, opts)
        self.args = args
        self._prefix = name
        self._create_network()
        self._create_security_groups()
        self._create_endpoints()
        self.key = self._create_key()
        self.instance = self._create_instance()
        self.proxy = self._create_proxy() if args.proxy else None
        self.function_network = Network(subnet_ids=self.subnet_ids, security_group_ids=[self.lambda_sg.id])
        self.migration = self._create_migrator()
        self.access = self._database_access()
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "instanceAddress": self.instance.address,
                "proxyEndpoint": self.proxy.endpoint if self.proxy else None,
                "lambdaSecurityGroupId": self.lambda_sg.id,
            }
        )

    def _opts(self, **kwargs: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

    # -- network ---------------------------------------------------------------------------------

    def _create_network(self) -> None:
        args, name = self.args, self._prefix
        if args.vpc_id is not None:
            if not args.subnet_ids or len(args.subnet_ids) < 2:
                raise ValueError("an existing VPC needs private subnet ids in at least two AZs")
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.subnet_ids = [pulumi.Output.from_input(s) for s in args.subnet_ids]
            self.route_table_ids = [pulumi.Output.from_input(r) for r in args.route_table_ids or ()]
            return
        # Interface endpoints with private DNS need both DNS attributes on the VPC.
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"nfe-{args.environment}"},
            opts=self._opts(),
        )
        # The default security group would admit all traffic between its members: strip its rules.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=self._opts())
        # Placed by zone ID: the same ID is the same physical zone in every account, which is what
        # the zone checks in nfe/config.py (RDS Proxy's unsupported zones) are written against.
        subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone_id=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"nfe-{args.environment}-private-{zone}"},
                opts=self._opts(),
            )
            for zone, cidr in zip(
                args.availability_zone_ids, subnet_cidrs(args.vpc_cidr, len(args.availability_zone_ids)), strict=True
            )
        ]
        self.vpc_id = vpc.id
        self.subnet_ids = [s.id for s in subnets]
        # The private subnets' own route table (the VPC's local route only), so the S3 gateway
        # endpoint's route lands where they look, not in the main table any future subnet inherits.
        route_table = aws.ec2.RouteTable(
            f"{name}-private-routes",
            vpc_id=vpc.id,
            tags={"Name": f"nfe-{args.environment}-private"},
            opts=self._opts(),
        )
        for zone, subnet in zip(args.availability_zone_ids, subnets, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}-routes", subnet_id=subnet.id, route_table_id=route_table.id, opts=self._opts()
            )
        self.route_table_ids = [route_table.id]

    def _security_group(self, suffix: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{self._prefix}-{suffix}-sg",
            description=description,
            vpc_id=self.vpc_id,
            tags={"Name": f"nfe-{self.args.environment}-{suffix}"},
            opts=self._opts(),
        )

    def _allow(
        self, suffix: str, source: aws.ec2.SecurityGroup, target: aws.ec2.SecurityGroup, port: int, description: str
    ) -> list[pulumi.Resource]:
        """Egress from `source` and ingress to `target` on one TCP port, each naming the other group."""
        egress = aws.vpc.SecurityGroupEgressRule(
            f"{self._prefix}-{suffix}-egress",
            security_group_id=source.id,
            referenced_security_group_id=target.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=description,
            opts=self._opts(),
        )
        ingress = aws.vpc.SecurityGroupIngressRule(
            f"{self._prefix}-{suffix}-ingress",
            security_group_id=target.id,
            referenced_security_group_id=source.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=description,
            opts=self._opts(),
        )
        return [egress, ingress]

    def _create_security_groups(self) -> None:
        args = self.args
        self.lambda_sg = self._security_group("lambda", "Application functions")
        self.migrator_sg = self._security_group("migrator", "Schema migrator function")
        self.db_sg = self._security_group("db", "PostgreSQL instance")
        self.endpoint_sg = self._security_group("endpoints", "Interface VPC endpoints")
        self.migrator_rules: list[pulumi.Resource] = []
        if args.proxy:
            self.proxy_sg = self._security_group("proxy", "RDS Proxy")
            self._allow("lambda-to-proxy", self.lambda_sg, self.proxy_sg, DB_PORT, "functions to RDS Proxy")
            self._allow("proxy-to-db", self.proxy_sg, self.db_sg, DB_PORT, "RDS Proxy to PostgreSQL")
        else:
            self._allow("lambda-to-db", self.lambda_sg, self.db_sg, DB_PORT, "functions to PostgreSQL")
        self._allow("lambda-to-endpoints", self.lambda_sg, self.endpoint_sg, 443, "functions to AWS APIs")
        # The migrator logs in as the master user with the managed secret, which the IAM-only proxy
        # does not accept, so it goes to the instance directly, from its own group.
        self.migrator_rules += self._allow("migrator-to-db", self.migrator_sg, self.db_sg, DB_PORT, "migrator")
        self.migrator_rules += self._allow(
            "migrator-to-endpoints", self.migrator_sg, self.endpoint_sg, 443, "migrator to Secrets Manager"
        )
        entries = list(args.admin_prefix_list_entries)
        self.admin_prefix_list = aws.ec2.ManagedPrefixList(
            f"{self._prefix}-admin-prefix-list",
            name=f"nfe-db-admin-{args.environment}",
            address_family="IPv4",
            # A rule referencing the list counts max_entries against the group's rule quota: size it to fit.
            max_entries=max(1, len(entries)),
            entries=[{"cidr": cidr, "description": "database administrator"} for cidr in entries],
            opts=self._opts(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._prefix}-admin-ingress",
            security_group_id=self.db_sg.id,
            prefix_list_id=self.admin_prefix_list.id,
            ip_protocol="tcp",
            from_port=DB_PORT,
            to_port=DB_PORT,
            description="administrators, through the nfe-db-admin prefix list only",
            opts=self._opts(),
        )

    def _create_endpoints(self) -> None:
        args = self.args
        subnets = self.subnet_ids[: args.endpoint_azs]
        self.endpoints = {
            service: aws.ec2.VpcEndpoint(
                f"{self._prefix}-{service}-endpoint",
                vpc_id=self.vpc_id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnets,
                security_group_ids=[self.endpoint_sg.id],
                tags={"Name": f"nfe-{args.environment}-{service}"},
                opts=self._opts(),
            )
            for service in (*ENDPOINT_SERVICES, *([XRAY_ENDPOINT_SERVICE] if args.xray_endpoint else []))
        }
        # S3 through a gateway endpoint: a route to S3's prefix list in the private route table, no
        # NAT, no hourly or per-GB charge (unlike an interface endpoint).
        self.s3_endpoint: aws.ec2.VpcEndpoint | None = None
        if self.route_table_ids:
            self.s3_endpoint = aws.ec2.VpcEndpoint(
                f"{self._prefix}-s3-endpoint",
                vpc_id=self.vpc_id,
                service_name=f"com.amazonaws.{args.region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=self.route_table_ids,
                policy=gateway_endpoint_policy(args.s3_endpoint_bucket_arns) if args.s3_endpoint_bucket_arns else None,
                tags={"Name": f"nfe-{args.environment}-s3"},
                opts=self._opts(),
            )

    # -- database --------------------------------------------------------------------------------

    def _create_key(self) -> aws.kms.Key:
        key = aws.kms.Key(
            f"{self._prefix}-key",
            description=f"nfe {self.args.environment}: RDS storage and the managed master secret",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=self._opts(),
        )
        aws.kms.Alias(
            f"{self._prefix}-key-alias",
            name=f"alias/nfe-db-{self.args.environment}",
            target_key_id=key.key_id,
            opts=self._opts(),
        )
        return key

    def _create_instance(self) -> aws.rds.Instance:
        args, name = self.args, self._prefix
        identifier = f"nfe-db-{args.environment}"
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=engine_family(args.engine_version),
            description=f"nfe {args.environment}: TLS required",
            parameters=[{"name": "rds.force_ssl", "value": "1"}],
            opts=self._opts(),
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=self.subnet_ids,
            description=f"nfe {args.environment}: private subnets",
            opts=self._opts(),
        )
        # RDS would create the export log groups itself, without retention; ours must exist first.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}-logs",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days,
                opts=self._opts(),
            )
            for log in EXPORTED_LOGS
        ]
        return aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            # A major alone lets RDS pick its current minor; auto minor upgrades keep it current.
            engine_version=args.engine_version,
            auto_minor_version_upgrade=True,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            storage_type=args.storage_type,
            storage_encrypted=True,
            kms_key_id=self.key.arn,
            db_name=topology.DATABASE_NAME,
            username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=self.key.arn,
            iam_database_authentication_enabled=True,
            parameter_group_name=parameters.name,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[self.db_sg.id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=final_snapshot_identifier(identifier) if args.final_snapshot else None,
            copy_tags_to_snapshot=True,
            ca_cert_identifier=CA_CERT_IDENTIFIER,
            enabled_cloudwatch_logs_exports=list(EXPORTED_LOGS),
            # The snapshot name is fixed when the instance is created (see final_snapshot_identifier).
            opts=self._opts(depends_on=log_groups, ignore_changes=["finalSnapshotIdentifier"]),
        )

    def _create_proxy(self) -> aws.rds.Proxy:
        args, name = self.args, self._prefix
        proxy_name = f"nfe-proxy-{args.environment}"
        role = aws.iam.Role(
            f"{name}-proxy-role",
            assume_role_policy=iam.assume_role_policy("rds.amazonaws.com"),
            description=f"RDS Proxy {proxy_name}: IAM authentication to the instance",
            opts=self._opts(),
        )
        # End-to-end IAM auth: the proxy itself logs in to the instance with IAM tokens as each user.
        instance_users = [
            pulumi.Output.concat(rds_db_user_prefix(self.instance.arn, self.instance.resource_id), user)
            for user in application_roles()
        ]
        policy = aws.iam.RolePolicy(
            f"{name}-proxy-policy",
            role=role.id,
            policy=iam.document([iam.statement(["rds-db:connect"], instance_users, sid="ConnectAsAppUsers")]),
            opts=self._opts(),
        )
        # The proxy writes here from its first minute; created after it, ours would collide.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-proxy-logs",
            name=f"/aws/rds/proxy/{proxy_name}",
            retention_in_days=args.log_retention_days,
            opts=self._opts(),
        )
        proxy = aws.rds.Proxy(
            f"{name}-proxy",
            name=proxy_name,
            engine_family="POSTGRESQL",
            role_arn=role.arn,
            default_auth_scheme="IAM_AUTH",
            require_tls=True,
            idle_client_timeout=1800,
            debug_logging=False,
            vpc_subnet_ids=self.subnet_ids,
            vpc_security_group_ids=[self.proxy_sg.id],
            opts=self._opts(depends_on=[policy, log_group]),
        )
        target_group = aws.rds.ProxyDefaultTargetGroup(
            f"{name}-proxy-target-group",
            db_proxy_name=proxy.name,
            connection_pool_config={
                "max_connections_percent": 90,
                "connection_borrow_timeout": args.proxy_borrow_timeout_seconds,
            },
            opts=self._opts(),
        )
        aws.rds.ProxyTarget(
            f"{name}-proxy-target",
            db_proxy_name=proxy.name,
            target_group_name=target_group.name,
            db_instance_identifier=self.instance.identifier,
            opts=self._opts(),
        )
        self.proxy_role = role
        return proxy

    def _database_access(self) -> DatabaseAccess:
        if self.proxy is not None:
            # Through the proxy, IAM names the proxy's resource id (`prx-...`, the last part of its ARN).
            resource_id = self.proxy.arn.apply(lambda arn: arn.split(":")[-1].split("/")[-1])
            host = self.proxy.endpoint
        else:
            resource_id = self.instance.resource_id
            host = self.instance.address
        prefix = rds_db_user_prefix(self.instance.arn, resource_id)
        return DatabaseAccess(
            host=host, via_proxy=self.proxy is not None, connect_arn_prefix=prefix, migrated=[self.migration]
        )

    # -- migrations --------------------------------------------------------------------------------

    def _create_migrator(self) -> aws.lambda_.Invocation:
        args, name = self.args, self._prefix
        spec = topology.function("db-migrator")
        secret_arn = self.instance.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        environment: dict[str, pulumi.Input[str]] = {
            topology.ENV_DB_HOST: self.instance.address,
            topology.ENV_DB_PORT: str(DB_PORT),
            topology.ENV_DB_NAME: topology.DATABASE_NAME,
            topology.ENV_DB_IAM_AUTH: "false",
            topology.ENV_DB_SSLMODE: args.runtime.db_sslmode,
            topology.ENV_DB_SECRET_ARN: secret_arn,
        }
        if args.runtime.db_sslrootcert:
            environment[topology.ENV_DB_SSLROOTCERT] = args.runtime.db_sslrootcert
        migrator = create_function(
            self,
            f"{name}-migrator",
            spec,
            args.runtime,
            Network(subnet_ids=self.subnet_ids, security_group_ids=[self.migrator_sg.id]),
            environment=environment,
            statements=[
                iam.statement(["secretsmanager:GetSecretValue"], [secret_arn], sid="MasterSecretOnly"),
                iam.statement(["kms:Decrypt"], [self.key.arn], sid="MasterSecretKeyOnly"),
            ],
        )
        errors_alarm(self, f"{name}-migrator", migrator, args.alarm_topic_arn)
        self.migrator = migrator
        # Runs on the first deploy and again whenever sql/ changes (or the database is replaced);
        # a failed migration fails the deploy, since the invocation reports the function's error.
        return aws.lambda_.Invocation(
            f"{name}-migrate",
            function_name=migrator.function.name,
            input='{"source": "pulumi"}',
            triggers={"sqlChecksum": args.sql_checksum, "databaseResourceId": self.instance.resource_id},
            opts=self._opts(depends_on=[*self.migrator_rules, self.endpoints["secretsmanager"], migrator.policy]),
        )
