"""The text of the starter configuration ``spendsentry init`` writes, from a :class:`Survey`.

Every value a person must supply is a placeholder in angle brackets, commented out, so the files work as
written (the demo's defaults) and nothing secret is ever in them.
"""

from __future__ import annotations

import math
from datetime import timedelta

from ingestion.starter_config import Survey

PRODUCT_TAG_CANDIDATES = ("product", "application", "app", "service", "project")


def _q(text: str) -> str:
    """A YAML double-quoted scalar (billing names carry colons and slashes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def env_template(s: Survey, *, folder: str) -> str:
    product_keys = [k for k, _ in s.tag_keys if k.lower() in PRODUCT_TAG_CANDIDATES] or ["product"]
    others = [k for k, _ in s.tag_keys if k not in product_keys][:3]
    seen = ", ".join(f"{k} ({n:,} rows)" for k, n in s.tag_keys[:12]) or "none found"
    return f"""# spendsentry settings (environment variables with the prefix SPENDSENTRY_, or this file).
# Written by `spendsentry init` from the data ingested so far. The README's configuration table lists
# every setting. Lines starting with # are off; placeholders in <angle brackets> need your values.
# Never commit this file once it holds a key or a token.

# Where state and facts live (defaults shown). For production, PostgreSQL:
# SPENDSENTRY_DATABASE_URL=postgresql+psycopg://<user>:<password>@<host>:5432/<database>
SPENDSENTRY_DATA_DIR=var/

# Attribution: which tag names the product. Tag keys seen in your export: {seen}
SPENDSENTRY_PRODUCT_TAG_KEYS={",".join(product_keys)}
# Tag keys kept as root-cause dimensions (a cause can then say team=payments):
# SPENDSENTRY_DIMENSION_TAG_KEYS={",".join(others) or "<tag>,<tag>"}
# Rules for spend without a product tag (by account, service...): see {folder}/attribution.yaml
# SPENDSENTRY_ATTRIBUTION_FILE={folder}/attribution.yaml

# Monthly budgets per product: {folder}/budgets.yaml (loaded by `spendsentry bootstrap`)
# SPENDSENTRY_BUDGETS_FILE={folder}/budgets.yaml

# Notifications. Try the alert volume first, sending nothing:
#   spendsentry replay --dry-run --start <a week ago> --end <now> --every {"1h" if s.hourly else "1d"}
# then connect the receivers. Pages (PagerDuty Events v2 integration key of a service):
# SPENDSENTRY_PAGERDUTY_ROUTING_KEY=<32-character integration key>
# Tickets: jira | github | webhook
# SPENDSENTRY_TICKET_KIND=<jira|github|webhook>
# SPENDSENTRY_TICKET_URL=<https://your-tracker.example/...>
# SPENDSENTRY_TICKET_TOKEN=<token with write access to issues>
# SPENDSENTRY_TICKET_PROJECT=<Jira project key>
# Or a routing tree by product / team / severity: {folder}/routes.yaml
# SPENDSENTRY_ROUTES_FILE={folder}/routes.yaml

# Links in notifications point at the dashboard here:
# SPENDSENTRY_PUBLIC_URL=<https://spendsentry.internal.example>
# Protect the API once it leaves your laptop (name:token:scopes; tokens of 16+ characters):
# SPENDSENTRY_API_TOKENS=<ops>:<a long random token>:read+write
"""


def attribution_template(s: Survey) -> str:
    product_keys = [k for k, _ in s.tag_keys if k.lower() in PRODUCT_TAG_CANDIDATES] or ["product"]
    out = [
        "# Attribution rules (SPENDSENTRY_ATTRIBUTION_FILE): the product of each charge comes from the first",
        "# non-empty tag in product_tag_keys, else from the first rule whose conditions all match, else",
        "# 'unattributed'. Accounts below are the ones seen, with the share of their usage spend that has no",
        "# product yet: give the biggest ones a rule.",
        f"product_tag_keys: [{', '.join(product_keys)}]",
        "cost_line: ServiceName            # or tag:<key>",
        f"dimension_tag_keys: [{', '.join(k for k, _ in s.tag_keys if k not in product_keys)}]",
        "rules:",
    ]
    shown = 0
    for account, provider, spend, unattributed in s.accounts:
        if spend <= 0 or shown >= 20:
            continue
        share = unattributed / spend
        out.append(f"  # {provider} account {account}: {share:.0%} of its usage spend has no product")
        if share >= 0.01:
            out += [
                "  # - product: <product>",
                "  #   match:",
                f"  #     SubAccountId: {_q(account)}",
            ]
        shown += 1
    if shown == 0:
        out.append('  # - product: <product>\n  #   match: {SubAccountId: "<account id>"}')
    out.append("  []  # remove this line once a rule above is uncommented")
    return "\n".join(out) + "\n"


def routes_template(s: Survey) -> str:
    products = [p for p, _, _ in s.products][:6] or ["<product>"]
    lines = [
        "# Routing tree (SPENDSENTRY_ROUTES_FILE), matched like Alertmanager's on product, team, cost_line,",
        "# severity and cause.<dimension>. Receiver fields: alerts/receivers.py. Secrets are placeholders:",
        "# put the real ones here only in a file that is never committed.",
        "receivers:",
        "  - name: finops-tickets",
        '    webhook: {url: "<https://tickets.example/hook>", secret: "<shared secret>"}',
        "  - name: on-call",
        '    pagerduty: {routing_key: "<32-character integration key>"}',
        "route:",
        "  receiver: finops-tickets",
        "  routes:",
        '    - matchers: ["severity=page"]',
        "      receiver: on-call",
        "    # One branch per product that has its own team, e.g.:",
    ]
    lines += [f'    # - matchers: ["product={p}"]\n    #   receiver: <{p}-team>' for p in products]
    return "\n".join(lines) + "\n"


def budgets_template(s: Survey) -> str:
    lines = [
        "# Monthly budgets (SPENDSENTRY_BUDGETS_FILE, loaded by `spendsentry bootstrap`; or PUT /v1/budgets).",
        "# A page is raised when a product's month-end projection crosses BUDGET_PAGE_SHARE (90%) of its",
        "# budget while its spend grows. Suggested amounts: the last 30 days' spend plus 15%, rounded up.",
        "budgets:",
    ]
    for product, currency, spend in s.products:
        suggested = math.ceil(spend * 1.15 / 1000) * 1000
        lines.append(f"  - {{product: {_q(product)}, monthly: {suggested}, currency: {currency}}}")
    if not s.products:
        lines.append("  - {product: <product>, monthly: <amount>, currency: USD}")
    return "\n".join(lines) + "\n"


def dry_run_command(s: Survey) -> str | None:
    """The replay that shows the pages and tickets the last week of data would have brought."""
    if s.last_period is None:
        return None
    end = s.last_period + (timedelta(hours=1) if s.hourly else timedelta(days=1))
    start = end - timedelta(days=7)
    every = "1h" if s.hourly else "1d"
    return f"spendsentry replay --dry-run --start {start:%Y-%m-%dT%H:%M} --end {end:%Y-%m-%dT%H:%M} --every {every}"
