"""Network: the database port is reached only from named sources, nothing from anywhere; subnets
are placed by availability-zone ID.

An ingress rule can be written three ways in pulumi-aws (inline in the group, `SecurityGroupRule`,
`vpc.SecurityGroupIngressRule`); all three are read into one shape so both policies judge them alike.

AZ names (`us-east-1a`) are shuffled per account: the same name is a different physical zone in two
accounts, so a subnet placed by name lands wherever this account's mapping says. Zone IDs
(`use1-az1`) are the same everywhere, and they are what service availability is published by (RDS
Proxy is not offered in `use1-az3`). A subnet with neither lets EC2 pick a zone, which is no better.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import (
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SUBNET,
    VPC_INGRESS_RULE,
    as_list,
    as_mapping,
    declares,
    known,
    number,
    show,
)

POSTGRES_PORT = 5432
# Protocol values that mean "every protocol, every port" in the EC2 API.
ALL_TRAFFIC = {"-1", "all"}
TCP = {"tcp", "6"}


@dataclass
class Ingress:
    where: str  # "ingress[0]" for inline rules, "rule" for standalone ones
    protocol: str
    from_port: float | None
    to_port: float | None
    cidrs: list[str] = field(default_factory=list)  # IPv4 and IPv6
    named_sources: list[str] = field(default_factory=list)  # security groups, prefix lists, self

    def reaches(self, port: float) -> bool:
        if self.protocol in ALL_TRAFFIC:
            return True
        if self.protocol not in TCP:
            return False
        # A TCP rule without a range is one AWS would reject; treat it as open rather than pass it.
        if self.from_port is None or self.to_port is None:
            return True
        return self.from_port <= port <= self.to_port

    def ports(self) -> str:
        if self.protocol in ALL_TRAFFIC:
            return "all ports"
        if self.from_port == self.to_port:
            return f"port {show(self.from_port)}"
        return f"ports {show(self.from_port)}-{show(self.to_port)}"


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value) if v]


def _from_ec2_rule(where: str, rule: Mapping[str, Any], sg_key: str) -> Ingress:
    named = _strings(rule.get("prefixListIds")) + _strings(rule.get(sg_key))
    if rule.get("self") is True:
        named.append("self")
    return Ingress(
        where=where,
        protocol=str(rule.get("protocol", "")).lower(),
        from_port=number(rule.get("fromPort")),
        to_port=number(rule.get("toPort")),
        cidrs=_strings(rule.get("cidrBlocks")) + _strings(rule.get("ipv6CidrBlocks")),
        named_sources=named,
    )


def ingress_rules(args: ResourceValidationArgs) -> list[Ingress]:
    """The ingress rules a security-group resource declares, whatever form it takes."""
    props = args.props
    if args.resource_type == SECURITY_GROUP:
        return [
            _from_ec2_rule(f"ingress[{i}]", as_mapping(rule), "securityGroups")
            for i, rule in enumerate(as_list(props.get("ingress")))
        ]
    if args.resource_type == SECURITY_GROUP_RULE:
        if props.get("type") != "ingress":
            return []
        return [_from_ec2_rule("rule", props, "sourceSecurityGroupId")]
    if args.resource_type == VPC_INGRESS_RULE:
        return [
            Ingress(
                where="rule",
                protocol=str(props.get("ipProtocol", "")).lower(),
                from_port=number(props.get("fromPort")),
                to_port=number(props.get("toPort")),
                cidrs=_strings(props.get("cidrIpv4")) + _strings(props.get("cidrIpv6")),
                named_sources=_strings(props.get("prefixListId")) + _strings(props.get("referencedSecurityGroupId")),
            )
        ]
    return []


def _is_anywhere(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def db_port_ingress_sources(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ports = [p for p in (number(v) for v in as_list(args.get_config().get("ports"))) if p is not None] or [
        float(POSTGRES_PORT)
    ]
    for rule in ingress_rules(args):
        reached = [p for p in ports if rule.reaches(p)]
        if reached and rule.cidrs:
            report_violation(
                f"{rule.where} opens {rule.ports()} (database port {', '.join(show(p) for p in reached)}) to CIDR "
                f"{', '.join(rule.cidrs)}; name a security group or a managed prefix list instead",
                None,
            )


def no_open_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for rule in ingress_rules(args):
        anywhere = [c for c in rule.cidrs if _is_anywhere(c)]
        if anywhere:
            report_violation(f"{rule.where} opens {rule.ports()} to {', '.join(anywhere)}", None)


def subnet_az_id(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SUBNET:
        return
    # Set at all is enough: a name still unknown at preview is still a name.
    if declares(args.props, "availabilityZone"):
        name = known(args.props, "availabilityZone") or "(not known yet)"
        report_violation(
            f"placed by AZ name {name}: names map to different zones in every account; "
            "set availabilityZoneId (e.g. use1-az1) instead",
            None,
        )
    elif not declares(args.props, "availabilityZoneId"):
        report_violation("no availabilityZoneId: EC2 picks the zone; set availabilityZoneId (e.g. use1-az1)", None)


POLICIES = [
    ResourceValidationPolicy(
        name="db-port-ingress-sources",
        description="Ingress reaching the database port names a security group or a managed prefix list, never CIDRs.",
        validate=db_port_ingress_sources,
        config_schema=PolicyConfigSchema(
            properties={"ports": {"type": "array", "items": {"type": "integer"}, "default": [POSTGRES_PORT]}}
        ),
    ),
    ResourceValidationPolicy(
        name="no-open-ingress",
        description="No security group admits 0.0.0.0/0 or ::/0, on any port.",
        validate=no_open_ingress,
    ),
    ResourceValidationPolicy(
        name="subnet-az-id",
        description="Subnets are placed by availability-zone ID (availabilityZoneId), not by AZ name.",
        validate=subnet_az_id,
    ),
]
