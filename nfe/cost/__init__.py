"""Cost review of a stack: `estimate(resources, config)` prices what the Pulumi program creates.

Resources come from the offline plan (`nfe.mockrun.run_program`, as a deploy or, with
`preview=True`, as a first preview sees it) or a `pulumi preview --json` document
(`nfe.cost.preview.parse_preview`); usage from the stack's `nfe:usage` block; unit prices from the
versioned per-region tables in `nfe/cost/prices/`; the custom metrics the functions emit from
`nfe.cost.metrics`. `nfe cost` calls `estimate`; the policy pack, which cannot import this
project, prices the preview's fixed charges itself from prices copied from the same tables.
"""

from nfe.cost.estimator import estimate
from nfe.cost.model import Baseline, BaselineLine, CostEstimate, LineItem, UnpricedResource
from nfe.cost.preview import PreviewError, PreviewResource, parse_preview
from nfe.cost.prices import PriceTable, PriceTableError, load_table

__all__ = [
    "Baseline",
    "BaselineLine",
    "CostEstimate",
    "LineItem",
    "PreviewError",
    "PreviewResource",
    "PriceTable",
    "PriceTableError",
    "UnpricedResource",
    "estimate",
    "load_table",
    "parse_preview",
]
