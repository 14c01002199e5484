"""Nobody reads, lists, continues or deletes another person's edit, input, result or ledger: 404, never 403."""

from __future__ import annotations

import io

from PIL import Image

from tests.conftest import api_key_for, create_user, login, wait_for_edit


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 80), "purple").save(buffer, "PNG")
    return buffer.getvalue()


def test_another_persons_edit_is_404_on_every_route(client, context):
    owner = create_user(context, email="owner@example.com")
    other = create_user(context, email="other@example.com")
    owner_headers = {"Authorization": f"Bearer {api_key_for(context, owner.id)}"}
    other_headers = {"Authorization": f"Bearer {api_key_for(context, other.id)}"}
    response = client.post("/api/v1/edits", data={"prompt": "Brighter"}, headers=owner_headers,
                           files=[("image", ("a.png", png(), "image/png"))])
    edit = wait_for_edit(client, response.json()["id"], headers=owner_headers)
    edit_id = edit["id"]

    api_routes = [("GET", f"/api/v1/edits/{edit_id}"), ("GET", f"/api/v1/edits/{edit_id}/result"),
                  ("GET", f"/api/v1/edits/{edit_id}/inputs/0"), ("GET", f"/api/v1/edits/{edit_id}/result/preview"),
                  ("GET", f"/api/v1/edits/{edit_id}/inputs/0/preview"), ("DELETE", f"/api/v1/edits/{edit_id}")]
    for method, path in api_routes:
        answer = client.request(method, path, headers=other_headers)
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"]["code"] == "not_found"
    continued = client.post("/api/v1/edits", data={"prompt": "Again", "parent_id": edit_id}, headers=other_headers,
                            files=[("image", ("b.png", png(), "image/png"))])
    assert continued.status_code == 404 and continued.json()["error"]["field"] == "parent_id"
    assert client.get("/api/v1/edits", headers=other_headers).json()["items"] == []
    other_ledger = client.get("/api/v1/ledger", headers=other_headers).json()["items"]
    assert all(item["edit_id"] is None for item in other_ledger)

    # The pages, signed in as the other person.
    login(client, "other@example.com")
    for path in (f"/edits/{edit_id}", f"/edit?from={edit_id}", f"/edit?rerun={edit_id}"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "Not found" in page.text or "No such edit" in page.text
    deleted = client.post(f"/edits/{edit_id}/delete", data={"csrf_token": client.cookies["csrftoken"]})
    assert deleted.status_code == 404

    # Still there for its owner.
    assert client.get(f"/api/v1/edits/{edit_id}", headers=owner_headers).json()["status"] == "succeeded"
    assert client.get(f"/api/v1/edits/{edit_id}/result", headers=owner_headers).status_code == 200
