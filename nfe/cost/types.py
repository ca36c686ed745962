"""Which resource types cost nothing by themselves, in one explicit set.

A type that is neither here nor priced by `nfe.cost.pricing` is reported unpriced: an unknown
type is never counted as zero. A test checks that every `aws:` token below is a real pulumi-aws v7
type, so a typo cannot quietly make a priced resource look free.
"""

from __future__ import annotations

COMPONENT_PREFIX = "nfe:index:"

FREE_TYPES: frozenset[str] = frozenset(
    {
        "pulumi:pulumi:Stack",
        # Cognito: the pool is priced per active user; its app clients and groups cost nothing
        "aws:cognito/userPoolClient:UserPoolClient",
        "aws:cognito/userGroup:UserGroup",
        # The console's hosting: priced on its distribution and bucket (nfe/cost/hosting.py)
        "aws:cloudfront/originAccessControl:OriginAccessControl",
        "aws:cloudfront/cachePolicy:CachePolicy",
        "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
        "aws:cloudfront/function:Function",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        # The fiscal archive's settings: priced on its buckets (nfe/cost/archive.py); access log
        # delivery is free, its storage is priced on the logs bucket
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
        # IAM
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/serviceLinkedRole:ServiceLinkedRole",
        # Network plumbing (NAT gateways and interface endpoints are priced, not here)
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/route:Route",
        "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation",
        "aws:ec2/defaultRouteTable:DefaultRouteTable",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
        "aws:ec2/networkAcl:NetworkAcl",
        "aws:ec2/networkAclRule:NetworkAclRule",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/vpcDhcpOptions:VpcDhcpOptions",
        "aws:ec2/vpcDhcpOptionsAssociation:VpcDhcpOptionsAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:ec2/managedPrefixList:ManagedPrefixList",
        "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry",
        # RDS configuration objects (the instance and the proxy are priced)
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/optionGroup:OptionGroup",
        "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup",
        "aws:rds/proxyTarget:ProxyTarget",
        # KMS and Secrets Manager attachments (keys and secrets are priced)
        "aws:kms/alias:Alias",
        "aws:kms/grant:Grant",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:secretsmanager/secretPolicy:SecretPolicy",
        # Lambda wiring: invocations are priced on the function
        "aws:lambda/permission:Permission",
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:lambda/layerVersion:LayerVersion",
        "aws:lambda/layerVersionPermission:LayerVersionPermission",
        "aws:lambda/alias:Alias",
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "aws:lambda/invocation:Invocation",
        # EventBridge rules, targets and bus policy: events are priced on the bus
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy",
        "aws:cloudwatch/eventPermission:EventPermission",
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
        # SQS policies: requests are priced on the queue
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sqs/redrivePolicy:RedrivePolicy",
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
        # API Gateway structure: requests are priced on the REST API (a cached stage is not free)
        "aws:apigateway/resource:Resource",
        "aws:apigateway/method:Method",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/methodResponse:MethodResponse",
        "aws:apigateway/integrationResponse:IntegrationResponse",
        "aws:apigateway/response:Response",  # gateway responses (DEFAULT_4XX, ...)
        "aws:apigateway/deployment:Deployment",
        "aws:apigateway/methodSettings:MethodSettings",
        "aws:apigateway/account:Account",
        "aws:apigateway/requestValidator:RequestValidator",
        "aws:apigateway/model:Model",
        "aws:apigateway/authorizer:Authorizer",
        "aws:apigateway/restApiPolicy:RestApiPolicy",
        "aws:apigateway/basePathMapping:BasePathMapping",
        "aws:apigateway/domainName:DomainName",
    }
)


def is_component(type_token: str) -> bool:
    return type_token.startswith(COMPONENT_PREFIX)


def is_free(type_token: str) -> bool:
    return type_token in FREE_TYPES or is_component(type_token) or type_token.startswith("pulumi:providers:")
