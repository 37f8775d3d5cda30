"""The engineer's loop through the embedded server's real HTTP stack: label, tune, replay, activate,
the activation history and export (docs/api.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from serving import Server, files, wait_job

from services.common.auth import actor_of
from services.core.models import ApiKey


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("loop") / "data").start()
    with srv.client() as c:
        yield c
    srv.stop()


@pytest.fixture(scope="module")
def inspected(client, tile_root: Path) -> list[dict]:
    """Product 'tile' (v1 from 8 golden samples), and 5 inspections: 3 good parts, then 2 cracked; the
    last upload is named like a spreadsheet formula."""
    assert client.post("/v1/products", json={"name": "tile"}).status_code == 201
    assert client.post("/v1/products/tile/golden", files=files(sorted((tile_root / "train" / "good").iterdir())[:8])).status_code == 201
    assert wait_job(client, client.post("/v1/products/tile/fingerprints").json()["id"])["state"] == "succeeded"
    parts = sorted((tile_root / "test" / "good").iterdir())[:3] + sorted((tile_root / "test" / "crack").iterdir())[:2]
    results = []
    for i, path in enumerate(parts):
        name = "=HYPERLINK(1).jpg" if i == len(parts) - 1 else path.name
        answer = client.post("/v1/products/tile/inspect", files={"file": (name, path.read_bytes(), "image/jpeg")})
        assert answer.status_code == 200, answer.text
        results.append(answer.json())
    return results


def _error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.json()


def test_labels_are_set_changed_cleared_filtered_and_counted(client, inspected):
    good, crack = inspected[0]["id"], inspected[3]["id"]
    put = client.put(f"/v1/products/tile/inspections/{crack}/label", json={"label": "false_alarm", "note": "dust"})
    assert put.status_code == 200 and put.json()["actor"] == "local" and put.json()["note"] == "dust"
    put = client.put(f"/v1/products/tile/inspections/{crack}/label", json={"label": "confirmed_defect"})
    assert put.json()["label"] == "confirmed_defect" and put.json()["note"] == ""
    assert client.put(f"/v1/products/tile/inspections/{good}/label", json={"label": "missed_defect", "note": "=1+2"}).status_code == 200
    shown = client.get(f"/v1/products/tile/inspections/{crack}").json()
    assert shown["label"]["label"] == "confirmed_defect" and shown["feedback"] is None
    listed = client.get("/v1/products/tile/inspections", params={"label": "missed_defect"}).json()["items"]
    assert [i["id"] for i in listed] == [good] and listed[0]["label"]["note"] == "=1+2"
    assert client.get("/v1/products/tile/stats").json()["labels"] == {"confirmed_defect": 1, "false_alarm": 0, "missed_defect": 1}
    _error(client.put(f"/v1/products/tile/inspections/{good}/label", json={"label": "great"}), 422, "validation_error")
    _error(client.put(f"/v1/products/tile/inspections/{good}/label", json={"label": "false_alarm", "note": "x" * 2001}), 400, "bad_request")
    _error(client.put(f"/v1/products/tile/inspections/{'f' * 32}/label", json={"label": "false_alarm"}), 404, "not_found")
    assert client.get(f"/v1/products/tile/inspections/{good}").json()["label"]["label"] == "missed_defect"  # refusals lost nothing
    # the older feedback route is an alias: a false_alarm label, or none
    second = inspected[1]["id"]
    marked = client.post(f"/v1/products/tile/inspections/{second}/feedback", json={"label": "false_alarm"}).json()
    assert marked["feedback"] == "false_alarm" and marked["label"]["label"] == "false_alarm" and marked["label"]["actor"] == "local"
    cleared = client.post(f"/v1/products/tile/inspections/{second}/feedback", json={"label": None}).json()
    assert cleared["feedback"] is None and cleared["label"] is None
    assert client.put(f"/v1/products/tile/inspections/{second}/label", json={"label": "false_alarm"}).status_code == 200
    assert client.delete(f"/v1/products/tile/inspections/{second}/label").status_code == 204
    assert client.get(f"/v1/products/tile/inspections/{second}").json()["label"] is None
    assert client.put(f"/v1/products/tile/inspections/{second}/label", json={"label": "false_alarm"}).status_code == 200


def test_tune_replay_activate_and_the_history(client, inspected):
    scores = [i["score"] for i in inspected]
    tuning = client.get("/v1/products/tile/tuning").json()
    assert tuning["version"] == 1 and sorted(p["score"] for p in tuning["points"]) == sorted(scores)
    assert tuning["max_score"] == max(scores) and {p["label"] for p in tuning["points"]} >= {"false_alarm", "missed_defect"}
    _error(client.post("/v1/products/tile/fingerprints/1/tune", json={"threshold": 0}), 422, "validation_error")
    _error(client.post("/v1/products/tile/fingerprints/1/tune", json={"threshold": max(scores) * 2}), 409, "confirm_required")
    new = sorted(scores)[2]  # between the scores: some decisions change
    tuned = client.post("/v1/products/tile/fingerprints/1/tune", json={"threshold": new, "reason": "fewer false alarms"})
    assert tuned.status_code == 201, tuned.text
    v2 = tuned.json()
    assert v2["version"] == 2 and not v2["active"] and v2["threshold"] == pytest.approx(new) and v2["threshold_source"] == "tuned"
    assert v2["origin"]["parent_version"] == 1 and v2["origin"]["reason"].endswith(": fewer false alarms") and v2["origin"]["actor"] == "local"
    assert client.get("/v1/products/tile").json()["active_version"] == 1

    job = client.post("/v1/products/tile/fingerprints/2/replay", json={"last": 10})
    assert job.status_code == 202 and job.json()["kind"] == "replay"
    done = wait_job(client, job.json()["id"])
    assert done["state"] == "succeeded", done
    result = done["result"]
    expected = [i for i in inspected if (i["score"] > new) != (i["decision"] == "ANOMALOUS")]
    assert result["compared"] == 5 and result["failed"] == 0 and {c["inspection_id"] for c in result["changes"]} == {i["id"] for i in expected}
    assert result["to_ok"] + result["to_anomalous"] == len(expected)
    _error(client.post("/v1/products/tile/fingerprints/9/replay", json={"last": 10}), 404, "not_found")
    _error(client.post("/v1/products/tile/fingerprints/2/replay", json={"last": 0}), 422, "validation_error")

    assert client.post("/v1/products/tile/fingerprints/2/activate").json()["active"] is True
    assert client.post("/v1/products/tile/fingerprints/1/activate").status_code == 200  # rollback
    history = client.get("/v1/products/tile/activations").json()["items"]
    assert [(a["version"], a["previous_version"], a["actor"]) for a in history] == [(1, 2, "local"), (2, 1, "local"), (1, None, "local")]
    versions = {v["version"]: v for v in client.get("/v1/products/tile/fingerprints").json()["items"]}
    assert versions[1]["origin"] is None and versions[2]["origin"]["parent_version"] == 1


def test_replay_scores_again_with_another_bank(client, inspected, tile_root):
    """A version built from other golden samples has another bank: replay scores the stored images."""
    other = sorted((tile_root / "train" / "good").iterdir())[8:12]
    assert client.post("/v1/products/tile/golden", files=files(other)).status_code == 201
    built = wait_job(client, client.post("/v1/products/tile/fingerprints").json()["id"])
    assert built["state"] == "succeeded", built
    version = built["result"]["version"]
    assert client.post("/v1/products/tile/fingerprints/1/activate").status_code == 200
    done = wait_job(client, client.post(f"/v1/products/tile/fingerprints/{version}/replay", json={"last": 5}).json()["id"])
    threshold, result = done["result"]["threshold"], done["result"]
    assert done["state"] == "succeeded" and result["compared"] == 5 and result["version"] == version
    for change in result["changes"]:
        assert change["decision_after"] == ("ANOMALOUS" if change["score_after"] > threshold else "OK")


def test_export_streams_csv_and_json_with_filters(client, inspected):
    answer = client.get("/v1/products/tile/inspections/export", params={"format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="tile-inspections.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["id"] for r in rows] == [i["id"] for i in inspected]  # oldest first
    assert rows[-1]["filename"] == "'=HYPERLINK(1).jpg" and rows[0]["note"] == "'=1+2"  # no formula runs
    assert rows[0]["label"] == "missed_defect" and rows[0]["labelled_by"] == "local"
    labelled = client.get("/v1/products/tile/inspections/export", params={"format": "json", "label": "confirmed_defect"})
    assert labelled.headers["content-type"] == "application/json"
    assert [i["id"] for i in json.loads(labelled.text)] == [inspected[3]["id"]]
    anomalous = json.loads(client.get("/v1/products/tile/inspections/export", params={"format": "json", "decision": "ANOMALOUS"}).text)
    assert all(i["decision"] == "ANOMALOUS" for i in anomalous)
    empty = client.get("/v1/products/tile/inspections/export", params={"since": "2999-01-01"})
    assert empty.text.strip().split("\r\n") == [",".join(["id", "created_at", "filename", "version", "decision", "score", "threshold", "regions", "batch_id", "label", "note", "labelled_by", "labelled_at"])]
    _error(client.get("/v1/products/tile/inspections/export", params={"since": "yesterday"}), 400, "bad_request")
    _error(client.get("/v1/products/tile/inspections/export", params={"format": "xml"}), 422, "validation_error")
    _error(client.get("/v1/products/nope/inspections/export"), 404, "not_found")


def test_who_is_the_key_tenant_and_label():
    key = ApiKey(key_hash="ab" * 32, tenant="plant-a", label="line-3", created_at="t")
    assert actor_of(key) == "plant-a/line-3" and actor_of(key.model_copy(update={"label": ""})) == "plant-a/key abababab"
    assert actor_of(None) == "local"
