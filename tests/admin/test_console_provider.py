"""What the operator sees of the provider, run on the OpenAI backend (the fake): the console lists the
failures only the operator can mend with what the provider said, and the moderation categories; it shows per
day and per quality/resolution whether the credits pay for the provider (figures computed by hand below);
an edit's page shows its provider cost and the provider's detail to operators, never to the customer."""

from __future__ import annotations

import html
import re

import pytest

from app.admin.service import promote
from tests.admin.conftest import create_operator, signed_in
from tests.conftest import api_key_for, create_user, image_bytes, wait_for_edit
from tests.fake_openai import (  # noqa: F401  (fixtures)
    billing_hard_limit,
    fake_openai_fixture,
    fake_openai_server_fixture,
    moderation_blocked,
    openai_settings,
)

# USD per million tokens. The fake reports one text token per word of the instruction, 323 image tokens per
# reference and width x height / 1024 output tokens: a 1K square edit of "Make the cup blue" costs
# (4 x 5 + 323 x 8 + 1024 x 50) / 1e6 = $0.053804.
PRICES = """
[models."gpt-image-2"]
text_input = 5
image_input = 8
image_output = 50
"""


@pytest.fixture
def settings_overrides(fake_openai, tmp_path):
    path = tmp_path / "provider_prices.toml"
    path.write_text(PRICES)
    return openai_settings(fake_openai, provider_prices_file=path)


def run_edit(client, headers, prompt: str, quality: str = "medium") -> dict:
    response = client.post("/api/v1/edits", headers=headers,
                           data={"prompt": prompt, "quality": quality, "resolution": "1K", "aspect_ratio": "1:1",
                                 "output_format": "jpeg"},  # quicker to make and store than a PNG
                           files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    assert response.status_code == 202, response.text
    return wait_for_edit(client, response.json()["id"], headers=headers)


def table_rows(page: str, testid: str) -> list[list[str]]:
    """The text of each body cell of a table, row by row."""
    table = page.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_console_lists_what_the_provider_said_and_what_was_flagged(app, client, context, fake_openai):
    customer = create_user(context, email="customer@example.com", credits=10)
    create_operator(context)
    headers = {"Authorization": f"Bearer {api_key_for(context, customer.id)}"}
    fake_openai.then(billing_hard_limit())
    quota = run_edit(client, headers, "Make the cup blue")
    fake_openai.then(moderation_blocked("sexual, violence"))
    blocked = run_edit(client, headers, "Make the cup red")
    assert quota["error"]["code"] == "backend_quota" and blocked["error"]["code"] == "moderation_blocked"

    page = signed_in(app, "ops@example.com").get("/admin").text
    rows = {row[1].split()[0]: row for row in table_rows(page, "provider-failures")}
    code, person, said = rows["backend_quota"][1:]
    assert code == "backend_quota" and person == "customer@example.com"
    assert "billing_hard_limit_reached" in said and "x-request-id req_billing_400" in said
    assert rows["moderation_blocked"][1] == "moderation_blocked sexual violence"
    assert "req_moderation_400" in rows["moderation_blocked"][3]
    flagged = page.split('data-testid="flagged"', 1)[1].split("</p>", 1)[0]
    assert "sexual · 1" in flagged and "violence · 1" in flagged

    # The customer reads neither, on the edit's page or anywhere else.
    own = signed_in(app, "customer@example.com")
    for edit in (quota, blocked):
        customer_page = own.get(f"/edits/{edit['id']}").text
        assert "x-request-id" not in customer_page and "billing_hard_limit" not in customer_page
        assert "sexual" not in customer_page and "Provider" not in customer_page
    assert own.get("/admin").status_code == 404


def test_the_console_shows_whether_the_prices_pay_per_day_and_setting(app, client, context, fake_openai):
    customer = create_user(context, email="customer@example.com", credits=10)
    create_operator(context)
    headers = {"Authorization": f"Bearer {api_key_for(context, customer.id)}"}
    for prompt, quality in (("Make the cup red please", "medium"), ("Make the cup green", "low")):
        assert run_edit(client, headers, prompt, quality)["status"] == "succeeded"
    fake_openai.then(moderation_blocked())  # failed: nothing charged, not counted
    assert run_edit(client, headers, "Make the cup grey")["status"] == "failed"

    operator = signed_in(app, "ops@example.com")
    low, medium, total = table_rows(operator.get("/admin").text, "margin")
    # A credit is worth $25 / 700 (the cheapest pack). Columns: day, quality, size, edits, credits, brought in,
    # provider cost, margin.
    # low: 1 credit = $0.035714; cost $0.053804: the margin is negative, and marked so.
    assert low[1:] == ["Low", "1K", "1", "1", "$0.04", "$0.05", "−$0.02"]
    # medium: 2 credits = $0.071429; cost (5 words) $0.053809; margin $0.017620.
    assert medium[1:] == ["Medium", "1K", "1", "2", "$0.07", "$0.05", "$0.02"]
    # total: 3 credits = $0.107143; cost $0.107613; margin -$0.000470.
    assert total == ["Total", "", "", "2", "3", "$0.11", "$0.11", "−$0.00"]
    assert "pill-error" in operator.get("/admin").text.split('data-testid="margin"', 1)[1].split("</table>")[0]

    assert operator.get("/admin?days=30").status_code == 200
    refused = operator.get("/admin?days=0")
    assert refused.status_code == 422 and "days" in refused.text


def test_an_edit_page_shows_the_provider_cost_to_operators_only(app, client, context, fake_openai):
    customer = create_user(context, email="customer@example.com", credits=10)
    operator = create_user(context, email="ops@example.com", credits=10)
    with context.transaction() as db:
        promote(db, "ops@example.com")
    for person in (customer, operator):
        headers = {"Authorization": f"Bearer {api_key_for(context, person.id)}"}
        edit = run_edit(client, headers, "Make the cup blue")
        page = signed_in(app, person.email).get(f"/edits/{edit['id']}").text
        if person is operator:
            cost = page.split('data-testid="provider-cost">', 1)[1].split("</dd>", 1)[0]
            assert cost.startswith("$0.0538 ")  # (4 x 5 + 323 x 8 + 1024 x 50) / 1e6, operators only
        else:
            assert "provider-cost" not in page and "Provider cost" not in page and "$0.0538" not in page

    # The customer's edits, as the operator sees them in the console: with their provider cost.
    person = signed_in(app, "ops@example.com").get(f"/admin/people/{customer.id}").text
    assert person.split('data-testid="provider-cost">', 1)[1].startswith("$0.0538<")

    headers = {"Authorization": f"Bearer {api_key_for(context, operator.id)}"}
    fake_openai.then(billing_hard_limit())
    failed = run_edit(client, headers, "Make the cup red")
    page = signed_in(app, "ops@example.com").get(f"/edits/{failed['id']}").text
    detail = page.split('data-testid="provider-detail">', 1)[1].split("</dd>", 1)[0]
    assert "billing_hard_limit_reached" in detail and "req_billing_400" in detail
    assert "unknown: no usage reported" in page.split('data-testid="provider-cost">', 1)[1].split("</dd>", 1)[0]


@pytest.mark.browser
def test_the_console_in_a_browser(live_server, page_for, client, context, fake_openai):
    from tests.admin.test_admin_browser import log_in
    from tests.browser import screenshot

    customer = create_user(context, email="customer@example.com", credits=10)
    create_operator(context)
    headers = {"Authorization": f"Bearer {api_key_for(context, customer.id)}"}
    assert run_edit(client, headers, "Make the cup blue", "low")["status"] == "succeeded"
    fake_openai.then(billing_hard_limit(), moderation_blocked("sexual, violence"))
    run_edit(client, headers, "Make the cup red")
    run_edit(client, headers, "Make the cup grey")

    for width, height, name in ((1280, 900, "desktop"), (375, 812, "phone")):
        page = page_for(width, height)
        log_in(page, live_server.url, "ops@example.com")
        assert page.locator("[data-testid=provider-failures]").is_visible()
        assert page.locator("[data-testid=margin-total]").is_visible()
        screenshot(page, f"admin-provider-{name}")
    page.goto(f"{live_server.url}/admin/people/{customer.id}")
    assert page.locator("[data-testid=provider-detail]").first.is_visible()
    screenshot(page, "admin-person-provider-phone")
