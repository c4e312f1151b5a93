"""Encoder promotion without workers: the staff-only platform API (every route refuses non-staff, is in the
schema), starting a rollout (one at a time, audited, its first tick queued), the go-live rule, go-live and
rollback of the registry's state (default encoder, champions, alias events)."""

from __future__ import annotations

import io
from unittest import mock

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.routes import METHODS, api_routes
from tests.registry_support import registry_objects, shipped_encoder


def platform_routes():
    from registry.models import EncoderRollout, EncoderVersion

    return [r for r in api_routes() if r.platform and r.model in (EncoderVersion, EncoderRollout)]


# --- the go-live rule (pure) ----------------------------------------------------------------------------
HEADS_OK = {"slug": "a", "kind": "heads", "job": 1, "job_state": "succeeded", "predictor": 7,
            "predictor_name": "a/heads-v2", "gate": {"passed": True, "reasons": []}}


def test_every_organisation_passing_is_ready():
    from registry.rollouts import go_live_verdict

    v = go_live_verdict({"1": HEADS_OK, "2": {"slug": "b", "kind": "file", "file_old": "demo", "file_new": "demo2"},
                         "3": {"slug": "c", "kind": "file", "file_old": None, "file_new": None}})
    assert v["ready"] and not v["blocking"] and not v["overridden"]
    assert [o["slug"] for o in v["ok"]] == ["a", "b", "c"]
    assert "no predictor before or after" in v["ok"][2]["why"]


@pytest.mark.parametrize("res, why", [
    (HEADS_OK | {"gate": {"passed": False, "reasons": ["age: R^2 0.40 < 0.50 - 0.02"]}}, "failed the promotion gate: age"),
    (HEADS_OK | {"job_state": "failed", "gate": None}, "is failed"),
    (HEADS_OK | {"job_state": "running", "gate": None}, "is running"),
    ({"slug": "a", "kind": "heads", "error": "its champion records no label table"}, "no label table"),
    ({"slug": "a", "kind": "file", "file_old": "predictor-abc", "file_new": None}, "would have no predictions"),
    ({"slug": "a"}, "not evaluated yet"),
])
def test_an_organisation_without_a_passing_predictor_blocks_unless_staff_override(res, why):
    from registry.rollouts import go_live_verdict

    v = go_live_verdict({"1": HEADS_OK | {"slug": "ok"}, "2": res})
    assert not v["ready"] and [b["organisation"] for b in v["blocking"]] == [2]
    assert why in v["blocking"][0]["why"]
    assert not go_live_verdict({"2": res}, "   ")["ready"]  # a blank reason is no reason
    over = go_live_verdict({"2": res}, "the clinic agreed in writing")
    assert over["ready"] and over["overridden"] and over["blocking"]  # still named


# --- the API and the registry's state -------------------------------------------------------------------
class PlatformAPITest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        from registry.models import EncoderVersion

        cls.old = shipped_encoder()
        EncoderVersion.objects.filter(pk=cls.old.pk).update(artifact_uri="gaitcore/model/checkpoints/gaitmae-small.pt")
        cls.new = EncoderVersion.objects.create(version_tag="gaitmae/1:tiny:cand", config_name="tiny",
                                                weights_digest="abcd1234", status="candidate",
                                                artifact_uri="file:///nowhere/model.pt")
        cls.objs = registry_objects(cls.org)
        cls.staff_user = get_user_model().objects.create_user("platform-staff", password="pw-123456789", is_staff=True)

    def setUp(self):
        self.sent = []
        p = mock.patch("registry.actions.send_task", side_effect=lambda *a: self.sent.append(a))
        p.start()
        self.addCleanup(p.stop)

    def staff(self) -> APIClient:
        c = APIClient()
        c.force_authenticate(self.staff_user)
        return c

    def test_every_platform_route_refuses_non_staff(self):
        from registry.models import EncoderRollout

        r = EncoderRollout.objects.create(from_encoder=self.old, to_encoder=self.new)
        routes = platform_routes()
        assert len(routes) >= 6
        for route in routes:
            pk = r.pk if "rollout" in route.name else self.new.pk
            url = reverse(f"v1:{route.name}", kwargs={"pk": pk} if route.detail else None)
            for client in (self.client_for(Role.OWNER), self.client_for(Role.OWNER, org=self.other), APIClient()):
                for method in METHODS:
                    got = getattr(client, method)(url, {}, format="json").status_code
                    assert got in (401, 403), f"{method} {url} -> {got}"
            if "get" in route.methods:
                assert self.staff().get(url).status_code == 200, url

    def test_platform_routes_are_in_the_schema(self):
        out = io.StringIO()
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
        paths = yaml.safe_load(out.getvalue())["paths"]
        for route in platform_routes():
            assert route.openapi_path in paths, route.path
            for method in route.methods:
                assert method in paths[route.openapi_path], (method, route.path)

    def test_promote_starts_one_audited_rollout_and_queues_its_tick(self):
        from registry.models import EncoderRollout
        from tenancy.models import AuditEvent

        with self.captureOnCommitCallbacks(execute=True):
            r = self.staff().post(reverse("v1:platform-encoder-promote", kwargs={"pk": self.new.pk}))
        assert r.status_code == 202, r.content
        body = r.json()
        assert (body["from_encoder"], body["to_encoder"], body["state"]) == (self.old.version_tag, self.new.version_tag, "queued")
        rollout = EncoderRollout.objects.get(pk=body["id"])
        assert self.sent == [("workers.rollout.tick", [rollout.pk, rollout.tick], "training")]
        ev = AuditEvent.unscoped.get(action="encoder.promote")
        assert ev.organisation_id is None and ev.data["rollout"] == rollout.pk
        again = self.staff().post(reverse("v1:platform-encoder-promote", kwargs={"pk": self.new.pk}))
        assert again.status_code == 400 and "one at a time" in again.content.decode()
        same = self.staff().post(reverse("v1:platform-encoder-promote", kwargs={"pk": self.old.pk}))
        assert same.status_code == 400 and "already the default" in same.content.decode()

    def test_go_live_and_rollback_move_the_default_and_the_champions(self):
        from registry import actions, rollouts
        from registry.models import Alias, AliasEvent, EncoderRollout, EncoderVersion, PredictorVersion
        from rest_framework.exceptions import ValidationError
        from tenancy.audit import Actor

        with self.scope(self.org):
            v1 = PredictorVersion.objects.get(pk=self.objs["version_id"])
            actions.promote(Actor.system(), v1)
            v2 = PredictorVersion.objects.create(number=2, name="alpha/heads-v2", encoder=self.new,
                                                 snapshot_hash="s", code_version="t", config={}, config_hash="c",
                                                 eval_set_hash="e", artifact_key="x", arrays_sha256="a")
        ok = HEADS_OK | {"predictor": v2.pk, "predictor_name": v2.name}
        blocked = {"slug": "beta", "kind": "file", "file_old": "predictor-demo", "file_new": None}
        r = EncoderRollout.objects.create(from_encoder=self.old, to_encoder=self.new, state="predicting",
                                          results={str(self.org.pk): ok, str(self.other.pk): blocked})
        with pytest.raises(ValidationError):
            rollouts.go_live(r)  # beta blocks
        EncoderRollout.objects.filter(pk=r.pk).update(state="blocked")
        switched = []
        with self.captureOnCommitCallbacks(execute=True):
            resp = self.staff().post(reverse("v1:platform-rollout-override", kwargs={"pk": r.pk}),
                                     {"reason": "beta agreed"}, format="json")
        assert resp.status_code == 200 and resp.json()["state"] == "going-live", resp.content
        rollouts.go_live(r, switch=lambda: switched.append(1))
        r.refresh_from_db()
        assert r.state == "live" and switched == [1] and len(r.alias_events) == 1
        assert EncoderVersion.objects.get(is_default=True).pk == self.new.pk
        with self.scope(self.org):
            assert Alias.objects.get(name="champion").predictor_id == v2.pk
            assert rollouts.live_bundle() == (self.new.version_tag, v2.name)
        with self.scope(self.other):
            assert rollouts.live_bundle() == (self.new.version_tag, None)

        # a failing inference switch commits nothing
        r2 = EncoderRollout.objects.create(from_encoder=self.new, to_encoder=self.old, state="going-live",
                                           results={str(self.org.pk): {"slug": "alpha", "kind": "file"}},
                                           override_reason="test")

        def broken():
            raise RuntimeError("TorchServe is down")

        with pytest.raises(RuntimeError):
            rollouts.go_live(r2, switch=broken)
        assert EncoderVersion.objects.get(is_default=True).pk == self.new.pk
        EncoderRollout.objects.filter(pk=r2.pk).delete()

        resp = self.staff().post(reverse("v1:platform-rollout-rollback", kwargs={"pk": r.pk}), {"reason": "drift"},
                                 format="json")
        assert resp.status_code == 200 and resp.json()["state"] == "rolled-back", resp.content
        assert EncoderVersion.objects.get(is_default=True).pk == self.old.pk
        assert EncoderVersion.objects.get(pk=self.new.pk).status == "retired"
        with self.scope(self.org):
            assert Alias.objects.get(name="champion").predictor_id == v1.pk
            assert AliasEvent.objects.order_by("-id").first().action == "rollback"
        again = self.staff().post(reverse("v1:platform-rollout-rollback", kwargs={"pk": r.pk}), {}, format="json")
        assert again.status_code == 400
