"""KMS: customer-managed symmetric keys rotate their key material every year."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import KMS_KEY

# AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate automatically.
ROTATABLE_SPEC = "SYMMETRIC_DEFAULT"


def kms_key_rotation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != KMS_KEY:
        return
    spec = args.props.get("customerMasterKeySpec") or ROTATABLE_SPEC
    usage = args.props.get("keyUsage") or "ENCRYPT_DECRYPT"
    if spec != ROTATABLE_SPEC or usage != "ENCRYPT_DECRYPT":
        return
    if args.props.get("enableKeyRotation") is not True:
        report_violation("enableKeyRotation is not true", None)


POLICIES = [
    ResourceValidationPolicy(
        name="kms-key-rotation",
        description="Symmetric customer-managed KMS keys have automatic rotation enabled.",
        validate=kms_key_rotation,
    ),
]
