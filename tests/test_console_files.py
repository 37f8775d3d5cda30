"""The console's files: its own URLs get index.html (the browser router takes over), nothing else does."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.ingest.app import ConsoleFiles


def test_console_urls_get_the_index_and_other_misses_stay_404(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    app = FastAPI()
    app.mount("/", ConsoleFiles(directory=tmp_path, html=True), name="console")
    client = TestClient(app)

    for url in ("/", "/setup", "/setup/tile/versions/2", "/inspect/tile/abc", "/analytics/tile"):
        r = client.get(url)
        assert r.status_code == 200 and "id=root" in r.text, url
    assert client.get("/assets/app.js").text == "console.log(1)"
    for url in ("/assets/gone.js", "/v1/nothing", "/setupx"):
        assert client.get(url).status_code == 404, url
