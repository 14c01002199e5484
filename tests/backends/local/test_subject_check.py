"""The subject check: a matte that is a speck, slivers or at odds with the picture is never cut out, and
the refusal comes at submit (nothing charged) when the service can show the engine the picture."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.backends.base import BackendRefused, EditRequest, PlanRequest
from app.backends.local.matte_check import MAX_EDGE_SHARE, judge_matte
from app.main import create_app
from bench.hardcases import CASES_DIR, load_cases
from bench.hardcases import judge as judge_case
from tests.conftest import api_key_for, create_user, verify_ledger

MUG = CASES_DIR / "white_mug_on_white.jpg"
MUG_PROMPT = "Put the mug on a light blue background"


def mug_bytes() -> bytes:
    return MUG.read_bytes()


@pytest.mark.nodb
def test_the_hard_cases_get_nothing_wrong(backend):
    outcomes = [judge_case(backend, case) for case in load_cases()]
    wrong = [(o.case.name, o.case.expected, o.accepted, o.iou, o.message[:80]) for o in outcomes if not o.right]
    assert wrong == []
    # The set holds both kinds, so "nothing wrong" is not won by refusing (or accepting) everything.
    assert {o.case.expected for o in outcomes} == {"accept", "refuse"}


@pytest.mark.nodb
def test_the_two_grey_lines_of_a_white_mug_are_refused_as_slivers(backend):
    photo = Image.open(MUG).convert("RGB")
    with pytest.raises(BackendRefused) as refused:
        backend.plan(PlanRequest(MUG_PROMPT, main_size=photo.size, load_main_image=lambda: photo, quality="medium"))
    assert refused.value.code == "subject_unclear"
    assert "slivers" in refused.value.message and "mid-grey or coloured" in refused.value.message


@pytest.mark.nodb
@pytest.mark.parametrize("quality", ["low", "high"])
def test_the_run_refuses_the_mug_too_when_the_plan_never_saw_it(backend, quality):
    photo = Image.open(MUG).convert("RGB")
    request = EditRequest([photo], MUG_PROMPT, quality, photo.width, photo.height, "png")
    with pytest.raises(BackendRefused) as refused:
        backend.edit(request)
    assert refused.value.code == "subject_unclear"


@pytest.mark.nodb
def test_a_plan_without_the_picture_and_edits_that_need_no_subject_are_not_judged(backend):
    photo = Image.open(MUG).convert("RGB")

    def must_not_load() -> Image.Image:
        raise AssertionError("a colour edit needs no subject, so the picture is not even decoded")

    # The estimate has no picture to judge; a colour edit needs no subject.
    assert backend.plan(PlanRequest(MUG_PROMPT, main_size=photo.size)).steps
    assert backend.plan(PlanRequest("Make it warmer", main_size=photo.size, load_main_image=must_not_load)).steps


@pytest.mark.nodb
def test_the_measures_tell_a_body_from_slivers():
    rgb = np.full((200, 300, 3), 230, np.uint8)
    slivers = np.zeros((200, 300), np.float32)
    slivers[40:160, 100:104] = slivers[40:160, 196:200] = 1.0
    rgb[slivers > 0] = 90
    body = np.zeros((200, 300), np.float32)
    body[40:160, 100:200] = 1.0
    solid_rgb = rgb.copy()
    solid_rgb[body > 0] = 90
    thin = judge_matte(slivers, rgb, plain_backdrop=True)
    whole = judge_matte(body, solid_rgb, plain_backdrop=True)
    assert thin.edge_share > MAX_EDGE_SHARE and not thin.ok
    assert whole.edge_share < 0.2 and whole.ok
    # The same two lines as a matte of the solid box: its middle is sharp-edged subject left as backdrop.
    assert not judge_matte(slivers, solid_rgb, plain_backdrop=True).ok


# --- through the API: refused at submit, nothing charged -----------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"edit_backend": "local", "edit_workers": 0}], indirect=True)
def test_white_mug_on_white_is_refused_at_submit_with_no_charge(settings, context):
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    with TestClient(create_app(context=context, run_workers=False)) as client:
        response = client.post(
            "/api/v1/edits",
            headers=headers,
            files=[("image", ("mug.jpg", mug_bytes(), "image/jpeg"))],
            data={"prompt": MUG_PROMPT, "quality": "medium", "resolution": "1K"},
        )
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"]["code"] == "subject_unclear", body
        assert "slivers" in body["error"]["message"]
        me = client.get("/api/v1/me", headers=headers).json()
        assert (me["balance"], me["reserved"]) == (20, 0)
        assert client.get("/api/v1/edits", headers=headers).json()["items"] == []
        kinds = [entry["kind"] for entry in client.get("/api/v1/ledger", headers=headers).json()["items"]]
        assert kinds == ["grant"]
        # The same photo with a colour edit is fine: only the cut-out is refused.
        fine = client.post(
            "/api/v1/edits",
            headers=headers,
            files=[("image", ("mug.jpg", mug_bytes(), "image/jpeg"))],
            data={"prompt": "Make it warmer", "quality": "medium", "resolution": "1K"},
        )
        assert fine.status_code == 202, fine.text
    verify_ledger(context)
