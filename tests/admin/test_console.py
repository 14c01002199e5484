"""The operator console: only operators see it; they find people, move credits, hold and disable accounts,
and every action is in the trail."""

from __future__ import annotations

import io
import re
import time

from PIL import Image
from sqlalchemy import select

from app.billing import ledger
from app.models import AdminAction, Edit, User
from tests.admin.conftest import create_operator, signed_in
from tests.conftest import api_key_for, create_user, login, verify_ledger, wait_for_edit
from tests.test_cli import run_cli


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def submit(client, headers):
    return client.post("/api/v1/edits", files=[("image", ("in.png", small_png(), "image/png"))],
                       data={"prompt": "Make it brighter"}, headers=headers)


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the app serves under /admin, so that a route added later is covered too."""
    found = []

    def walk(routes) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI >= 0.160 includes routers lazily
            if included is not None:
                walk(included.routes)
                continue
            path = getattr(route, "path", "")
            if path == "/admin" or path.startswith("/admin/"):
                found.extend((method, path) for method in sorted(getattr(route, "methods", None) or {"GET"})
                             if method != "HEAD")

    walk(app.routes)
    assert found, "no routes under /admin: has the way FastAPI keeps routers changed?"
    return found


def available(context, user_id: str) -> int:
    with context.read_transaction() as db:
        return ledger.balance(db, user_id).available


def action_id(page_html: str, form: str) -> str:
    """The one-time id of a form on the person's page."""
    block = page_html.split(f'data-testid="{form}"', 1)[1]
    return re.search(r'name="action_id" value="([^"]+)"', block).group(1)


def test_every_admin_route_is_404_for_anyone_but_an_operator(app, client, context):
    person = create_user(context, email="plain@example.com", credits=10)
    operator = create_operator(context)
    key = api_key_for(context, person.id)
    operator_key = api_key_for(context, operator.id)
    edit_id = submit(client, {"Authorization": f"Bearer {key}"}).json()["id"]
    wait_for_edit(client, edit_id, headers={"Authorization": f"Bearer {key}"})
    routes = admin_routes(app)
    assert {("GET", "/admin"), ("GET", "/admin/people/{user_id}"), ("POST", "/admin/people/{user_id}/grant"),
            ("POST", "/admin/people/{user_id}/disable"),
            ("GET", "/admin/edits/{edit_id}/result/preview")} <= set(routes)
    values = {"user_id": person.id, "edit_id": edit_id, "position": "0"}
    signed_in_person = signed_in(app, "plain@example.com")
    callers = {
        "anonymous": (client, {}),
        "signed-in person": (signed_in_person, {"X-CSRF-Token": signed_in_person.csrf}),
        "API key": (client, {"Authorization": f"Bearer {key}"}),
        "operator's API key": (client, {"Authorization": f"Bearer {operator_key}"}),
        "broken API key": (client, {"Authorization": "Bearer sk-ie-nonsense"}),
    }
    for who, (caller, headers) in callers.items():
        for method, template in routes:
            path = re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)
            form = {"amount": "5", "reason": "x", "csrf_token": headers.get("X-CSRF-Token", "")}
            response = caller.request(method, path, headers=headers, data=form if method == "POST" else None,
                                      follow_redirects=False)
            assert response.status_code == 404, (who, method, path, response.status_code)
            assert person.email not in response.text
    assert available(context, person.id) == 10 - 2  # only the edit's charge: nothing granted
    with context.read_transaction() as db:
        assert db.execute(select(AdminAction)).first() is None
    # The header shows the console only to operators.
    assert 'href="/admin"' not in signed_in_person.get("/account").text
    assert 'href="/admin"' in signed_in(app, "ops@example.com").get("/account").text


def test_operator_finds_a_person_and_grants_and_takes_credits(app, client, context):
    operator = create_operator(context)
    person = create_user(context, email="alice.shop@example.com", credits=20)
    for n in range(3):
        create_user(context, email=f"other{n}@example.org", credits=0)
    ops = signed_in(app, "ops@example.com")

    found = ops.get("/admin", params={"q": "ALICE.sh"})
    assert found.status_code == 200
    assert "alice.shop@example.com" in found.text and "other0@example.org" not in found.text
    assert "Nobody matches" in ops.get("/admin", params={"q": "nobody-like-this"}).text
    assert ops.get("/admin", params={"q": "%"}).text.count("/admin/people/") == 0  # a literal %, not a wildcard

    page = ops.get(f"/admin/people/{person.id}")
    assert page.status_code == 200 and "alice.shop@example.com" in page.text
    grant_id = action_id(page.text, "credits-form")
    form = {"csrf_token": ops.csrf, "amount": "15", "reason": "Goodwill for a failed batch", "action_id": grant_id}
    done = ops.post(f"/admin/people/{person.id}/grant", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/admin/people/{person.id}?done=grant")
    assert available(context, person.id) == 35
    # The same form sent again (a double click, a reload) grants once.
    assert ops.post(f"/admin/people/{person.id}/grant", data=form, follow_redirects=False).status_code == 303
    assert available(context, person.id) == 35

    after = ops.get(done.headers["location"])
    assert "Credits granted." in after.text and "Goodwill for a failed batch" in after.text
    # The person sees it in their own ledger.
    their_ledger = client.get("/api/v1/ledger", headers={"Authorization": f"Bearer {api_key_for(context, person.id)}"})
    assert their_ledger.json()["items"][0]["amount"] == 15

    # Taking more than is available is refused with a clear message, and nothing moves.
    refused = ops.post(f"/admin/people/{person.id}/take", data={
        "csrf_token": ops.csrf, "amount": "36", "reason": "Duplicate grant",
        "action_id": action_id(after.text, "credits-form")})
    assert refused.status_code == 402
    assert "Only 35 credits are available; take at most 35." in refused.text
    assert available(context, person.id) == 35
    taken = ops.post(f"/admin/people/{person.id}/take", data={
        "csrf_token": ops.csrf, "amount": "35", "reason": "Duplicate grant",
        "action_id": action_id(refused.text, "credits-form")})
    assert taken.status_code == 200 and "Credits taken." in taken.text  # followed the redirect
    assert available(context, person.id) == 0

    # A reason is required; so is a positive amount.
    no_reason = ops.post(f"/admin/people/{person.id}/grant",
                         data={"csrf_token": ops.csrf, "amount": "5", "reason": " "})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    assert ops.post(f"/admin/people/{person.id}/grant", data={
        "csrf_token": ops.csrf, "amount": "-5", "reason": "oops"}).status_code == 422
    # Forms without the CSRF token are refused.
    assert ops.post(f"/admin/people/{person.id}/grant", data={"amount": "5", "reason": "x"},
                    headers={"X-CSRF-Token": ""}).status_code == 403
    assert available(context, person.id) == 0

    verify_ledger(context)
    with context.read_transaction() as db:
        trail = db.execute(select(AdminAction).order_by(AdminAction.created_at)).scalars().all()
        assert [(row.action, row.amount, row.operator_id, row.target_user_id) for row in trail] == [
            ("grant", 15, operator.id, person.id), ("take", 35, operator.id, person.id)]


def test_hold_refuses_new_edits_until_lifted(app, client, context):
    create_operator(context)
    person = create_user(context, email="held@example.com", credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, person.id)}"}
    ops = signed_in(app, "ops@example.com")

    held = ops.post(f"/admin/people/{person.id}/hold", data={"csrf_token": ops.csrf, "reason": "Suspected card fraud"})
    assert held.status_code == 200 and "The account is on hold" in held.text
    refused = submit(client, headers)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "account_on_hold"
    assert available(context, person.id) == 20

    lifted = ops.post(f"/admin/people/{person.id}/release", data={"csrf_token": ops.csrf, "reason": "Cleared"})
    assert lifted.status_code == 200 and "The hold is lifted." in lifted.text
    accepted = submit(client, headers)
    assert accepted.status_code == 202, accepted.text
    assert wait_for_edit(client, accepted.json()["id"], headers=headers)["status"] == "succeeded"
    assert "Suspected card fraud" in lifted.text and "Cleared" in lifted.text
    verify_ledger(context)


def test_disabled_account_cannot_log_in_or_use_its_keys(app, client, context):
    operator = create_operator(context)
    person = create_user(context, email="gone@example.com", credits=20)
    key = api_key_for(context, person.id)
    theirs = signed_in(app, "gone@example.com")
    assert theirs.get("/api/v1/me").status_code == 200
    ops = signed_in(app, "ops@example.com")

    done = ops.post(f"/admin/people/{person.id}/disable", data={"csrf_token": ops.csrf, "reason": "Abuse report"})
    assert done.status_code == 200 and "The account is disabled" in done.text
    assert theirs.get("/api/v1/me").status_code == 401  # the session ended
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    refused = client.post("/api/v1/auth/login", json={"email": "gone@example.com", "password": "correct horse"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "account_disabled"
    # An operator cannot lock themselves out.
    own = ops.post(f"/admin/people/{operator.id}/disable", data={"csrf_token": ops.csrf, "reason": "oops"})
    assert own.status_code == 409 and "your own account" in own.text

    ops.post(f"/admin/people/{person.id}/enable", data={"csrf_token": ops.csrf, "reason": "Appeal accepted"})
    login(client, "gone@example.com")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_person_page_shows_edits_with_thumbnails(app, client, context):
    create_operator(context)
    person = create_user(context, email="pics@example.com", credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, person.id)}"}
    edit_id = submit(client, headers).json()["id"]
    wait_for_edit(client, edit_id, headers=headers)
    ops = signed_in(app, "ops@example.com")
    page = ops.get(f"/admin/people/{person.id}").text
    assert f"/admin/edits/{edit_id}/inputs/0/preview" in page and f"/admin/edits/{edit_id}/result/preview" in page
    for path in (f"/admin/edits/{edit_id}/inputs/0/preview", f"/admin/edits/{edit_id}/result/preview"):
        response = ops.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(response.content)).size[0] <= 640
    assert ops.get(f"/admin/edits/{edit_id}/inputs/5/preview").status_code == 404


def test_dashboard_counts_failed_edits_by_code(app, client, context, backend):
    create_operator(context)
    person = create_user(context, credits=100)
    headers = {"Authorization": f"Bearer {api_key_for(context, person.id)}"}
    backend.fail_in_edit = "No subject found."
    for _ in range(2):
        assert wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)["status"] == "failed"
    backend.fail_in_edit = None
    wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)
    with context.transaction() as db:  # one failed long ago: outside the day
        old = db.execute(select(Edit).where(Edit.status == "failed")).scalars().first()
        old.finished_at = old.finished_at.replace(year=old.finished_at.year - 1)
    ops = signed_in(app, "ops@example.com")
    page = ops.get("/admin").text
    assert re.search(r'data-code="no_subject">\s*1\s*<', page)
    assert re.search(r'data-testid="failed-total">1<', page)
    assert re.search(r'data-testid="queued">0<', page) and re.search(r'data-testid="oldest">—<', page)


def test_dashboard_shows_the_queue(app, client, context, backend):
    create_operator(context)
    backend.gate.clear()  # the stand-in holds every edit it starts until the gate opens
    people = [create_user(context, credits=10) for _ in range(3)]
    keys = [{"Authorization": f"Bearer {api_key_for(context, person.id)}"} for person in people]
    ids = [submit(client, headers).json()["id"] for headers in keys]
    ops = signed_in(app, "ops@example.com")
    deadline = time.monotonic() + 60
    while True:  # two workers take two edits; the third waits
        page = ops.get("/admin").text
        if re.search(r'data-testid="running">2<', page):
            break
        assert time.monotonic() < deadline, "the workers did not pick the edits up"
        time.sleep(0.05)
    assert re.search(r'data-testid="queued">1<', page)
    assert re.search(r'data-testid="oldest">\d+ s<', page)
    backend.gate.set()
    for edit_id, headers in zip(ids, keys, strict=True):
        assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"


def test_users_create_operator_and_promote_on_the_command_line(database_url, context, tmp_path):
    created = run_cli(database_url, tmp_path, "users", "create", "--email", "ops-cli@example.com",
                      "--password", "long password", "--operator")
    assert created.returncode == 0 and "Created operator ops-cli@example.com" in created.stdout, created.stderr
    create_user(context, email="later@example.com")
    promoted = run_cli(database_url, tmp_path, "users", "promote", "--email", "later@example.com")
    assert promoted.returncode == 0 and "is an operator" in promoted.stdout, promoted.stderr
    missing = run_cli(database_url, tmp_path, "users", "promote", "--email", "nobody@example.com")
    assert missing.returncode == 2 and "No account" in missing.stderr
    with context.read_transaction() as db:
        flags = dict(db.execute(select(User.email, User.is_operator)).all())
    assert flags == {"ops-cli@example.com": True, "later@example.com": True}


def test_lifting_a_hold_leaves_a_disputes_hold_in_place(app, client, context):
    """A dispute holds the account (app.billing.payments); an operator cannot lift that hold."""
    from app.billing import payments
    from app.models import StripePayment, TopUp

    create_operator(context)
    person = create_user(context, email="disputed@example.com", credits=20)
    with context.transaction() as db:  # a paid top-up whose payment is disputed, as the webhooks record it
        db.add(TopUp(user_id=person.id, source="checkout", pack_id="pack_100", credits=100, amount=900,
                     currency="usd", status="paid", payment_intent_id="pi_disputed"))
        db.add(StripePayment(payment_intent_id="pi_disputed", dispute_id="dp_1", dispute_status="needs_response"))
        db.flush()
        assert payments.refresh_hold(db, person.id)
    ops = signed_in(app, "ops@example.com")
    page = ops.get(f"/admin/people/{person.id}").text
    assert "a payment is disputed" in page and "pi_disputed" in page
    refused = ops.post(f"/admin/people/{person.id}/release", data={"csrf_token": ops.csrf, "reason": "Looks fine"})
    assert refused.status_code == 409 and "dispute is open" in refused.text
    with context.read_transaction() as db:
        assert ledger.balance(db, person.id).on_hold
        assert db.execute(select(AdminAction)).first() is None
