"""`sketchtool serve`: the API through Starlette's test client on good, empty, degenerate and hostile input
(pictures to vectorize included), the Host/Origin guards, the concurrency bound, a real server stopped by
SIGTERM/Ctrl-C, and a real browser (Debian's chromium + chromium-driver through selenium) drawing, completing,
downloading and vectorizing."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="sketchtool serve needs the serve extra (starlette, uvicorn)")
pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2")

from starlette.testclient import TestClient  # noqa: E402

from sketchtool.serve import api  # noqa: E402
from sketchtool.serve.api import Limits  # noqa: E402
from sketchtool.serve.app import create_app  # noqa: E402
from sketchtool.errors import SketchtoolError  # noqa: E402
from sketchtool.serve.catalog import load_catalog  # noqa: E402

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


def circle(cx=300.0, cy=200.0, r=50.0, k=30) -> list[list[float]]:
    t = np.linspace(0, 2 * np.pi, k)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)].round(2).tolist()


LINE_ART = [circle(150, 95, 60, 60), [[30, 175], [270, 175]], [[40, 20], [70, 60], [100, 20]]]  # picture px


def line_art(size=(300, 200), strokes=LINE_ART, width=3.0) -> tuple[bytes, np.ndarray]:
    """A PNG of dark `strokes` on white (drawn by our rasteriser) and its ink, (H, W) in [0, 1]."""
    from PIL import Image

    from sketchtool.raster import rasterize

    w, h = size
    ink = rasterize([np.array(s, float) for s in strokes], size=(h, w), view=(0, 0, w, h), padding=0, line_width=width)
    buffer = io.BytesIO()
    Image.fromarray(np.round(255 - ink * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue(), ink


def data_url(data: bytes, media: str = "image/png") -> str:
    import base64

    return f"data:{media};base64," + base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def client(catalog):
    with TestClient(create_app(catalog, port=PORT), base_url=BASE) as c:
        yield c


def refused(response, status: int) -> str:
    """The JSON error reply every refusal gives: the status, one line, no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and "\n" not in body["error"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["error"]


# --- good input ----------------------------------------------------------------------------------------------
def test_page_and_its_files_are_served_with_security_headers_and_no_cors(client):
    page = client.get("/", headers={"origin": BASE})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/app.js"' in page.text and 'href="/style.css"' in page.text
    assert "http" not in re.sub(r"<!--.*?-->", "", page.text).replace("http-equiv", "")  # nothing from a CDN
    for path, media in (("/app.js", "javascript"), ("/style.css", "text/css")):
        r = client.get(path)
        assert r.status_code == 200 and media in r.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not any(h.startswith("access-control-") for h in page.headers)


def test_models_lists_the_embedded_models_limits_and_download_choices(client):
    body = client.get("/api/models").json()
    ids = [m["id"] for m in body["models"]]
    assert body["default"] == "sheep" and ids[0] == "sheep"
    sheep = body["models"][0]
    assert {"generate", "complete", "encode"} <= set(sheep["capabilities"]) and sheep["output"] == "strokes"
    assert body["limits"]["max_points"] == Limits().max_points
    assert "grbl-servo" in body["profiles"] and "A4" in body["papers"]
    assert body["vectorize"] == {"methods": ["skeleton", "agent"], "models": ["vectorizer"]}
    vectorizer = next(m for m in body["models"] if m["id"] == "vectorizer")
    assert vectorizer["capabilities"] == ["vectorize"] and vectorizer["input"] == "images"


def test_complete_is_complete_polylines_in_the_page_coordinates(client, catalog):
    from sketchtool.prepare import complete_polylines
    from sketchtool.sampling import SampleOptions

    stroke = circle()
    r = client.post("/api/complete", json={"strokes": [stroke], "n": 3, "seed": 7, "temperature": 0.3})
    assert r.status_code == 200, r.text
    endings = r.json()["endings"]
    assert len(endings) == 3 and any(len(e) for e in endings)
    served = catalog.get("sheep")
    direct = complete_polylines([np.array(stroke)], served.model, served.info, 3,
                                SampleOptions(temperature=0.3, seed=7, precision="fp32"))
    for got, want in zip(endings, direct.endings):  # the same library call, only rounded to 0.01 px
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=0.006)
    given = np.concatenate([np.array(p) for p in r.json()["given"]])
    assert np.abs(given - [300, 200]).max() < 51  # the input, as the model read it, where it was drawn


def test_completion_follows_the_drawing_when_it_moves_on_the_page(client):
    ask = {"n": 2, "seed": 3}
    here = client.post("/api/complete", json={**ask, "strokes": [circle()]}).json()["endings"]
    there = client.post("/api/complete", json={**ask, "strokes": [circle(cx=1300, cy=700)]}).json()["endings"]
    assert any(len(e) for e in here)
    for a, b in zip(here, there):
        for p, q in zip(a, b):
            np.testing.assert_allclose(np.array(q) - p, np.broadcast_to([1000, 500], np.shape(p)), atol=0.02)


def test_the_same_seed_gives_the_same_endings_and_another_seed_others(client):
    ask = {"strokes": [circle()], "n": 2}
    first = client.post("/api/complete", json={**ask, "seed": 11}).json()
    assert client.post("/api/complete", json={**ask, "seed": 11}).json() == first
    assert client.post("/api/complete", json={**ask, "seed": 12}).json() != first


def test_variety_is_the_z_temperature_of_generate_and_complete(client, catalog):
    from sketchtool.prepare import complete_polylines
    from sketchtool.sampling import SampleOptions, generate
    from sketchtool.strokes import stroke3_to_polylines

    served = catalog.get("sheep")
    sheep = client.get("/api/models").json()["models"][0]
    assert sheep["z_temperature"] == served.model.default_z_temperature == 0.6
    ask = {"n": 3, "seed": 4}
    default = client.post("/api/generate", json=ask).json()["drawings"]
    assert client.post("/api/generate", json={**ask, "z_temperature": 0.6}).json()["drawings"] == default
    wide = client.post("/api/generate", json={**ask, "z_temperature": 1.0}).json()["drawings"]
    assert wide != default
    direct = generate(served.model, served.info, 3, SampleOptions(seed=4, z_temperature=1.0, precision="fp32"))
    for got, drawing in zip(wide, direct):  # the library's drawings at that z temperature, as polylines
        want = stroke3_to_polylines(drawing)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=0.006)
    stroke = circle()
    r = client.post("/api/complete", json={"strokes": [stroke], "n": 2, "seed": 7, "z_temperature": 1.0})
    want = complete_polylines([np.array(stroke)], served.model, served.info, 2,
                              SampleOptions(seed=7, z_temperature=1.0, precision="fp32"))
    for got, ending in zip(r.json()["endings"], want.endings):
        assert len(got) == len(ending)
        for g, w in zip(got, ending):
            np.testing.assert_allclose(g, w, atol=0.006)


def test_generate_returns_n_drawings_and_interpolate_runs_from_a_to_b(client):
    r = client.post("/api/generate", json={"n": 4, "seed": 1, "model": "kanji"})
    assert r.status_code == 200 and len(r.json()["drawings"]) == 4
    assert all(len(d) and len(d[0][0]) == 2 for d in r.json()["drawings"])
    a, b = [circle()], [[[0, 0], [200, 200]], [[0, 200], [200, 0]]]
    r = client.post("/api/interpolate", json={"a": a, "b": b, "steps": 4, "seed": 2, "temperature": 0.05})
    rows = r.json()["drawings"]
    assert r.status_code == 200 and len(rows) == 4 and rows[0] != rows[-1]


def test_a_default_model_the_page_cannot_draw_with_is_refused_at_start():
    """--model vectorizer started a page whose default model was not among those it served."""
    with pytest.raises(SketchtoolError, match="--model vectorizer: the page cannot draw with it"):
        load_catalog("vectorizer")


def test_runs_found_at_start_up_are_offered_by_id_and_a_broken_one_is_skipped(tiny_model, tmp_path):
    (tmp_path / "tiny").symlink_to(tiny_model, target_is_directory=True)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "latest.pt").write_bytes(b"not a checkpoint")
    skipped = []
    catalog = load_catalog(runs=tmp_path, on_skip=skipped.append)
    assert "runs/tiny" in catalog.models and "runs/broken" not in catalog.models
    assert len(skipped) == 1 and "broken" in skipped[0]
    with TestClient(create_app(catalog, port=PORT), base_url=BASE) as c:
        ids = [m["id"] for m in c.get("/api/models").json()["models"]]
        assert ids[0] == "sheep" and "runs/tiny" in ids
        r = c.post("/api/complete", json={"model": "runs/tiny", "strokes": [circle()], "n": 2, "seed": 0})
        assert r.status_code == 200 and len(r.json()["endings"]) == 2
        refused(c.post("/api/complete", json={"model": str(tiny_model), "strokes": [circle()]}), 404)  # never a path


def test_a_run_given_as_model_and_found_in_runs_is_listed_once(tiny_model, tmp_path):
    (tmp_path / "tiny").symlink_to(tiny_model, target_is_directory=True)
    for given in (tmp_path / "tiny", tmp_path / "tiny" / "latest.pt"):
        catalog = load_catalog(str(given), runs=tmp_path)
        runs = [i for i, m in catalog.models.items() if m.source == "run"]
        assert runs == [catalog.default], runs  # was also listed as runs/tiny


def test_image_models_answer_with_png_images(catalog):
    from toy_models import PixelBernoulli, PixelBernoulliHParams

    from sketchtool.dataspec import DataSpec
    from sketchtool.serve.catalog import Catalog, ServedModel

    model = PixelBernoulli(PixelBernoulliHParams(), DataSpec(kind="images", image_shape=(8, 8))).eval()
    info = type("Info", (), {"class_names": [], "spec": model.spec, "path": "toy"})()
    toy = Catalog({"toy": ServedModel("toy", "toy", "run", model, info)}, default="toy")
    with TestClient(create_app(toy, port=PORT), base_url=BASE) as c:
        toy_listing = c.get("/api/models").json()["models"][0]
        assert toy_listing["output"] == "images" and toy_listing["z_temperature"] is None
        assert "no random latents" in refused(c.post("/api/generate", json={"n": 1, "z_temperature": 0.5}), 400)
        r = c.post("/api/generate", json={"n": 3, "seed": 0})
        assert r.status_code == 200, r.text
        from PIL import Image
        import base64
        images = r.json()["images"]
        assert len(images) == 3
        png = Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1])))
        assert png.size == (8, 8)
        refused(c.post("/api/complete", json={"strokes": [circle()]}), 422)  # an image model cannot complete


@pytest.mark.parametrize("method, size, scale, width, tolerance, f1", [
    ("skeleton", (300, 200), 1.0, 3.0, 2.0, 0.95),
    # the embedded agent reads pictures fitted to 28 pixels, where its training lines were 1.5 wide: within
    # two of its pixels (8 picture px) its strokes cover the ink (docs/BENCHMARKS.md)
    ("agent", (112, 112), 0.37, 6.0, 8.0, 0.85),
])
def test_vectorize_puts_a_pictures_strokes_on_its_ink_fitted_into_the_canvas(client, catalog, method, size, scale,
                                                                            width, tolerance, f1):
    from sketchtool.vectorize import decode_picture, render_polylines, score_reconstruction, vectorize

    png, ink = line_art(size, [np.array(s) * scale + [0, 19 * (scale < 1)] for s in LINE_ART], width)
    r = client.post("/api/vectorize", json={"picture": data_url(png), "method": method, "width": 640, "height": 480})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == method and body["picture"] == list(size)
    assert body["model"] == ("vectorizer" if method == "agent" else None)
    got = [np.array(s) for s in body["strokes"]]
    assert got and all(s.ndim == 2 and s.shape[1] == 2 for s in got)
    # the library's strokes (what `sketchtool vectorize` writes), in the picture's pixels ...
    agent = catalog.get("vectorizer").model if method == "agent" else None
    [traced] = vectorize([decode_picture(png)], method=method, model=agent)
    want = traced.polylines
    assert [len(s) for s in got] == [len(s) for s in want]
    # ... scaled with their aspect kept and centred in the 640 x 480 canvas, filling it but for the margin
    lo, hi = np.concatenate(got).min(0), np.concatenate(got).max(0)
    wlo, whi = np.concatenate(want).min(0), np.concatenate(want).max(0)
    scale = (hi - lo) / (whi - wlo)
    assert scale[0] == pytest.approx(scale[1], rel=1e-3)
    np.testing.assert_allclose((lo + hi) / 2, [320, 240], atol=0.02)
    margin = api.FIT_MARGIN * 480
    assert max((hi - lo) / [640 - 2 * margin, 480 - 2 * margin]) == pytest.approx(1, abs=1e-3)
    back = [(s - (lo + hi) / 2) / scale[0] + (wlo + whi) / 2 for s in got]
    for b, w in zip(back, want):
        np.testing.assert_allclose(b, w, atol=0.02)
    # ... and on the picture's ink, measured through the real rasteriser
    score = score_reconstruction(ink, render_polylines(back, size, width), tolerance=tolerance)
    assert score["f1"] > f1, score


def test_vectorize_reads_jpeg_and_plain_base64_and_traces_finer_on_a_larger_canvas(client):
    import base64

    from PIL import Image

    png, _ = line_art()
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, format="JPEG", quality=90)
    r = client.post("/api/vectorize", json={"picture": base64.b64encode(jpeg.getvalue()).decode()})
    assert r.status_code == 200 and r.json()["method"] == "skeleton" and r.json()["strokes"], r.text
    coarse = client.post("/api/vectorize", json={"picture": data_url(png), "size": 32}).json()["strokes"]
    fine = client.post("/api/vectorize", json={"picture": data_url(png), "size": 256}).json()["strokes"]
    assert sum(map(len, fine)) > sum(map(len, coarse))


def test_vectorize_draws_the_agents_strokes_as_asked_and_fits_them_to_the_picture(client, catalog):
    """`strokes` and `refine` reach the library as `sketchtool vectorize --strokes --refine` gives them."""
    from sketchtool.vectorize import decode_picture, vectorize

    png, _ = line_art((112, 112), [np.array(s) * 0.37 + [0, 19] for s in LINE_ART], 6.0)
    agent = catalog.get("vectorizer").model
    for fields in ({"strokes": 3}, {"strokes": 3, "refine": 5}):
        r = client.post("/api/vectorize", json={"picture": data_url(png), "method": "agent", **fields})
        assert r.status_code == 200, r.text
        [want] = vectorize([decode_picture(png)], method="agent", model=agent, **fields)
        assert [len(s) for s in r.json()["strokes"]] == [len(s) for s in want.polylines if len(s)], fields
    plain, refined = (client.post("/api/vectorize", json={"picture": data_url(png), "method": "agent", "strokes": 3,
                                                          "refine": k}).json()["strokes"] for k in (0, 5))
    assert plain != refined  # refining moved the strokes


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds none: a decompression bomb's header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


PICTURE_KINDS = ("white", "black", "grey", "gif", "truncated", "text", "svg", "bomb", "big")


def _picture(kind: str) -> str:
    from PIL import Image

    png, _ = line_art()
    if kind in ("white", "black", "grey"):
        buffer = io.BytesIO()
        Image.new("L", (40, 30), {"white": 255, "black": 0, "grey": 128}[kind]).save(buffer, format="PNG")
        return data_url(buffer.getvalue())
    if kind == "gif":
        buffer = io.BytesIO()
        Image.open(io.BytesIO(png)).save(buffer, format="GIF")
        return data_url(buffer.getvalue(), "image/gif")
    return data_url({"truncated": png[: len(png) // 2], "text": b"hello, not a picture", "svg": b"<svg/>",
                     "bomb": png_header(100_000, 100_000), "big": png_header(4001, 4000)}[kind])


VECTORIZE_REFUSALS = [
    # (request fields, status, words of the message); "picture" names a `_picture` kind
    ({"picture": None}, 400, "picture: expected a PNG or JPEG"),
    ({"picture": 12}, 400, "picture: expected"),
    ({"picture": "/etc/passwd"}, 400, "not valid base64"),
    ({"picture": "data:image/png,rawbytes"}, 400, "base64 data: URL"),
    ({"picture": "!!!!"}, 400, "not valid base64"),
    ({"picture": "text"}, 400, "the picture: unreadable image (not a PNG or JPEG picture)"),
    ({"picture": "svg"}, 400, "not a PNG or JPEG picture"),
    ({"picture": "gif"}, 400, "not a PNG or JPEG picture"),
    ({"picture": "truncated"}, 400, "the picture: unreadable image"),
    ({"picture": "bomb"}, 413, "larger than Pillow's decompression-bomb limit"),  # Pillow's own check comes first
    ({"picture": "big"}, 413, "4001x4000 pixels is more than 16,000,000"),
    ({"picture": "white"}, 422, "no ink found"),
    ({"picture": "black"}, 422, "no ink found"),
    ({"picture": "grey"}, 422, "no ink found"),
    ({"method": "magic"}, 400, "method: expected one of agent, skeleton"),
    ({"method": ["skeleton"]}, 400, "method: expected one of"),
    ({"method": "agent", "model": "sheep"}, 422, "model 'sheep' cannot vectorize"),
    ({"method": "agent", "model": "nope"}, 404, "not served here"),
    ({"method": "agent", "model": "sketchtool/pretrained/vectorizer.pt"}, 404, "not served here"),
    ({"method": "agent", "size": 64}, 400, "size: the agent draws on its own canvas"),
    ({"size": 100_000}, 413, "size 100000: must be from 8 to 512"),
    ({"size": 2}, 400, "size 2: must be from 8 to 512"),
    ({"size": "big"}, 400, "size: expected a whole number"),
    ({"strokes": 4}, 400, "strokes: the skeleton tracer draws the strokes a picture needs"),
    ({"refine": 10}, 400, "refine: refining fits an agent's strokes"),
    ({"method": "agent", "strokes": 0}, 400, "strokes 0: must be from 1 to 32"),
    ({"method": "agent", "strokes": 33}, 413, "strokes 33: must be from 1 to 32"),
    ({"method": "agent", "strokes": 2.5}, 400, "strokes: expected a whole number"),
    ({"method": "agent", "refine": 61}, 413, "refine 61: must be from 0 to 60"),
    ({"method": "agent", "refine": -1}, 400, "refine -1: must be from 0 to 60"),
    ({"width": 0}, 400, "width: expected a number of page pixels"),
    ({"height": "tall"}, 400, "height: expected a number"),
    ({"width": 1e9}, 400, "width: expected a number"),
]


@pytest.mark.parametrize("fields, status, words", VECTORIZE_REFUSALS,
                         ids=[f"{i}:{str(f)[:40]}" for i, (f, _, _) in enumerate(VECTORIZE_REFUSALS)])
def test_vectorize_refuses_what_it_cannot_trust_with_its_status_and_one_line(client, fields, status, words):
    body = {"picture": data_url(line_art()[0]), **fields}
    if body["picture"] in PICTURE_KINDS:
        body["picture"] = _picture(body["picture"])
    assert words in refused(client.post("/api/vectorize", json=body), status)


def test_vectorize_refuses_a_picture_over_its_byte_cap_before_reading_it(catalog):
    png, _ = line_art()
    limits = Limits(max_picture=len(png) - 1)
    with TestClient(create_app(catalog, limits, port=PORT), base_url=BASE) as c:
        text = refused(c.post("/api/vectorize", json={"picture": data_url(png)}), 413)
        assert f"larger than {len(png) - 1:,} bytes" in text
        body = json.dumps({"picture": "A" * limits.max_picture_body}).encode()
        assert "request body is larger than" in refused(
            c.post("/api/vectorize", content=body, headers={"content-type": "application/json"}), 413)
        refused(c.post("/api/vectorize", content=png, headers={"content-type": "image/png"}), 415)
        refused(c.post("/api/vectorize", files={"picture": ("a.png", png, "image/png")}), 415)  # a plain form
    with TestClient(create_app(catalog, Limits(max_strokes=2), port=PORT), base_url=BASE) as c:  # LINE_ART: 3
        assert "traced to 3 strokes" in refused(c.post("/api/vectorize", json={"picture": data_url(png)}), 422)


def test_without_a_vectorizing_model_only_the_skeleton_tracer_is_offered(catalog):
    from sketchtool.serve.catalog import Catalog

    drawing_only = Catalog({"sheep": catalog.get("sheep")}, default="sheep")
    with TestClient(create_app(drawing_only, port=PORT), base_url=BASE) as c:
        assert c.get("/api/models").json()["vectorize"] == {"methods": ["skeleton"], "models": []}
        png, _ = line_art()
        assert c.post("/api/vectorize", json={"picture": data_url(png)}).status_code == 200
        text = refused(c.post("/api/vectorize", json={"picture": data_url(png), "method": "agent"}), 422)
        assert "no model served here can vectorize" in text


@pytest.mark.parametrize("fmt", ["svg", "png", "gcode", "npz"])
def test_export_writes_the_drawing_with_the_cli_writers(client, fmt):
    strokes = [circle(), [[100, 100], [400, 120]]]
    r = client.post("/api/export", json={"strokes": strokes, "format": fmt, "profile": "grbl-z", "paper": "A5"})
    assert r.status_code == 200, r.text
    assert f'filename="drawing.{fmt}"' in r.headers["content-disposition"]
    if fmt == "svg":
        assert len(re.findall(r"<(?:path|polyline)\b", r.text)) == 2
    elif fmt == "png":
        from PIL import Image
        image = Image.open(io.BytesIO(r.content))
        assert image.size[0] >= 300  # the drawing at its own size plus the margin
    elif fmt == "gcode":
        assert "grbl-z" in r.text and re.search(r"paper (148x210|210x148) mm", r.text) and re.search(r"^G1 ", r.text, re.M)
    else:
        from sketchtool.formats import read_drawings
        from sketchtool.strokes import polylines_to_stroke3

        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"serve-test-{os.getpid()}.npz"
        path.write_bytes(r.content)
        try:
            (drawing,) = read_drawings(path)
        finally:
            path.unlink()
        np.testing.assert_allclose(drawing, polylines_to_stroke3([np.array(s) for s in strokes]), atol=1)


def test_a_single_dot_is_completed_as_a_drawing(client):
    r = client.post("/api/complete", json={"strokes": [[[5, 5]]], "n": 2, "seed": 1})
    assert r.status_code == 200 and r.json()["given"] == [[[5.0, 5.0]]]


# --- empty, degenerate and hostile input ---------------------------------------------------------------------
HUGE = "[" * 100_000 + "]" * 100_000
HOSTILE = [
    # (path, JSON body or raw bytes, status)
    ("/api/complete", b"", 400),
    ("/api/complete", b"[]", 400),
    ("/api/complete", b"{not json", 400),
    ("/api/complete", b"\xff\xfe", 400),
    ("/api/complete", HUGE.encode(), 400),
    ("/api/complete", b'{"strokes": [[[NaN, 1]]]}', 400),
    ("/api/complete", b'{"strokes": [[[Infinity, 1]]]}', 400),
    ("/api/complete", b'{"strokes": [[[1e400, 1]]]}', 400),
    ("/api/complete", {"strokes": [[[1e7, 1]]]}, 400),
    ("/api/complete", b'{"strokes": [[[' + b"1" * 400 + b', 1]]]}', 400),  # an int no float can hold
    ("/api/export", b'{"strokes": [[[2, -' + b"9" * 400 + b']]]}', 400),
    ("/api/complete", {}, 400),
    ("/api/complete", {"strokes": []}, 422),
    ("/api/complete", {"strokes": [[], []]}, 422),
    ("/api/complete", {"strokes": "circle"}, 400),
    ("/api/complete", {"strokes": [[["1", "2"]]]}, 400),
    ("/api/complete", {"strokes": [[[True, 2]]]}, 400),
    ("/api/complete", {"strokes": [[[1, 2, 3]]]}, 400),
    ("/api/complete", {"strokes": [[1, 2]]}, 400),
    ("/api/complete", {"strokes": [[[i % 500, i // 500] for i in range(100_000)]]}, 413),
    ("/api/complete", {"strokes": [[[1, 1]]] * 5000}, 413),
    ("/api/complete", {"strokes": [circle()], "n": 1000}, 413),
    ("/api/complete", {"strokes": [circle()], "n": 0}, 400),
    ("/api/complete", {"strokes": [circle()], "n": "3"}, 400),
    ("/api/complete", {"strokes": [circle()], "n": 2.5}, 400),
    ("/api/complete", {"strokes": [circle()], "temperature": -1}, 400),
    ("/api/complete", {"strokes": [circle()], "temperature": "hot"}, 400),
    ("/api/complete", {"strokes": [circle()], "temperature": 1e9}, 400),
    ("/api/complete", {"strokes": [circle()], "z_temperature": -0.1}, 400),
    ("/api/complete", {"strokes": [circle()], "z_temperature": "wide"}, 400),
    ("/api/complete", {"strokes": [circle()], "z_temperature": True}, 400),
    ("/api/generate", {"z_temperature": 1e9}, 400),
    ("/api/interpolate", {"a": [circle()], "b": [circle()], "z_temperature": 1.0}, 400),
    ("/api/complete", {"strokes": [circle()], "seed": -1}, 400),
    ("/api/complete", {"strokes": [circle()], "seed": 2**70}, 413),
    ("/api/complete", {"strokes": [circle()], "class": "wolf"}, 400),
    ("/api/complete", {"strokes": [circle()], "model": "nope"}, 404),
    ("/api/complete", {"strokes": [circle()], "model": "/work/shared/runs/x"}, 404),
    ("/api/complete", {"strokes": [circle()], "model": "../../etc/passwd"}, 404),
    ("/api/complete", {"strokes": [circle()], "model": ["sheep"]}, 400),  # a wrong type: 404 "model 'list'"
    ("/api/generate", {"model": 5}, 400),
    ("/api/generate", {"n": 10_000}, 413),
    ("/api/generate", {"n": None}, 400),
    ("/api/generate", {"model": {"path": "/etc/passwd"}}, 400),
    ("/api/interpolate", {"a": [circle()]}, 400),
    ("/api/interpolate", {"a": [circle()], "b": [], "steps": 4}, 422),
    ("/api/interpolate", {"a": [circle()], "b": [circle()], "steps": 1}, 400),
    ("/api/interpolate", {"a": [circle()], "b": [circle()], "steps": 10_000}, 413),
    ("/api/export", {"strokes": [], "format": "svg"}, 422),
    ("/api/export", {"strokes": [circle()], "format": "exe"}, 400),
    ("/api/export", {"strokes": [circle()], "format": "gcode", "profile": "/etc/passwd"}, 400),
    ("/api/export", {"strokes": [circle()], "format": "gcode", "paper": "1000x1000mm"}, 400),
]


@pytest.mark.parametrize("path, body, status", HOSTILE,
                         ids=[f"{i}:{p}:{str(b)[:40]}" for i, (p, b, _) in enumerate(HOSTILE)])
def test_bad_requests_get_a_json_error_with_their_status(client, path, body, status):
    if isinstance(body, bytes):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        r = client.post(path, json=body)
    refused(r, status)


def test_an_oversized_body_is_refused_before_it_is_read(client):
    body = b'{"strokes": [[' + b"[1, 1]," * 400_000 + b"[1, 1]]]}"
    assert len(body) > Limits().max_body
    assert "larger than" in refused(client.post("/api/complete", content=body,
                                                headers={"content-type": "application/json"}), 413)

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b" " * 50_000
    refused(client.post("/api/complete", content=chunks(), headers={"content-type": "application/json"}), 413)


def test_only_json_posts_and_known_routes_are_answered(client):
    refused(client.post("/api/complete", content=b"strokes=1", headers={"content-type": "text/plain"}), 415)
    refused(client.post("/api/complete", data={"strokes": "1"}), 415)  # a plain HTML form
    refused(client.get("/api/complete"), 405)
    refused(client.get("/api/nothing"), 404)
    refused(client.get("/static/../../../etc/passwd"), 404)
    refused(client.get("/%2e%2e/%2e%2e/etc/passwd"), 404)


# --- Host and Origin: DNS rebinding and other sites' pages -------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"host": "evil.example"},
    {"host": "evil.example:8765"},
    {"host": "127.0.0.1:9999"},  # another port: another service's page
    {"host": "127.0.0.1.evil.example:8765"},
    {"host": ""},
    {"host": "user@127.0.0.1:8765"},
    {"origin": "http://evil.example"},
    {"origin": "http://evil.example:8765"},
    {"origin": "null"},
    {"origin": "https://127.0.0.1:8765"},
    {"origin": "http://localhost:9999"},
], ids=lambda h: f"{next(iter(h))}={next(iter(h.values()))}")
def test_foreign_host_or_origin_is_refused_on_every_route(client, headers):
    for method, path in (("GET", "/"), ("GET", "/api/models"), ("POST", "/api/complete"), ("OPTIONS", "/api/complete")):
        r = client.request(method, path, headers=headers, json={"strokes": [circle()]} if method == "POST" else None)
        refused(r, 403)
        assert not any(h.startswith("access-control-") for h in r.headers)


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765"])
def test_the_page_s_own_addresses_are_accepted(client, host):
    scheme_host = host.lower()
    r = client.post("/api/complete", headers={"host": host, "origin": f"http://{scheme_host}"},
                    json={"strokes": [circle()], "n": 1, "seed": 0})
    assert r.status_code == 200, r.text


# --- concurrency ---------------------------------------------------------------------------------------------
def test_inference_runs_off_the_event_loop_and_is_bounded(catalog, monkeypatch):
    """With one slot, another model call waits (here past its queue timeout: 503) while the page and the
    model list still answer at once: the event loop is never blocked by a model call."""
    started, release = threading.Event(), threading.Event()

    def slow_generate(catalog, payload, limits):
        started.set()
        release.wait(30)
        return {"drawings": []}

    monkeypatch.setattr(api, "generate", slow_generate)
    app = create_app(catalog, Limits(concurrency=1, queue_timeout=0.5), port=PORT)
    with TestClient(app, base_url=BASE) as c:
        results = {}
        first = threading.Thread(target=lambda: results.setdefault("first", c.post("/api/generate", json={})))
        first.start()
        assert started.wait(30)
        assert c.get("/api/models").status_code == 200  # answered while the model call runs
        refused(c.post("/api/complete", json={"strokes": [circle()]}), 503)
        refused(c.post("/api/generate", json={}), 503)
        refused(c.post("/api/vectorize", json={"picture": data_url(line_art()[0])}), 503)
        release.set()
        first.join(30)
        assert results["first"].status_code == 200


def test_waiting_completions_are_decoded_together_each_in_its_own_coordinates(catalog, monkeypatch):
    """While the only slot is busy, completions queue up; the next slot decodes all of the same kind in one
    batch, and each request still gets its own drawing's endings where its drawing is: the same endings that it
    gets alone."""
    batches, release = [], threading.Event()
    real = api.run_completions

    def counted(jobs):
        batches.append(len(jobs))
        if len(batches) == 1:
            release.wait(30)
        return real(jobs)

    monkeypatch.setattr(api, "run_completions", counted)
    app = create_app(catalog, Limits(concurrency=1), port=PORT)
    places = [(300, 200), (1300, 200), (300, 900), (5000, 5000)]
    with TestClient(app, base_url=BASE) as c:
        results = {}

        def ask(k, cx, cy):
            results[k] = c.post("/api/complete", json={"strokes": [circle(cx, cy)], "n": 2, "seed": 10 + k})

        first = threading.Thread(target=ask, args=(-1, 0, 0))
        first.start()
        for _ in range(3000):
            if batches:
                break
            time.sleep(0.01)
        others = [threading.Thread(target=ask, args=(k, *xy)) for k, xy in enumerate(places)]
        for t in others:
            t.start()
        time.sleep(1.0)  # let all four reach the queue
        release.set()
        for t in [first, *others]:
            t.join(120)
        alone = [c.post("/api/complete", json={"strokes": [circle(*xy)], "n": 2, "seed": 10 + k}).json()
                 for k, xy in enumerate(places)]
    assert batches == [1, 4, 1, 1, 1, 1]
    for k, (cx, cy) in enumerate(places):
        body = results[k].json()
        # each ending has its own seeded stream, so batching changes nothing but the matmuls' rounding
        assert body["given"] == alone[k]["given"] and len(body["endings"]) == len(alone[k]["endings"])
        for ours, theirs in zip(body["endings"], alone[k]["endings"]):
            assert [len(p) for p in ours] == [len(p) for p in theirs]
            assert all(np.allclose(p, q, atol=0.1) for p, q in zip(ours, theirs))
        assert results[k].status_code == 200 and len(body["endings"]) == 2
        given = np.concatenate([np.array(p) for p in body["given"]])
        assert np.abs(given - [cx, cy]).max() < 51
        drawn = [np.array(p) for e in body["endings"] for p in e]
        assert drawn and all(np.abs(p - [cx, cy]).max() < 1000 for p in drawn)  # near its own drawing


def test_a_large_drawing_downloads_as_a_png_scaled_to_fit(client):
    """A drawing 40,000 px wide was refused; one 10,000 px square took 7 s and 790 MB of the server's memory."""
    from PIL import Image

    for strokes, size in (([[[0, 0], [40000, 100]]], (4096, 12)), ([[[0, 0], [9980, 9980]]], (4096, 4096)),
                          ([[[0, 0], [300, 200]]], (320, 220))):  # a canvas-sized drawing at its own size
        r = client.post("/api/export", json={"strokes": strokes, "format": "png"})
        assert r.status_code == 200, r.text
        with Image.open(io.BytesIO(r.content)) as image:
            assert image.size == size


def test_a_model_that_needs_conditions_is_not_listed_for_generate():
    """/api/generate sends no conditions, so a chairs generator always answered 422 while listed as generating."""
    from sketchtool.dataspec import DataSpec
    from sketchtool.models.chairs import Chairs, ChairsHParams
    from sketchtool.serve.catalog import Catalog, ServedModel

    spec = DataSpec(kind="images", class_names=["a", "b"], image_shape=(8, 8), conditions={"view": 2, "transform": 5})
    model = Chairs(ChairsHParams(fc_size=8, joint_size=8, start_channels=4, nkerns=[4]), spec).eval()
    info = type("Info", (), {"class_names": ["a", "b"], "spec": spec, "path": "chairs"})()
    chairs = Catalog({"chairs": ServedModel("chairs", "chairs", "run", model, info)}, default="chairs")
    assert not chairs.can("generate")
    with TestClient(create_app(chairs, port=PORT), base_url=BASE) as c:
        assert "generate" not in c.get("/api/models").json()["models"][0]["capabilities"]
        assert "cannot generate here" in refused(c.post("/api/generate", json={"n": 1}), 422)


def test_a_client_leaving_mid_body_is_no_internal_error(catalog, caplog):
    """The disconnect was logged as 'internal error in /api/generate' with a ClientDisconnect traceback."""
    import asyncio

    app = create_app(catalog, port=PORT)
    scope = {"type": "http", "method": "POST", "path": "/api/generate", "raw_path": b"/api/generate",
             "query_string": b"", "scheme": "http", "server": ("127.0.0.1", PORT), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", f"127.0.0.1:{PORT}".encode()), (b"content-type", b"application/json")],
             "http_version": "1.1", "root_path": ""}
    events = iter([{"type": "http.request", "body": b'{"n": ', "more_body": True}, {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(events)

    async def send(message):
        sent.append(message)

    with caplog.at_level("INFO"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert "internal error" not in caplog.text and "ClientDisconnect" not in caplog.text


def test_a_body_that_stalls_is_a_408_not_a_held_connection(catalog):
    """A client that sent part of a body and then nothing kept its connection (and a worker) for ever."""
    import asyncio

    app = create_app(catalog, Limits(body_timeout=0.2), port=PORT)
    scope = {"type": "http", "method": "POST", "path": "/api/generate", "raw_path": b"/api/generate",
             "query_string": b"", "scheme": "http", "server": ("127.0.0.1", PORT), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", f"127.0.0.1:{PORT}".encode()), (b"content-type", b"application/json")],
             "http_version": "1.1", "root_path": ""}
    first = [{"type": "http.request", "body": b'{"n": ', "more_body": True}]
    sent = []

    async def receive():
        if first:
            return first.pop()
        await asyncio.sleep(3600)  # the rest never comes

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    assert sent[0]["status"] == 408 and b"did not arrive within 0.2 s" in sent[1]["body"]


def test_an_internal_error_is_a_json_500_without_traceback(catalog, monkeypatch):
    def broken(catalog, payload, limits):
        raise ZeroDivisionError("secret detail")

    monkeypatch.setattr(api, "generate", broken)
    with TestClient(create_app(catalog, port=PORT), base_url=BASE) as c:
        text = refused(c.post("/api/generate", json={}), 500)
        assert "secret detail" not in text and "ZeroDivisionError" in text


# --- the real server: start, serve, stop -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sketchtool", "serve", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()  # printed once the models are loaded and the port is bound
    if f":{port}/" not in line:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.stderr.read()}")
    return proc, re.search(r"http://\S+", line).group(0)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_the_server_prints_its_url_answers_and_stops_cleanly(sig):
    proc, url = start_server()
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/models", timeout=30) as r:
            assert json.load(r)["default"] == "sheep"
        request = urllib.request.Request(url + "api/complete", method="POST",
                                         data=json.dumps({"strokes": [circle()], "n": 1, "seed": 0}).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert len(json.load(r)["endings"]) == 1
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped." in out and "Traceback" not in err


def test_another_address_needs_the_explicit_flag_and_prints_a_warning():
    from click.testing import CliRunner

    from sketchtool.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code not in (0, 3) and "--allow-remote" in result.output


def test_without_the_serve_extra_the_command_says_how_to_install_it(monkeypatch):
    from click.testing import CliRunner

    from sketchtool.cli import cli

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the serve extra were not installed
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code not in (0, 3)
    assert result.output.strip().splitlines() == ["Error: serve needs uvicorn; install it with pip install "
                                                  "'sketchtool[serve]'"]


@pytest.mark.slow
def test_allow_remote_binds_the_address_and_warns():
    proc = subprocess.Popen([sys.executable, "-m", "sketchtool", "serve", "--host", "0.0.0.0", "--allow-remote",
                             "--port", str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        line = proc.stdout.readline()
        assert "Serving" in line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Warning: listening on 0.0.0.0" in err and proc.returncode == 0


def test_a_request_head_that_trickles_in_is_cut_off_and_a_prompt_one_is_answered():
    """Slowloris: a client sending its headers a byte at a time must not hold a connection (and a file descriptor)
    for ever. The real server's protocol, on a real socket, with a half-second head timeout."""
    import uvicorn

    from sketchtool.cli.serve import _protocol_class, _server_class

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    ready = threading.Event()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http=_protocol_class(0.5))
    server = _server_class(uvicorn, ready.set)(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        address = sock.getsockname()

        def closed_after(conn: socket.socket, trickle: bytes) -> float:
            """Seconds until the server closes `conn` while it sends `trickle` a byte every 0.1 s."""
            start = time.monotonic()
            conn.setblocking(False)
            for i in range(60):
                try:
                    if conn.recv(100) == b"":
                        return time.monotonic() - start
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    return time.monotonic() - start
                try:
                    conn.send(trickle[i % len(trickle):][:1])
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - start
                time.sleep(0.1)
            return float("inf")

        with socket.create_connection(address) as slow:
            assert closed_after(slow, b"GET / HTTP/1.1\r\nX-Padding: " + b"a" * 100) < 2.0
        with socket.create_connection(address, timeout=5) as prompt:  # answered, then held to the same rule
            for _ in range(2):  # keep-alive: the second request on the same connection is answered too
                prompt.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = b""
                while not answer.endswith(b"ok") and (part := prompt.recv(1000)):
                    answer += part
                assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
            assert closed_after(prompt, b"GET / HTTP/1.1\r\nX-Padding: " + b"a" * 100) < 2.0
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# --- a real browser ----------------------------------------------------------------------------------------------
def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    return (browser, driver) if browser and driver else None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
def test_a_real_browser_draws_completes_accepts_downloads_and_vectorizes(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from PIL import Image
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser, driver_path = _chromium()
    options = Options()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    proc, url = start_server()
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.execute_script("return window.sketchtool.state.model !== null"))
        assert driver.find_element(By.ID, "variety-label").is_displayed()  # the sheep draws random latents
        assert driver.execute_script("return variety()") == {"z_temperature": 0.6}  # sent with complete, generate
        driver.find_element(By.ID, "auto").click()  # off: this test asks for the completion with the button
        canvas = driver.find_element(By.ID, "canvas")
        before = canvas.screenshot_as_png
        # a zig-zag stroke drawn with the mouse: pointerdown, pointermoves, pointerup
        actions = ActionChains(driver, duration=10).move_to_element_with_offset(canvas, -150, 0).click_and_hold()
        for i in range(1, 13):
            actions.move_by_offset(25, -40 if i % 2 else 40)
        actions.release().perform()
        state = lambda: driver.execute_script("return window.sketchtool.state")  # noqa: E731
        assert len(state()["strokes"]) == 1 and len(state()["strokes"][0]["points"]) >= 10
        driver.find_element(By.ID, "complete").click()
        wait.until(lambda d: len(state()["proposals"]) > 0)
        proposals = state()["proposals"]
        assert len(proposals) == 3 and any(len(p) for p in proposals)
        shown = _orange_pixels(canvas.screenshot_as_png)
        assert shown > 20 and _orange_pixels(before) == 0  # the ending is drawn, in the endings' colour
        index = next(i for i, p in enumerate(proposals) if len(p))
        for _ in range(index):
            driver.find_element(By.ID, "next").click()
        driver.find_element(By.ID, "accept").click()
        strokes = state()["strokes"]
        assert len(strokes) == 1 + len(proposals[index]) and state()["proposals"] == []
        driver.find_element(By.CSS_SELECTOR, "[data-format=svg]").click()
        svg = downloads / "drawing.svg"
        WebDriverWait(driver, 30).until(lambda d: svg.exists() and svg.stat().st_size > 0)
        text = svg.read_text()
        assert text.lstrip().startswith("<?xml") and len(re.findall(r"<(?:path|polyline)\b", text)) == len(strokes)
        # a picture uploaded through the panel becomes the drawing, and Complete continues it
        picture = tmp_path / "line-art.png"
        picture.write_bytes(line_art()[0])
        assert driver.find_element(By.ID, "vectorize-panel").is_displayed()
        assert [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#vec-method option")] == [
            "skeleton", "agent vectorizer"]
        menu = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#model option")]
        assert "vectorizer" not in menu and "sheep" in menu
        driver.find_element(By.ID, "picture").send_keys(str(picture))
        driver.find_element(By.ID, "vectorize").click()
        wait.until(lambda d: "strokes from line-art.png" in d.find_element(By.ID, "status").text)
        width, height = driver.execute_script("const r = canvas.getBoundingClientRect(); return [r.width, r.height]")
        ask = {"picture": data_url(picture.read_bytes()), "width": width, "height": height}
        request = urllib.request.Request(url + "api/vectorize", method="POST", data=json.dumps(ask).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            traced = json.load(r)["strokes"]
        assert [s["points"] for s in state()["strokes"]] == traced and state()["proposals"] == []
        shot = np.asarray(Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("L"))
        points = np.concatenate([np.array(t) for t in traced]).round().astype(int)
        near_ink = [shot[max(0, y - 2):y + 3, max(0, x - 2):x + 3].min() < 128 for x, y in points]
        assert np.mean(near_ink) > 0.9  # drawn on the canvas where the strokes are
        # the agent's stroke count is offered, only for the agent, and reaches the server
        assert not driver.find_element(By.ID, "vec-strokes").is_displayed()
        Select(driver.find_element(By.ID, "vec-method")).select_by_value("agent vectorizer")
        driver.find_element(By.ID, "vec-strokes").send_keys("3")
        driver.find_element(By.ID, "vectorize").click()
        wait.until(lambda d: "(vectorizer)" in d.find_element(By.ID, "status").text)
        ask.update(method="agent", model="vectorizer", strokes=3)
        request = urllib.request.Request(url + "api/vectorize", method="POST", data=json.dumps(ask).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert [s["points"] for s in state()["strokes"]] == json.load(r)["strokes"]
        driver.find_element(By.ID, "complete").click()
        wait.until(lambda d: len(state()["proposals"]) > 0)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        driver.quit()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _orange_pixels(png: bytes) -> int:
    """Pixels near the endings' colour (#e8590c) in a screenshot."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(rgb - [0xE8, 0x59, 0x0C]).sum(axis=2) < 60).sum())
