"""The fixed world of the demo billing export: accounts, regions, SKUs, products and their cost lines.

Everything here is static data; ``demo_patterns`` turns it into spend over time. Amounts are per day in the
billing currency of the cost line's account, before weekly/daily seasonality, trend and noise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

# The FOCUS 1.0 columns in the order of the reference sample export (``Id`` sits where the sample has it).
DEMO_FOCUS_COLUMNS: Final = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "Id",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
)
NUMERIC_COLUMNS: Final = frozenset(
    {
        "BilledCost",
        "ConsumedQuantity",
        "ContractedCost",
        "ContractedUnitPrice",
        "EffectiveCost",
        "ListCost",
        "ListUnitPrice",
        "PricingQuantity",
        "Id",
    }
)

EC2: Final = "Amazon Elastic Compute Cloud"
S3: Final = "Amazon Simple Storage Service"
RDS: Final = "Amazon Relational Database Service"
LAMBDA: Final = "AWS Lambda"
CLOUDFRONT: Final = "Amazon CloudFront"


def code(text: str, length: int, alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") -> str:
    """A stable pseudo-random identifier derived from ``text`` (so ids never depend on the seed)."""
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


@dataclass(frozen=True)
class BillingAccount:
    key: str
    provider: str
    id: str
    name: str
    currency: str
    invoice_issuer: str
    publisher: str


@dataclass(frozen=True)
class SubAccount:
    id: str
    name: str
    billing: str
    env: str


@dataclass(frozen=True)
class Sku:
    key: str
    service: str
    category: str
    unit: str
    price: float  # list unit price
    resource_type: str | None
    resource_kind: str  # how ResourceIds look: instance, volume, bucket, db, function, ...
    description: str  # "{price}" and "{region}" are filled in per region
    rotates: bool = False  # short-lived resources (instances) are replaced every few weeks
    zonal: bool = False


@dataclass(frozen=True)
class CostLine:
    product: str | None  # None: no product tag (the untagged share)
    service: str
    level: float  # per weekday, in the account's currency
    accounts: tuple[tuple[str, float], ...]  # (SubAccountId, weight)
    regions: tuple[tuple[str, float], ...]  # (RegionId, weight)
    skus: tuple[str, ...]
    resources: int = 2  # resources per (account, region, SKU)
    weekend: float = 1.0  # weekend level relative to weekdays
    daily_amp: float = 0.0  # hourly mode: amplitude of the daily cycle, peaking mid-afternoon UTC
    trend: float = 0.0  # relative growth per 30 days
    batch: float = 0.0  # month-start batch job on the 1st of each month, as a multiple of the daily level
    tags: tuple[tuple[str, str], ...] = ()  # tags of untagged lines (a team, but no product)


BILLING_ACCOUNTS: Final = {
    "aws": BillingAccount(
        "aws",
        "AWS",
        "412398765012",
        "Acme Retail",
        "USD",
        "Amazon Web Services, Inc.",
        "Amazon Web Services, Inc.",
    ),
    "aws-eu": BillingAccount(
        "aws-eu",
        "AWS",
        "583920174466",
        "Acme Retail Europe",
        "EUR",
        "Amazon Web Services EMEA SARL",
        "Amazon Web Services EMEA SARL",
    ),
    "azure": BillingAccount(
        "azure",
        "Microsoft",
        "/providers/Microsoft.Billing/billingAccounts/7731024",
        "Acme Retail EA",
        "USD",
        "Microsoft",
        "Microsoft",
    ),
}

_AZ_SUB_PROD = "/subscriptions/3f2a9c1e-5b7d-4e21-9a0c-6d8e2f4b1a37"
_AZ_SUB_DEV = "/subscriptions/9b4e7d21-0c3a-4f58-b6e2-1a7c9d0e5f84"
SUB_ACCOUNTS: Final = {
    s.id: s
    for s in (
        SubAccount("104857600123", "payments-prod", "aws", "prod"),
        SubAccount("104857600456", "payments-staging", "aws", "staging"),
        SubAccount("209715200789", "discovery-prod", "aws", "prod"),
        SubAccount("314572800111", "ml-platform", "aws", "prod"),
        SubAccount("419430400222", "data-lake", "aws", "prod"),
        SubAccount("524288000333", "shared-services", "aws", "prod"),
        SubAccount("629145600444", "media-eu-prod", "aws-eu", "prod"),
        SubAccount("734003200555", "media-eu-dev", "aws-eu", "dev"),
        SubAccount(_AZ_SUB_PROD, "identity-prod", "azure", "prod"),
        SubAccount(_AZ_SUB_DEV, "identity-dev", "azure", "dev"),
    )
}

REGIONS: Final = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "global": "Global",
    "eastus": "East US",
    "westeurope": "West Europe",
}

# Team that owns each product: the `team` tag next to `product`.
PRODUCTS: Final = {
    "checkout": "payments",
    "search": "discovery",
    "recommendations": "ml",
    "data-platform": "data",
    "media": "content",
    "identity": "platform",
}

_H = "Hrs"
SKUS: Final = {
    s.key: s
    for s in (
        Sku("m6i", EC2, "Compute", _H, 0.192, "instance", "instance",
            "${price} per On Demand Linux m6i.xlarge Instance Hour", rotates=True, zonal=True),
        Sku("c6i", EC2, "Compute", _H, 0.34, "instance", "instance",
            "${price} per On Demand Linux c6i.2xlarge Instance Hour", rotates=True, zonal=True),
        Sku("p4d", EC2, "Compute", _H, 32.7726, "instance", "instance",
            "${price} per On Demand Linux p4d.24xlarge Instance Hour", rotates=True, zonal=True),
        Sku("g5", EC2, "Compute", _H, 1.212, "instance", "instance",
            "${price} per On Demand Linux g5.2xlarge Instance Hour", rotates=True, zonal=True),
        Sku("gp3", EC2, "Storage", "GB-Mo", 0.08, "volume", "volume",
            "${price} per GB-month of General Purpose (gp3) provisioned storage - {region}", zonal=True),
        Sku("dto", EC2, "Networking", "GB", 0.09, None, "instance",
            "${price} per GB - first 10 TB / month data transfer out beyond the global free tier"),
        Sku("rds-r6g", RDS, "Databases", _H, 1.808, "db", "db",
            "${price} per RDS db.r6g.2xlarge Multi-AZ instance hour (or partial hour) running PostgreSQL"),
        Sku("rds-gp3", RDS, "Databases", "GB-Mo", 0.23, "db", "db",
            "${price} per GB-month of provisioned gp3 storage running PostgreSQL"),
        Sku("lambda-req", LAMBDA, "Compute", "Requests", 2e-07, "function", "function",
            "AWS Lambda - Total Requests - {region}"),
        Sku("lambda-gbs", LAMBDA, "Compute", "Lambda-GB-Second", 1.66667e-05, "function", "function",
            "AWS Lambda - Total Compute - {region}"),
        Sku("cf-dto", CLOUDFRONT, "Networking", "GB", 0.085, "distribution", "distribution",
            "${price} per GB - data transfer out to internet"),
        Sku("cf-req", CLOUDFRONT, "Networking", "Requests", 1e-06, "distribution", "distribution",
            "${price} per 10,000 HTTPS requests"),
        Sku("s3-std", S3, "Storage", "GB-Mo", 0.023, "bucket", "bucket",
            "${price} per GB - first 50 TB / month of storage used"),
        Sku("s3-put", S3, "Storage", "Requests", 5e-06, "bucket", "bucket",
            "${price} per 1,000 PUT, COPY, POST, or LIST requests"),
        Sku("s3-ia", S3, "Storage", "GB-Mo", 0.0125, "bucket", "bucket",
            "${price} per GB-Month of storage used in Standard-Infrequent Access"),
        Sku("cache-r6g", "Amazon ElastiCache", "Databases", _H, 0.206, "cluster", "cache",
            "${price} per Cache Node Hour cache.r6g.large"),
        Sku("os-r6g", "Amazon OpenSearch Service", "Analytics", _H, 0.167, "domain", "domain",
            "${price} per r6g.large.search instance hour"),
        Sku("os-ebs", "Amazon OpenSearch Service", "Analytics", "GB-Mo", 0.122, "domain", "domain",
            "${price} per GB-month of gp3 storage"),
        Sku("sm-g5", "Amazon SageMaker", "AI and Machine Learning", _H, 1.408, "training-job", "training",
            "${price} per ml.g5.xlarge hour for Training", rotates=True),
        Sku("sm-ep", "Amazon SageMaker", "AI and Machine Learning", _H, 0.23, "endpoint", "endpoint",
            "${price} per ml.m5.xlarge hour for Real-time Inference"),
        Sku("glue-dpu", "AWS Glue", "Analytics", "DPU-Hour", 0.44, "job", "job",
            "${price} per DPU-Hour for each Apache Spark or Spark Streaming job"),
        Sku("emr-m5", "Amazon EMR", "Analytics", _H, 0.048, "cluster", "emr",
            "${price} per hour for EMR m5.xlarge", rotates=True),
        Sku("athena", "Amazon Athena", "Analytics", "Terabytes", 5.0, None, "workgroup",
            "${price} per TB for DML queries scanned"),
        Sku("nat", "Amazon Virtual Private Cloud", "Networking", _H, 0.045, "natgateway", "natgateway",
            "${price} per NAT Gateway Hour"),
        Sku("cw-logs", "AmazonCloudWatch", "Management and Governance", "GB", 0.5, None, "loggroup",
            "${price} per GB - Logs ingested"),
        Sku("kms", "AWS Key Management Service", "Security", "Keys", 1.0, "key", "key",
            "${price} per customer managed key per month"),
        Sku("az-d4s", "Virtual Machines", "Compute", "1 Hour", 0.192, "Virtual machine", "vm",
            "D4s v5 - {region}", rotates=True),
        Sku("az-lrs", "Storage", "Storage", "1 GB/Month", 0.0184, "Storage account", "storage",
            "Hot LRS Data Stored - {region}"),
        Sku("az-sql", "SQL Database", "Databases", "1 Hour", 0.5044, "SQL database", "sqldb",
            "vCore - General Purpose - {region}"),
        Sku("az-bw", "Bandwidth", "Networking", "1 GB", 0.087, None, "vm",
            "Standard Data Transfer Out - {region}"),
    )
}  # fmt: skip

_PAY, _PAY_STG, _DISC, _ML, _DATA, _SHARED = (
    "104857600123",
    "104857600456",
    "209715200789",
    "314572800111",
    "419430400222",
    "524288000333",
)
_MEDIA, _MEDIA_DEV = "629145600444", "734003200555"
_EAST, _WEST, _IRL = (("us-east-1", 0.6), ("us-west-2", 0.4)), (("us-west-2", 1.0),), (("eu-west-1", 1.0),)
_PLATFORM: Final = (("team", "platform"), ("env", "prod"))
_E1, _GLOBAL, _AZE = (("us-east-1", 1.0),), (("global", 1.0),), (("eastus", 1.0),)

COST_LINES: Final = (
    # checkout: customer-facing, strong weekly and daily cycles
    CostLine("checkout", EC2, 1800, ((_PAY, 0.85), (_PAY_STG, 0.15)), _EAST, ("m6i", "c6i", "gp3", "dto"), 3,
             weekend=0.75, daily_amp=0.35, trend=0.03),
    CostLine("checkout", RDS, 900, ((_PAY, 0.85), (_PAY_STG, 0.15)), _E1,
             ("rds-r6g", "rds-gp3"), 1, weekend=0.95, daily_amp=0.05),
    CostLine("checkout", LAMBDA, 150, ((_PAY, 1.0),), _EAST, ("lambda-req", "lambda-gbs"), 2, weekend=0.6,
             daily_amp=0.5, trend=0.04),
    CostLine("checkout", CLOUDFRONT, 300, ((_PAY, 1.0),), _GLOBAL, ("cf-dto", "cf-req"), 1,
             weekend=0.7, daily_amp=0.45),
    CostLine("checkout", "Amazon ElastiCache", 200, ((_PAY, 1.0),), _E1, ("cache-r6g",), 2),
    # search
    CostLine("search", EC2, 1400, ((_DISC, 1.0),),
             (("us-east-1", 0.5), ("eu-west-1", 0.3), ("ap-southeast-1", 0.2)), ("m6i", "c6i", "gp3"), 3,
             weekend=0.85, daily_amp=0.25, trend=0.02),
    CostLine("search", "Amazon OpenSearch Service", 1100, ((_DISC, 1.0),),
             (("us-east-1", 0.6), ("eu-west-1", 0.4)), ("os-r6g", "os-ebs"), 2, weekend=0.97),
    CostLine("search", S3, 250, ((_DISC, 1.0),), (("us-east-1", 0.7), ("eu-west-1", 0.3)),
             ("s3-std", "s3-put"), 2, trend=0.05),
    # recommendations: GPU training and inference
    CostLine("recommendations", EC2, 1600, ((_ML, 0.8), (_DISC, 0.2)), _EAST, ("g5", "p4d", "gp3"), 2,
             weekend=0.9, daily_amp=0.1, trend=0.02),
    CostLine("recommendations", "Amazon SageMaker", 700, ((_ML, 1.0),), _E1, ("sm-g5", "sm-ep"),
             3, weekend=0.8, daily_amp=0.15),
    CostLine("recommendations", S3, 180, ((_ML, 1.0),), _E1, ("s3-std", "s3-ia"), 2, trend=0.03),
    # data-platform: the month-start reporting batch runs on Glue and EMR every 1st of the month
    CostLine("data-platform", "AWS Glue", 300, ((_DATA, 1.0),), _E1, ("glue-dpu",), 4,
             weekend=0.9, batch=5.0),
    CostLine("data-platform", "Amazon EMR", 500, ((_DATA, 1.0),), _E1, ("emr-m5",), 3,
             batch=4.0),
    CostLine("data-platform", S3, 600, ((_DATA, 1.0),), (("us-east-1", 0.8), ("us-west-2", 0.2)),
             ("s3-std", "s3-ia", "s3-put"), 3, trend=0.06),
    CostLine("data-platform", "Amazon Athena", 120, ((_DATA, 1.0),), _E1, ("athena",), 3,
             weekend=0.4, daily_amp=0.6),
    # media: a European subsidiary billed in EUR; viewers watch more at weekends
    CostLine("media", EC2, 700, ((_MEDIA, 0.8), (_MEDIA_DEV, 0.2)),
             (("eu-west-1", 0.7), ("eu-central-1", 0.3)), ("m6i", "c6i", "gp3"), 2,
             weekend=1.1, daily_amp=0.3),
    CostLine("media", CLOUDFRONT, 900, ((_MEDIA, 1.0),), _GLOBAL, ("cf-dto", "cf-req"), 2,
             weekend=1.25, daily_amp=0.5, trend=0.03),
    CostLine("media", S3, 400, ((_MEDIA, 1.0),), (("eu-west-1", 1.0),), ("s3-std", "s3-ia"), 2, trend=0.04),
    # identity: on Azure
    CostLine("identity", "Virtual Machines", 500, ((_AZ_SUB_PROD, 0.85), (_AZ_SUB_DEV, 0.15)),
             (("eastus", 0.6), ("westeurope", 0.4)), ("az-d4s",), 4, weekend=0.9, daily_amp=0.2),
    CostLine("identity", "Storage", 120, ((_AZ_SUB_PROD, 1.0),), _AZE, ("az-lrs",), 2, trend=0.02),
    CostLine("identity", "SQL Database", 260, ((_AZ_SUB_PROD, 1.0),), _AZE, ("az-sql",), 1),
    # shared and untagged: the spend nobody has claimed yet
    CostLine(None, "Amazon Virtual Private Cloud", 220, ((_SHARED, 1.0),), _EAST, ("nat",), 2,
             tags=_PLATFORM),
    CostLine(None, "AmazonCloudWatch", 260, ((_SHARED, 0.6), (_DISC, 0.4)), _E1, ("cw-logs",), 3,
             weekend=0.8, daily_amp=0.2),
    CostLine(None, "AWS Key Management Service", 40, ((_SHARED, 1.0),), _E1, ("kms",), 2,
             tags=_PLATFORM),
    CostLine(None, EC2, 300, ((_DISC, 0.5), (_PAY_STG, 0.5)), _EAST, ("m6i",), 3, weekend=0.6, daily_amp=0.3),
    CostLine(None, "Bandwidth", 60, ((_AZ_SUB_PROD, 1.0),), _AZE, ("az-bw",), 1, daily_amp=0.3),
)  # fmt: skip

# Savings Plan coverage: search's compute in us-east-1 is bought with a commitment (BilledCost 0 on usage).
COMMITTED: Final = (("search", EC2, "us-east-1"),)
SAVINGS_PLAN_ID: Final = "arn:aws:savingsplans::412398765012:savingsplan/6b1f0c2e-7d4a-4c39-9e58-2a1d0f3b8c71"
