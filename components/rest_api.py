"""RestApi: the topology's routes as Lambda proxy integrations, one stage per stack, logged and throttled."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from nfe import cors, topology

# The static (single-quoted) header values API Gateway sends; declared once in nfe/cors.py.
CORS_ALLOW_HEADERS = cors.static(cors.allow_headers())
CORS_EXPOSE_HEADERS = cors.static(cors.expose_headers())
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integration.latency",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


@dataclass(frozen=True)
class RestApiArgs:
    environment: str
    # Topology function name -> (function name, invoke ARN) of the deployed function.
    functions: Mapping[str, tuple[pulumi.Input[str], pulumi.Input[str]]]
    throttle_rate_limit: int
    throttle_burst_limit: int
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]
    # The migration invocation: a deployment of the routes goes live only after the schema is ready.
    migrated: Sequence[pulumi.Resource] = ()
    custom_domain: str | None = None
    certificate_arn: str | None = None
    # The one other origin a browser may call the API from (nfe/cors.py); None: no other origin.
    cors_allow_origin: pulumi.Input[str] | None = None
    # The user pools whose ID tokens the COGNITO_USER_POOLS authorizer admits (components/identity.py);
    # required: every route but the public ones (functions/shared/access.py) goes through it.
    user_pool_arns: Sequence[pulumi.Input[str]] = ()


def resource_paths() -> list[str]:
    """Every path API Gateway needs a resource for, parents before children."""
    paths: set[str] = set()
    for route in topology.ROUTES:
        parts = route.path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            paths.add("/" + "/".join(parts[:i]))
    return sorted(paths, key=lambda p: (p.count("/"), p))


def source_arn_path(path: str) -> str:
    """A route's path in an execute-api ARN: path parameters become `*` so any value matches."""
    return "/".join("*" if part.startswith("{") else part for part in path.split("/"))


def routes_digest() -> str:
    """Redeploy the stage whenever a route, the CORS answer or the binary media types change (a stage
    serves the API's settings as of its deployment)."""
    routes = [(r.method, r.path, r.function, r.public) for r in topology.ROUTES]
    text = json.dumps(
        {
            "routes": routes,
            "cors": [CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, cors.MAX_AGE_SECONDS],
            "binaryMediaTypes": list(topology.BINARY_MEDIA_TYPES),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("{", "").replace("}", "") or "root"


class RestApi(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: RestApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:RestApi", name, None, opts)
        self.args = args
        self._prefix = name
        self.api = aws.apigateway.RestApi(
            f"{name}-api",
            name=f"nfe-api-{args.environment}",
            description="NF-e saga: Faturamento and Estoque",
            endpoint_configuration={"types": "REGIONAL"},
            # Bodies of these types travel base64-encoded both ways (the DANFE); every other body
            # reaches the functions as text. Local mode's gateway reads the same tuple.
            binary_media_types=list(topology.BINARY_MEDIA_TYPES),
            opts=self._opts(),
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/nfe-api-{args.environment}/access",
            retention_in_days=args.log_retention_days,
            opts=self._opts(),
        )
        self.authorizer = self._create_authorizer()
        integrations = self._create_routes()
        integrations += self._create_cors()
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.api.id,
            description="nfe routes",
            # The allowed origin is stack config (or the distribution's domain): a new one redeploys too.
            triggers={
                "routes": routes_digest(),
                # Another authorizer (a replaced user pool) only takes effect in a new deployment.
                "authorizer": self.authorizer.id,
                **({"corsOrigin": args.cors_allow_origin} if args.cors_allow_origin else {}),
            },
            # A deployment taken before every method has its integration fails, or serves a partial API;
            # one taken before the migration would route requests to code ahead of its schema.
            opts=self._opts(depends_on=[*integrations, *args.migrated]),
        )
        self.stage = self._create_stage(deployment)
        self.url = self.stage.invoke_url
        self._create_permissions()
        if args.custom_domain:
            self._create_domain()
        self._create_alarm()
        self.register_outputs({"url": self.url, "restApiId": self.api.id})

    def _opts(self, **kwargs: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

    def _create_authorizer(self) -> aws.apigateway.Authorizer:
        """API Gateway checks the ID token itself (signature, issuer, expiry): a bad one never reaches a function."""
        if not self.args.user_pool_arns:
            raise ValueError("RestApiArgs.user_pool_arns: the API's routes need a Cognito user pool to authorize with")
        return aws.apigateway.Authorizer(
            f"{self._prefix}-cognito-authorizer",
            rest_api=self.api.id,
            name=f"nfe-cognito-{self.args.environment}",
            type="COGNITO_USER_POOLS",
            provider_arns=list(self.args.user_pool_arns),
            identity_source="method.request.header.Authorization",
            opts=self._opts(),
        )

    def _create_routes(self) -> list[pulumi.Resource]:
        args, name = self.args, self._prefix
        self.resources: dict[str, aws.apigateway.Resource] = {}
        for path in resource_paths():
            parent_path, _, part = path.rpartition("/")
            parent_id = self.resources[parent_path].id if parent_path else self.api.root_resource_id
            self.resources[path] = aws.apigateway.Resource(
                f"{name}-resource-{_slug(path)}",
                rest_api=self.api.id,
                parent_id=parent_id,
                path_part=part,
                opts=self._opts(),
            )
        created: list[pulumi.Resource] = []
        for route in topology.ROUTES:
            resource = self.resources[route.path]
            key = f"{route.method.lower()}-{_slug(route.path)}"
            method = aws.apigateway.Method(
                f"{name}-method-{key}",
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method=route.method,
                # The declaration decides: the public routes (/health) are open, every other one needs an ID token.
                authorization="NONE" if route.public else "COGNITO_USER_POOLS",
                authorizer_id=None if route.public else self.authorizer.id,
                opts=self._opts(),
            )
            _function_name, invoke_arn = args.functions[route.function]
            integration = aws.apigateway.Integration(
                f"{name}-integration-{key}",
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                type="AWS_PROXY",
                # Lambda is always invoked with POST, whatever the route's method.
                integration_http_method="POST",
                uri=invoke_arn,
                opts=self._opts(),
            )
            created += [method, integration]
        return created

    def _create_cors(self) -> list[pulumi.Resource]:
        """Preflight answered by API Gateway itself (MOCK), so no function runs for an OPTIONS request."""
        name = self._prefix
        origin = self.args.cors_allow_origin
        # Without an allowed origin the answers carry no Allow-Origin: no other origin may call.
        allow_origin = {"Access-Control-Allow-Origin": pulumi.Output.concat("'", origin, "'")} if origin else {}
        created: list[pulumi.Resource] = []
        for path, methods in cors.methods_by_path().items():
            resource = self.resources[path]
            slug = _slug(path)
            answer: dict[str, pulumi.Input[str]] = {
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Allow-Methods": cors.static(",".join(methods)),
                "Access-Control-Max-Age": cors.static(str(cors.MAX_AGE_SECONDS)),
                **allow_origin,
            }
            headers = {f"method.response.header.{h}": True for h in answer}
            method = aws.apigateway.Method(
                f"{name}-options-{slug}",
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method="OPTIONS",
                authorization="NONE",
                opts=self._opts(),
            )
            integration = aws.apigateway.Integration(
                f"{name}-options-integration-{slug}",
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                type="MOCK",
                request_templates={"application/json": '{"statusCode": 200}'},
                opts=self._opts(),
            )
            method_response = aws.apigateway.MethodResponse(
                f"{name}-options-response-{slug}",
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code="200",
                response_parameters=headers,
                opts=self._opts(),
            )
            integration_response = aws.apigateway.IntegrationResponse(
                f"{name}-options-integration-response-{slug}",
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=method_response.status_code,
                response_parameters={f"method.response.header.{h}": v for h, v in answer.items()},
                # The integration response can only be put once the integration exists.
                opts=self._opts(depends_on=[integration]),
            )
            created += [method, integration, method_response, integration_response]
        # Errors API Gateway answers itself (throttling, unknown route) carry CORS headers too,
        # so a browser can read them.
        # UNAUTHORIZED (the authorizer's 401: no token, a bad or an expired one) is named on its own:
        # it is the answer a signed-out console reads most, and must never lose its CORS headers.
        for response_type in ("DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED"):
            created.append(
                aws.apigateway.Response(
                    f"{name}-{response_type.lower().replace('_', '-')}",
                    rest_api_id=self.api.id,
                    response_type=response_type,
                    response_parameters={
                        "gatewayresponse.header.Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                        "gatewayresponse.header.Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
                        **{f"gatewayresponse.header.{h}": v for h, v in allow_origin.items()},
                    },
                    opts=self._opts(),
                )
            )
        return created

    def _create_stage(self, deployment: aws.apigateway.Deployment) -> aws.apigateway.Stage:
        """The stage and its logging; API Gateway's account-wide CloudWatch role comes from account/."""
        args, name = self.args, self._prefix
        # API Gateway creates the execution log group on first use, without retention: create it first.
        execution_logs = aws.cloudwatch.LogGroup(
            f"{name}-execution-logs",
            name=pulumi.Output.concat("API-Gateway-Execution-Logs_", self.api.id, "/", args.environment),
            retention_in_days=args.log_retention_days,
            opts=self._opts(),
        )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=self.api.id,
            deployment=deployment.id,
            stage_name=args.environment,
            xray_tracing_enabled=True,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            opts=self._opts(depends_on=list(args.migrated)),
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=self.api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
                "logging_level": "INFO",
                "metrics_enabled": True,
                # Full request and response bodies would put notas fiscais in the logs.
                "data_trace_enabled": False,
            },
            opts=self._opts(depends_on=[execution_logs]),
        )
        return stage

    def _create_permissions(self) -> None:
        """Each function may be invoked by this API only, for exactly its own routes."""
        args, name = self.args, self._prefix
        for route in topology.ROUTES:
            function_name, _invoke_arn = args.functions[route.function]
            aws.lambda_.Permission(
                f"{name}-permission-{route.method.lower()}-{_slug(route.path)}",
                action="lambda:InvokeFunction",
                function=function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(
                    self.api.execution_arn, "/*/", route.method, source_arn_path(route.path)
                ),
                opts=self._opts(),
            )

    def _create_domain(self) -> None:
        args, name = self.args, self._prefix
        domain = aws.apigateway.DomainName(
            f"{name}-domain",
            domain_name=args.custom_domain,
            regional_certificate_arn=args.certificate_arn,
            endpoint_configuration={"types": "REGIONAL"},
            security_policy="TLS_1_2",
            opts=self._opts(),
        )
        aws.apigateway.BasePathMapping(
            f"{name}-base-path",
            domain_name=domain.domain_name,
            rest_api=self.api.id,
            stage_name=self.stage.stage_name,
            opts=self._opts(),
        )
        self.domain = domain

    def _create_alarm(self) -> None:
        args, name = self.args, self._prefix
        aws.cloudwatch.MetricAlarm(
            f"{name}-5xx-alarm",
            alarm_description="More than 5% of API requests answered 5xx for 3 of the last 5 minutes",
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions={"ApiName": self.api.name, "Stage": self.stage.stage_name},
            # 5XXError is 0 or 1 per request, so its average is the error rate.
            statistic="Average",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            threshold=0.05,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            opts=self._opts(),
        )
