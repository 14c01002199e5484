"""The pages work without JavaScript: forms post back, errors show where they happen."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from app.models import Edit, Transfer
from tests.conftest import create_user, login, wait_for_edit


def csrf(client) -> str:
    client.get("/login")
    return client.cookies["csrftoken"]


def sign_up(client, email="page@example.com") -> None:
    token = csrf(client)
    response = client.post("/signup", data={"email": email, "password": "long enough", "csrf_token": token,
                                            "next": "/edit"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/edit"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), "gold").save(buffer, "PNG")
    return buffer.getvalue()


def test_home_explains_the_product_and_its_prices(client):
    page = client.get("/")
    assert page.status_code == 200
    for text in ("Say what should change", "four steps", "What people use it for", "Specifications", "Pricing",
                 "Questions", "3840", "16 credits"):
        assert text in page.text, text
    # Payments are off here: no pack is priced, and the page says where credits come from.
    assert "Granted by the server's operator" in page.text
    assert "Credit pack" not in page.text and "$5" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "csrftoken=" in page.headers["set-cookie"]


@pytest.mark.parametrize("settings_overrides", [{"stripe_secret_key": "sk_test_home",
                                                 "stripe_webhook_secret": "whsec_home"}], indirect=True)
def test_home_prices_the_packs_where_payments_are_on(client):
    page = client.get("/")
    for text in ("Credit pack", "100 credits", "$5"):
        assert text in page.text, text
    assert "Granted by the server's operator" not in page.text


def test_help_leads_to_the_instruction_guide(client):
    response = client.get("/help", follow_redirects=False)
    assert response.status_code in (301, 307, 308) and response.headers["location"] == "/help/instructions"


def test_signup_and_login_forms(client, context):
    token = csrf(client)
    short = client.post("/signup", data={"email": "x@example.com", "password": "short", "csrf_token": token})
    assert short.status_code == 422 and "at least 8 characters" in short.text and 'value="x@example.com"' in short.text
    no_token = client.post("/signup", data={"email": "x@example.com", "password": "long enough"})
    assert no_token.status_code == 403
    sign_up(client)
    editor = client.get("/edit")
    assert editor.status_code == 200 and "Describe the change" in editor.text and "page@example.com" not in editor.text
    assert "10 credits" in editor.text
    client.post("/logout", data={"csrf_token": client.cookies["csrftoken"]})
    assert client.get("/edit", follow_redirects=False).headers["location"] == "/login?next=/edit"
    wrong = client.post("/login", data={"email": "page@example.com", "password": "wrong password",
                                        "csrf_token": client.cookies["csrftoken"]})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    ok = client.post("/login", data={"email": "page@example.com", "password": "long enough", "next": "https://evil.example",
                                     "csrf_token": client.cookies["csrftoken"]}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/edit"


def test_editor_form_without_javascript_history_and_detail(client):
    sign_up(client)
    token = client.cookies["csrftoken"]
    response = client.post("/edit", data={"prompt": "Brighter please", "quality": "low", "resolution": "1K",
                                          "aspect_ratio": "auto", "output_format": "jpeg", "csrf_token": token},
                           files=[("image", ("a.png", png(), "image/png"))], follow_redirects=False)
    assert response.status_code == 303
    edit_id = response.headers["location"].rsplit("/", 1)[-1]
    wait_for_edit(client, edit_id)
    detail = client.get(f"/edits/{edit_id}")
    assert detail.status_code == 200
    for text in ("Brighter please", "1024 × 768", "JPEG", "Download", "Edit this result", "1 credit", "passthrough"):
        assert text in detail.text, text
    history = client.get("/history")
    assert "Brighter please" in history.text and f"/edit?rerun={edit_id}" in history.text
    editor = client.get(f"/edit?from={edit_id}")
    assert editor.status_code == 200 and edit_id in editor.text
    bad = client.post("/edit", data={"prompt": "", "csrf_token": token},
                      files=[("image", ("a.png", png(), "image/png"))])
    assert bad.status_code == 422 and "instruction is empty" in bad.text
    deleted = client.post(f"/edits/{edit_id}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.status_code == 303 and client.get(f"/edits/{edit_id}").status_code == 404


def test_history_pages(client, context):
    create_user(context, email="busy@example.com", password="long enough", credits=50)
    login(client, "busy@example.com", "long enough")
    token = client.cookies["csrftoken"]
    for n in range(14):
        client.post("/api/v1/edits", data={"prompt": f"Edit number {n}", "quality": "low"},
                    headers={"X-CSRF-Token": token}, files=[("image", ("a.png", png(), "image/png"))])
    first = client.get("/history")
    assert first.text.count('class="history-item"') == 12 and "Edit number 13" in first.text
    older = re.search(r'href="/history\?cursor=([^"]+)"', first.text)
    assert older
    second = client.get(f"/history?cursor={older.group(1)}")
    assert second.text.count('class="history-item"') == 2 and "Edit number 0" in second.text
    assert "Older edits" not in second.text and 'href="/history"' in second.text


def test_account_page_and_api_keys(client, context):
    sign_up(client)
    token = client.cookies["csrftoken"]
    page = client.get("/account")
    assert "Credit history" in page.text and "Welcome credits" in page.text and "No keys yet" in page.text
    made = client.post("/account/api-keys", data={"name": "Shop sync", "csrf_token": token}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/account#api-keys"  # a reload creates nothing
    shown = client.get("/account")
    key = re.search(r'id="new-key">(sk-ie-[^<]+)<', shown.text).group(1)
    assert "copy it now" in shown.text and "Shop sync" in shown.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    again = client.get("/account")
    assert key not in again.text and f"…{key[-4:]}" in again.text
    assert "never" not in again.text.split("Shop sync")[1][:400]  # it has been used
    key_id = re.search(r'/account/api-keys/([0-9a-f]+)/revoke', again.text).group(1)
    client.post(f"/account/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_not_found_page(client, context):
    create_user(context, email="a@example.com")
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "Not found" in page.text and "<html" in page.text


def test_editor_shows_the_transparency_hint_only_when_the_backend_can(client, context):
    from app.backends.base import Capabilities

    sign_up(client)
    assert "keep a removed background transparent" in client.get("/edit").text
    context.backend.capabilities = Capabilities(plans=True, transparent_output=False)  # as gpt-image-2
    assert "keep a removed background transparent" not in client.get("/edit").text


def test_a_refused_key_name_is_tied_to_its_field(client, context):
    create_user(context, email="keys@example.com")
    token = login(client, "keys@example.com")
    page = client.post("/account/api-keys", data={"name": "k" * 101, "csrf_token": token})
    assert page.status_code == 422
    field = re.search(r'<input type="text" name="name"[^>]*>', page.text).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="key-name-error"' in field
    assert 'id="key-name-error"' in page.text


def test_the_form_sent_twice_from_one_page_makes_one_edit_and_one_charge(client, context):
    """Without JavaScript a double submit (or a retry after a lost answer) posts the same page twice: its
    `form_key` makes that one edit. The same page with a changed instruction is a new intent."""
    sign_up(client, "twice@example.com")
    token = client.cookies["csrftoken"]
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', client.get("/edit").text).group(1)
    assert key != re.search(r'name="form_key" value="([0-9a-f]{32})"', client.get("/edit").text).group(1)
    form = {"prompt": "Brighter please", "quality": "low", "resolution": "1K", "aspect_ratio": "auto",
            "output_format": "jpeg", "csrf_token": token, "form_key": key}

    def send(**changes: str):
        return client.post("/edit", data={**form, **changes}, files=[("image", ("a.png", png(), "image/png"))],
                           follow_redirects=False)

    first, again = send(), send()
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    changed = send(prompt="Darker please")
    assert changed.status_code == 303 and changed.headers["location"] != first.headers["location"]
    bad = send(form_key="not\x01printable")
    assert bad.status_code == 422 and "form_key" in bad.text
    with context.transaction() as db:
        assert len(db.execute(select(Edit)).scalars().all()) == 2
        reserves = db.execute(select(Transfer).where(Transfer.kind == "reserve")).scalars().all()
        assert len(reserves) == 2
