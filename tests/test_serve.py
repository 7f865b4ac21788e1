"""`jexp serve`'s API with Starlette's test client, on tiny models: every endpoint, every bad input,
the attack limits, and a server that answers bad requests with 4xx JSON and keeps going."""
import threading

import cv2
import jax
import numpy as np
import pytest
from starlette.testclient import TestClient

from jexp.attacks.generator import AttackConfig
from jexp.cli import commands
from jexp.io import keras_h5
from jexp.nn import nets
from jexp.serve import app as serve_app
from jexp.serve import models as serve_models
from jexp.serve import server
from test_digit_pictures import seven

FACE_NET = nets.Sequential((48, 48, 1), (nets.Flatten(), nets.Dense(7)))
FAST = AttackConfig(max_rounds=30, warm_steps=20)


def png(image) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A folder laid out like artifacts/: a linear digit model as the recogniser and as the MLP (no
    cnn.h5 or robust.h5), a linear emotion model with a temperature, one experiment's results."""
    root = tmp_path_factory.mktemp("artifacts")
    net = nets.Sequential((28, 28, 1), (nets.Flatten(), nets.Dense(10)))
    params, _ = nets.init(net, jax.random.key(0))
    for name in ("digits/digits.h5", "digits/mlp.h5"):
        (root / name).parent.mkdir(exist_ok=True)
        keras_h5.save(root / name, net, params, metadata={"temperature": 1.5, "unsure_below": 0.5})
    (root / "emotion").mkdir()
    keras_h5.save(root / "emotion/emotion.h5", FACE_NET, *nets.init(FACE_NET, jax.random.key(1)),
                  metadata={"temperature": 1.2, "unsure_below": 0.5})
    (root / "ex1b").mkdir()
    (root / "ex1b/results.md").write_text("# ex1b: depth\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n"
                                          "| 1 | 2 |\n\n![accuracy](accuracy.png)\n")
    cv2.imwrite(str(root / "ex1b/accuracy.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(root / "ex1b/curves.png"), np.zeros((4, 4), np.uint8))
    (root / "ex1b/config.json").write_text("{}")
    return root


@pytest.fixture(scope="module")
def loaded(root):
    return serve_models.Models(root, attack=FAST, detect=lambda grey: np.array([[8, 8, 48, 48], [70, 10, 40, 40]]))


def client(loaded, **limits):
    return TestClient(serve_app.make_app(loaded, serve_app.Limits(**limits)), raise_server_exceptions=False)


def test_the_page_its_script_and_style_are_served_and_nothing_outside_its_folder(loaded):
    c = client(loaded)
    page = c.get("/")
    assert page.status_code == 200 and 'src="/static/app.js"' in page.text and "http" not in page.text.split("<body")[1]
    assert c.get("/static/app.js").status_code == 200 and c.get("/static/style.css").status_code == 200
    for sneaky in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/%2e%2e/%2e%2e/cli/commands.py"):
        r = c.get(sneaky)
        assert r.status_code == 404 and "import" not in r.text, sneaky
    missing = c.get("/nowhere")
    assert missing.status_code == 404 and "error" in missing.json()


def test_info_names_the_models_and_what_is_missing(loaded):
    r = client(loaded).get("/api/info").json()
    assert [m["name"] for m in r["digit_models"]] == ["recogniser", "mlp"]
    assert r["missing"] == ["digits/cnn.h5", "robust/robust.h5"]
    assert len(r["emotion_classes"]) == 7 and r["limits"]["max_rounds"] == 30


def test_a_drawing_gets_every_models_answer_and_the_digit_they_saw(loaded):
    c = client(loaded)
    r = c.post("/api/digits?ink=low", content=png(seven()))
    assert r.status_code == 200
    d = r.json()
    assert np.asarray(d["seen"]).shape == (28, 28) and np.asarray(d["seen"]).max() == 1.0
    assert [m["model"] for m in d["models"]] == ["recogniser", "mlp"]
    for m in d["models"]:
        assert abs(sum(m["probs"]) - 1) < 1e-3 and m["label"] == int(np.argmax(m["probs"])) and m["calibrated"]
    x = np.asarray(d["seen"], np.float32)[None, ..., None]
    expected = np.asarray(loaded.digits[0].probs(x))[0]
    np.testing.assert_allclose(d["models"][0]["probs"], expected, atol=1e-3)
    assert c.post("/api/digits?ink=low", content=png(seven())).json() == d  # no state between requests


@pytest.mark.parametrize("url, body, status, words", [
    ("/api/digits", b"", 400, "empty"),
    ("/api/digits", b"just some text", 415, "not an image"),
    ("/api/digits", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 415, "picture"),
    ("/api/digits?ink=sideways", "seven", 422, "ink must be"),
    ("/api/digits", "blank", 422, "no ink"),
    ("/api/digits", "huge", 413, "pixels"),
    ("/api/digits", "long", 413, "bytes"),
    ("/api/attack?target=three", "seven", 422, "target must be a digit"),
    ("/api/attack?target=10", "seven", 422, "target must be a digit"),
    ("/api/attack?target=-1", "seven", 422, "target must be a digit"),
    ("/api/attack", "seven", 422, "target must be a digit"),
    ("/api/emotion", b"GIF89a", 415, "not an image"),
    ("/api/emotion", b"", 400, "empty"),
])
def test_bad_requests_get_a_4xx_json_error_and_the_server_goes_on(loaded, url, body, status, words):
    c = client(loaded, body_bytes=200_000, pixels=1_000_000)
    content = {"seven": png(seven()), "blank": png(np.full((50, 50), 200, np.uint8)),
               "huge": png(np.zeros((1200, 1000), np.uint8)), "long": b"\0" * 300_000}.get(body, body)
    r = c.post(url, content=content)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert c.post("/api/digits?ink=low", content=png(seven())).status_code == 200


def test_a_body_longer_than_its_declared_or_allowed_length_is_refused_while_streaming(loaded):
    c = client(loaded, body_bytes=1000)
    chunks = (b"\0" * 600 for _ in range(3))  # no Content-Length: counted as it arrives
    r = c.post("/api/digits", content=chunks)
    assert r.status_code == 413 and "1,000 bytes" in r.json()["error"]
    r = c.post("/api/digits", content=b"x", headers={"content-length": "abc"})
    assert r.status_code in (400, 413)


def test_wrong_methods_and_unknown_paths_are_json_errors(loaded):
    c = client(loaded)
    assert c.get("/api/digits").status_code == 405 and "error" in c.get("/api/digits").json()
    assert c.post("/api/results").status_code == 405


def test_the_attack_turns_the_drawing_towards_the_target_and_reports_every_model(loaded):
    r = client(loaded).post("/api/attack?target=3&ink=low", content=png(seven()))
    assert r.status_code == 200, r.text
    d = r.json()
    image, change, seen = (np.asarray(d[k]) for k in ("image", "perturbation", "seen"))
    assert image.shape == change.shape == seen.shape == (28, 28)
    np.testing.assert_allclose(image - seen, change, atol=2e-3)
    assert d["target"] == 3 and 1 <= d["rounds"] <= 30 and d["attacked"] == "recogniser"
    assert d["success"] == (d["models"][0]["label"] == 3 and d["models"][0]["probs"][3] >= FAST.threshold - 1e-3)
    assert d["l2"] == pytest.approx(float(np.linalg.norm(change)), abs=0.05)


def test_attacks_are_bounded_per_client_at_once_and_in_time(loaded, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = loaded.attack

    def slow(x, target, seconds):
        started.set()
        release.wait(10)
        return real(x, target, seconds)
    monkeypatch.setattr(loaded, "attack", slow)
    for limits, status in (({"attacks_per_client": 1}, 429), ({"attacks_per_client": 2, "attacks": 1}, 503)):
        c, first = client(loaded, **limits), {}
        started.clear()
        release.clear()
        t = threading.Thread(target=lambda: first.update(r=c.post("/api/attack?target=2&ink=low", content=png(seven()))))
        t.start()
        assert started.wait(10)
        second = c.post("/api/attack?target=5&ink=low", content=png(seven()))
        release.set()
        t.join(30)
        assert second.status_code == status and "error" in second.json()
        assert first["r"].status_code == 200
    monkeypatch.setattr(loaded, "attack", real)
    late = client(loaded, attack_seconds=0).post("/api/attack?target=3&ink=low", content=png(seven()))
    assert late.status_code == 504 and "limit of 0 s" in late.json()["error"]
    assert client(loaded).post("/api/attack?target=3&ink=low", content=png(seven())).status_code == 200


def test_faces_in_a_frame_get_boxes_labels_confidences_and_stage_times(loaded):
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    r = client(loaded).post("/api/emotion", content=cv2.imencode(".jpg", frame)[1].tobytes())
    assert r.status_code == 200
    d = r.json()
    assert (d["width"], d["height"]) == (160, 120) and set(d["ms"]) == {"detect", "preprocess", "classify"}
    assert [f["box"] for f in d["faces"]] == [[8, 8, 48, 48], [70, 10, 40, 40]]
    classes = loaded.emotion[0]
    for f in d["faces"]:
        assert f["label"] in classes and f["confidence"] == max(f["probs"].values())
        assert f["uncertain"] == (f["confidence"] < 0.5)


def test_results_are_listed_rendered_escaped_and_their_figures_served_from_their_folder_only(loaded, root):
    c = client(loaded)
    assert c.get("/api/results").json() == [{"name": "ex1b", "title": "ex1b: depth",
                                             "figures": ["accuracy.png", "curves.png"]}]
    html = c.get("/api/results/ex1b").json()["html"]
    assert "<table>" in html and html.count('src="/files/ex1b/accuracy.png"') == 1  # shown where the text puts it
    assert html.index("<h2>Figures</h2>") < html.index('src="/files/ex1b/curves.png"')  # the rest after the text
    assert "<script>" not in html and "&lt;script&gt;" in html
    fig = c.get("/files/ex1b/accuracy.png")
    assert fig.status_code == 200 and fig.headers["content-type"] == "image/png" and fig.content.startswith(b"\x89PNG")
    for bad in ("/files/ex1b/results.md", "/files/ex1b/config.json", "/files/ex1b/..%2F..%2Fetc%2Fpasswd.png",
                "/files/..%2Fex1b/accuracy.png", "/files/nope/accuracy.png", "/api/results/nope",
                "/api/results/..%2Fex1b"):
        assert c.get(bad).status_code == 404, bad


def test_a_bug_in_a_request_is_a_500_json_and_the_next_request_works(loaded, monkeypatch):
    c = client(loaded)
    monkeypatch.setattr(loaded, "predict", lambda x: 1 / 0)
    r = c.post("/api/digits?ink=low", content=png(seven()))
    assert r.status_code == 500 and r.json() == {"error": "internal error (ZeroDivisionError)"}
    monkeypatch.undo()
    assert c.post("/api/digits?ink=low", content=png(seven())).status_code == 200


def test_a_folder_without_models_serves_the_page_and_says_what_is_missing(tmp_path):
    c = TestClient(serve_app.make_app(serve_models.Models(tmp_path)))
    assert c.get("/").status_code == 200
    assert c.post("/api/digits", content=png(seven())).status_code == 503
    r = c.post("/api/emotion", content=png(seven()))
    assert r.status_code == 503 and "jexp run emotion" in r.json()["error"]


def test_loopback_is_recognised_and_other_addresses_are_not():
    assert all(map(server.is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "localhost")))
    assert not any(map(server.is_loopback, ("0.0.0.0", "192.168.1.4", "::", "example.org")))


def test_serve_errors_are_one_line(capsys, tmp_path):
    busy = server.bind("127.0.0.1", 0)
    try:
        code = commands.main(["serve", f"--port={busy.getsockname()[1]}", f"--models={tmp_path}"])
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("jexp: error: cannot listen on 127.0.0.1:") and err.count("\n") == 1
    for args, words in ((["--models", str(tmp_path / "none")], "no such folder"), (["--port=70000"], "--port must be"),
                        (["--port=x"], "invalid int value")):
        code = commands.main(["serve", *args])
        err = capsys.readouterr().err
        assert code in (1, 2) and err.startswith("jexp: error: ") and words in err and err.count("\n") == 1


def test_a_served_page_answers_over_a_real_socket(loaded):
    import urllib.request
    url, stop = server.in_thread(serve_app.make_app(loaded))
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/info", timeout=10) as r:
            assert r.status == 200 and b"recogniser" in r.read()
    finally:
        stop()


def test_under_load_on_loopback_every_request_is_answered_and_none_fails(loaded):
    """A short version of bench/serve_load.py on the tiny models: 8 clients cycling through the
    endpoints and one running attacks back to back, for 4 s, over real sockets."""
    from jexp.serve import loadtest
    url, stop = server.in_thread(serve_app.make_app(loaded))
    frame = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8))[1].tobytes()
    plan = [("digits", "POST", "/api/digits?ink=low", png(seven())), ("emotion", "POST", "/api/emotion", frame),
            ("info", "GET", "/api/info", None), ("results", "GET", "/api/results", None),
            ("page", "GET", "/api/results/ex1b", None)]
    try:
        r = loadtest.load(url, [plan] * 8 + [[("attack", "POST", "/api/attack?target=4&ink=low", png(seven()))]], 4.0)
    finally:
        stop()
    assert r["errors"] == 0, r["error_samples"]
    assert all(e["requests"] >= 1 for e in r["endpoints"].values()), r["endpoints"]
    assert r["endpoints"]["digits"]["p50_ms"] <= r["endpoints"]["digits"]["p99_ms"]


def test_jexp_serve_prints_its_address_serves_and_stops_on_sigterm(root):
    import re
    import signal
    import subprocess
    import sys
    import time
    import urllib.request
    proc = subprocess.Popen([sys.executable, "-m", "jexp", "serve", "--port=0", f"--models={root}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.time() + 120
        while time.time() < deadline:
            lines.append(proc.stdout.readline())
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", lines[-1])
            if found or proc.poll() is not None:
                break
        assert found, lines
        with urllib.request.urlopen(found[1], timeout=10) as r:
            assert r.status == 200 and b"jexp" in r.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        err = proc.stderr.read()
        assert "Traceback" not in err and "not in " in err  # the missing models are named, once
    finally:
        proc.kill()


def test_listening_beyond_loopback_warns_and_loopback_does_not(monkeypatch, capsys, tmp_path):
    class Quiet:
        def run(self, sockets):
            return None
    monkeypatch.setattr(server, "server", lambda app, sock: Quiet())
    for host, warned in (("0.0.0.0", True), ("127.0.0.1", False)):
        assert server.serve(host, 0, tmp_path, echo=lambda line: None) == 0
        err = capsys.readouterr().err
        assert ("jexp: warning: listening on 0.0.0.0, not loopback" in err) == warned
        assert "not in " in err  # the missing models named either way
