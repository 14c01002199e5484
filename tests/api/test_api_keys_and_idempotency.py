"""API keys (shown once, listed by last four and last use, revoked for good), Idempotency-Key on POST /edits
(the first edit again and one charge; another body 409), and cursor paging of /edits and /ledger."""

from __future__ import annotations

import hashlib
import io
import threading

import httpx
from PIL import Image
from sqlalchemy import select

from app.models import ApiKey, Edit
from tests.conftest import api_key_for, create_user, login, verify_ledger, wait_for_edit


def png(color: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(buffer, "PNG")
    return buffer.getvalue()


def submit(client, headers, *, prompt: str = "Make it brighter", color=(200, 120, 40), **fields):
    return client.post("/api/v1/edits", headers=headers, data={"prompt": prompt, **fields},
                       files=[("image", ("in.png", png(color), "image/png"))])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- API keys ------------------------------------------------------------------------------------------


def test_a_key_is_shown_once_listed_by_its_last_four_and_marked_when_used(client, context):
    user = create_user(context, email="keys@example.com")
    csrf = login(client, "keys@example.com")
    created = client.post("/api/v1/api-keys", json={"name": "Nightly export"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert body["name"] == "Nightly export" and key.startswith("sk-ie-") and len(key) > 30

    listing = client.get("/api/v1/api-keys")
    assert key not in listing.text and "key_hash" not in listing.text
    [item] = listing.json()["items"]
    assert (item["id"], item["name"], item["last4"], item["last_used_at"]) == (body["id"], "Nightly export",
                                                                               key[-4:], None)
    with context.transaction() as db:
        row = db.execute(select(ApiKey).where(ApiKey.user_id == user.id)).scalar_one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()  # only a digest is kept

    client.cookies.clear()
    assert client.get("/api/v1/me", headers=bearer(key)).json()["email"] == "keys@example.com"
    login(client, "keys@example.com")
    assert client.get("/api/v1/api-keys").json()["items"][0]["last_used_at"] is not None


def test_creating_a_key_by_cookie_needs_the_csrf_token_and_a_sane_name(client, context):
    create_user(context, email="csrf@example.com")
    csrf = login(client, "csrf@example.com")
    assert client.post("/api/v1/api-keys", json={"name": "x"}).status_code == 403
    too_long = client.post("/api/v1/api-keys", json={"name": "n" * 101}, headers={"X-CSRF-Token": csrf})
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "name"
    unnamed = client.post("/api/v1/api-keys", json={}, headers={"X-CSRF-Token": csrf})
    assert unnamed.status_code == 201 and unnamed.json()["name"] == "API key"


def test_a_revoked_key_is_refused_everywhere(client, context):
    user = create_user(context)
    key = api_key_for(context, user.id)
    keep = api_key_for(context, user.id)
    [first_id] = [item["id"] for item in client.get("/api/v1/api-keys", headers=bearer(keep)).json()["items"]
                  if item["last4"] == key[-4:]]
    assert client.delete(f"/api/v1/api-keys/{first_id}", headers=bearer(keep)).status_code == 204

    refused = client.get("/api/v1/me", headers=bearer(key))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    compat = client.post("/v1/images/edits", headers=bearer(key), data={"prompt": "x"},
                         files=[("image", ("in.png", png(), "image/png"))])
    assert compat.status_code == 401 and compat.json()["error"]["code"] == "invalid_api_key"
    assert [item["last4"] for item in client.get("/api/v1/api-keys", headers=bearer(keep)).json()["items"]] \
        == [keep[-4:]]
    assert client.delete(f"/api/v1/api-keys/{first_id}", headers=bearer(keep)).status_code == 404


def test_another_persons_key_is_not_found(client, context):
    owner, stranger = create_user(context), create_user(context)
    api_key_for(context, owner.id)
    with context.transaction() as db:
        key_id = db.execute(select(ApiKey.id).where(ApiKey.user_id == owner.id)).scalar_one()
    answer = client.delete(f"/api/v1/api-keys/{key_id}", headers=bearer(api_key_for(context, stranger.id)))
    assert answer.status_code == 404
    assert client.get("/api/v1/api-keys", headers=bearer(api_key_for(context, owner.id))).json()["items"]


# --- Idempotency-Key -----------------------------------------------------------------------------------


def test_same_key_same_body_is_the_first_edit_and_one_charge(client, context):
    user = create_user(context, credits=10)
    headers = {**bearer(api_key_for(context, user.id)), "Idempotency-Key": "batch-7-item-1"}
    first = submit(client, headers, quality="high")
    again = submit(client, headers, quality="high")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    wait_for_edit(client, first.json()["id"], headers=headers)
    late = submit(client, headers, quality="high")  # after it finished: still the same edit
    assert late.json()["id"] == first.json()["id"] and late.json()["status"] == "succeeded"
    me = client.get("/api/v1/me", headers=headers).json()
    assert (me["balance"], me["reserved"]) == (10 - 4, 0)
    verify_ledger(context)


def test_same_key_other_body_is_409_and_changes_nothing(client, context):
    user = create_user(context, credits=10)
    headers = {**bearer(api_key_for(context, user.id)), "Idempotency-Key": "k-1"}
    first = submit(client, headers)
    for changed in ({"prompt": "Make it darker"}, {"quality": "low"}, {"color": (0, 0, 255)},
                    {"output_format": "jpeg"}):
        conflict = submit(client, headers, **changed)
        assert conflict.status_code == 409, changed
        assert conflict.json()["error"] == {"code": "idempotency_key_reused", "field": "Idempotency-Key",
                                            "message": conflict.json()["error"]["message"]}
    wait_for_edit(client, first.json()["id"], headers=headers)
    with context.transaction() as db:
        assert len(db.execute(select(Edit).where(Edit.user_id == user.id)).all()) == 1
    assert client.get("/api/v1/me", headers=headers).json()["balance"] == 10 - 2


def test_an_overlong_idempotency_key_is_422_naming_it_and_changes_nothing(client, context):
    # Found by schemathesis on PostgreSQL: a 256-character key used to reach the database and answer 500.
    user = create_user(context, credits=10)
    for key in ("0" * 256, "tab\there"):
        refused = submit(client, {**bearer(api_key_for(context, user.id)), "Idempotency-Key": key})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "Idempotency-Key"
    assert submit(client, {**bearer(api_key_for(context, user.id)), "Idempotency-Key": "k" * 255}).status_code == 202
    with context.transaction() as db:
        assert len(db.execute(select(Edit).where(Edit.user_id == user.id)).all()) == 1


def test_keys_belong_to_one_person(client, context):
    alice, bob = create_user(context), create_user(context)
    a = submit(client, {**bearer(api_key_for(context, alice.id)), "Idempotency-Key": "same"})
    b = submit(client, {**bearer(api_key_for(context, bob.id)), "Idempotency-Key": "same"}, prompt="Other")
    assert a.status_code == b.status_code == 202 and a.json()["id"] != b.json()["id"]


def test_concurrent_requests_with_one_key_make_one_edit(live_server, context):
    user = create_user(context, credits=10)
    headers = {**bearer(api_key_for(context, user.id)), "Idempotency-Key": "double-click"}
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            response = submit(http, headers)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [answer.status_code for answer in answers] == [202] * 6
    assert len({answer.json()["id"] for answer in answers}) == 1
    with httpx.Client(base_url=live_server.url) as http:
        wait_for_edit(http, answers[0].json()["id"], headers=headers)
        assert http.get("/api/v1/me", headers=headers).json()["balance"] == 10 - 2
    verify_ledger(context)


# --- cursor paging ---------------------------------------------------------------------------------------


def test_edits_pages_are_newest_first_complete_and_private(client, context):
    user, other = create_user(context, credits=100), create_user(context, credits=100)
    headers = bearer(api_key_for(context, user.id))
    made = [submit(client, headers, prompt=f"Edit number {n}").json()["id"] for n in range(5)]
    submit(client, bearer(api_key_for(context, other.id)))

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/edits{query}", headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == list(reversed(made))  # newest first, each once, nobody else's
    assert client.get("/api/v1/edits?limit=0", headers=headers).status_code == 422
    assert client.get("/api/v1/edits?limit=101", headers=headers).status_code == 422


def test_ledger_pages_are_newest_first_and_add_up(client, context):
    user = create_user(context, credits=30)
    headers = bearer(api_key_for(context, user.id))
    for n in range(3):
        wait_for_edit(client, submit(client, headers, prompt=f"Edit {n}").json()["id"], headers=headers)
    items: list[dict] = []
    cursor = None
    while True:
        page = client.get("/api/v1/ledger?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                          headers=headers).json()
        assert len(page["items"]) <= 3
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len({item["id"] for item in items}) == len(items) == 7  # grant + 3 × (reserve, post)
    assert items[-1]["kind"] == "grant" and items[-1]["balance_after"] == 30
    assert items[0]["balance_after"] == 30 - 3 * 2
    stamps = [item["created_at"] for item in items]
    assert stamps == sorted(stamps, reverse=True)
    bad = client.get("/api/v1/ledger?cursor=not-a-cursor", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"
