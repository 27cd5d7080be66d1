"""FOCUS column names, spelled exactly as the FOCUS specification (1.0–1.3) spells them, in one place.

Only the columns spendsentry reads are named here; every other column (including ``x_`` extensions and
columns unknown to us) is tolerated and ignored.
"""

from __future__ import annotations

from typing import Final

BILLED_COST: Final = "BilledCost"
EFFECTIVE_COST: Final = "EffectiveCost"
LIST_COST: Final = "ListCost"
CONTRACTED_COST: Final = "ContractedCost"
BILLING_ACCOUNT_ID: Final = "BillingAccountId"
BILLING_CURRENCY: Final = "BillingCurrency"
BILLING_PERIOD_START: Final = "BillingPeriodStart"
BILLING_PERIOD_END: Final = "BillingPeriodEnd"
CHARGE_CATEGORY: Final = "ChargeCategory"
CHARGE_PERIOD_START: Final = "ChargePeriodStart"
CHARGE_PERIOD_END: Final = "ChargePeriodEnd"
SERVICE_NAME: Final = "ServiceName"
SERVICE_CATEGORY: Final = "ServiceCategory"
# FOCUS 1.0–1.2 call the provider ProviderName; 1.3 renames it ServiceProviderName.
PROVIDER_NAME: Final = "ProviderName"
SERVICE_PROVIDER_NAME: Final = "ServiceProviderName"
SUB_ACCOUNT_ID: Final = "SubAccountId"
REGION_ID: Final = "RegionId"
REGION_NAME: Final = "RegionName"
RESOURCE_ID: Final = "ResourceId"
RESOURCE_TYPE: Final = "ResourceType"
RESOURCE_NAME: Final = "ResourceName"
# Quantities split a change of spend into usage and unit price. ConsumedQuantity measures what was used;
# PricingQuantity (what the price applies to) stands in for rows without it. Each goes with its own unit.
CONSUMED_QUANTITY: Final = "ConsumedQuantity"
CONSUMED_UNIT: Final = "ConsumedUnit"
PRICING_QUANTITY: Final = "PricingQuantity"
PRICING_UNIT: Final = "PricingUnit"
SKU_ID: Final = "SkuId"
CHARGE_DESCRIPTION: Final = "ChargeDescription"
TAGS: Final = "Tags"
# Provider extensions that carry a readable usage type (AWS CUR 2.0 FOCUS exports use these).
USAGE_TYPE_EXTENSIONS: Final = ("x_UsageType", "x_usage_type", "x_UsageTypeName")

COST_BASES: Final = (EFFECTIVE_COST, BILLED_COST, LIST_COST, CONTRACTED_COST)

# Columns without which a file cannot be turned into spend facts (the cost basis is added at run time).
MANDATORY: Final = (
    BILLING_ACCOUNT_ID,
    BILLING_CURRENCY,
    BILLING_PERIOD_START,
    CHARGE_CATEGORY,
    CHARGE_PERIOD_START,
    CHARGE_PERIOD_END,
)

# ChargeCategory values of FOCUS 1.0–1.3. Only Usage builds the spend series; the rest is kept apart.
USAGE: Final = "Usage"
CHARGE_CATEGORIES: Final = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")

# Every FOCUS column this module names: an unknown column is any other one.
KNOWN: Final = frozenset(
    {
        *COST_BASES,
        *MANDATORY,
        BILLING_PERIOD_END,
        SERVICE_NAME,
        SERVICE_CATEGORY,
        PROVIDER_NAME,
        SERVICE_PROVIDER_NAME,
        SUB_ACCOUNT_ID,
        REGION_ID,
        REGION_NAME,
        RESOURCE_ID,
        RESOURCE_TYPE,
        RESOURCE_NAME,
        CONSUMED_QUANTITY,
        CONSUMED_UNIT,
        PRICING_QUANTITY,
        PRICING_UNIT,
        SKU_ID,
        CHARGE_DESCRIPTION,
        TAGS,
        *USAGE_TYPE_EXTENSIONS,
    }
)
