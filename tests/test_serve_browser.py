"""`jexp serve` in a real browser: Playwright drives Debian's headless Chromium (no browser is
downloaded) against the committed models. A 7 drawn with mouse events reads as 7; "make it a 3"
shows the adversarial twin, read as 3; Chromium's fake camera plays a video of FER2013 test faces
and the page draws their boxes and labels. Screenshots go to $JEXP_SCREENSHOTS (the README's come
from here) or the test's temporary folder.

Without Chromium (or Playwright) the tests skip, unless $JEXP_REQUIRE_BROWSER is set (``.ci/run``
sets it, after installing Chromium), where they fail."""
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from jexp.data import fer2013
from jexp.io import artifacts
from jexp.serve import app as serve_app
from jexp.serve import models as serve_models
from jexp.serve import server

ROOT = artifacts.committed(Path("artifacts"))
CHROMIUM = os.environ.get("JEXP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _need(ok: bool, why: str):
    if not ok:
        if os.environ.get("JEXP_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("JEXP_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def served():
    _need(CHROMIUM is not None, "no Chromium found (apt-get install chromium, or set JEXP_CHROMIUM)")
    _need((ROOT / serve_models.DIGIT_MODELS[0][1]).is_file() and (ROOT / serve_models.EMOTION_MODEL).is_file(),
          f"the committed models are not in {ROOT}")
    loaded = serve_models.Models(ROOT)
    url, stop = server.in_thread(serve_app.make_app(loaded))
    yield url, loaded
    stop()


def write_y4m(path: Path, frames: np.ndarray, fps: int = 10) -> None:
    """A YUV4MPEG2 video (Chromium's fake-camera format) of BGR frames, 4:2:0."""
    h, w = frames.shape[1:3]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def face_frame(loaded, side=160, places=((70, 150), (400, 150))):
    """(frame, truth) of two FER2013 PrivateTest faces on a textured background, chosen so that the
    server's own pipeline finds both (IoU ≥ 0.5 with where they were put) and labels both right with
    a calibrated confidence of at least 60 %: what the page must then show for each."""
    from conftest import REAL_DATA
    if not (REAL_DATA / fer2013.FOLDER).is_dir():
        pytest.skip(f"real FER2013 not found in {REAL_DATA}")
    from jexp.camera import facevideo
    test = fer2013.load(REAL_DATA).test
    faces, labels = np.round(test.x[:400, ..., 0] * 255).astype(np.uint8), test.y[:400]
    yy, xx = np.mgrid[0:480, 0:640]
    base = np.clip(90 + 60 * np.sin(xx / 70) * np.cos(yy / 90), 0, 255).astype(np.uint8)
    good = []
    for k in range(len(faces)):
        frame = base.copy()
        x, y = places[len(good)]
        frame[y:y + side, x:x + side] = cv2.resize(faces[k], (side, side), interpolation=cv2.INTER_CUBIC)
        found = loaded.faces(frame)["faces"]
        hit = [f for f in found if facevideo.iou(f["box"], (x, y, side, side)) >= 0.5]
        if len(hit) == 1 and hit[0]["label"] == fer2013.CLASSES[labels[k]] and hit[0]["confidence"] >= 0.6:
            good.append(k)
            base = frame
            if len(good) == len(places):
                break
    assert len(good) == len(places), "too few FER2013 test faces found and labelled right for the video"
    truth = [((x, y, side, side), fer2013.CLASSES[labels[k]]) for (x, y), k in zip(places, good)]
    return cv2.cvtColor(base, cv2.COLOR_GRAY2BGR), truth


@pytest.fixture(scope="module")
def browser(served, tmp_path_factory):
    """(page factory, truth of the fake camera's faces or None)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed")
    url, loaded = served
    try:
        frame, truth = face_frame(loaded)
    except pytest.skip.Exception:
        frame, truth = np.full((480, 640, 3), 90, np.uint8), None
    video = tmp_path_factory.mktemp("camera") / "faces.y4m"
    write_y4m(video, np.stack([frame] * 20))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        context = b.new_context(viewport={"width": 1180, "height": 860}, permissions=["camera"])

        def open_page():
            page = context.new_page()
            page.goto(url)
            page.wait_for_function("document.getElementById('status').textContent.includes('digit models')",
                                   timeout=30_000)
            return page
        yield open_page, truth
        b.close()


def draw(page, strokes):
    """Mouse strokes on the drawing pad, in its 280 × 280 pixels."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        (x0, y0), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
        page.mouse.up()


SEVEN = [[(70, 60), (210, 60), (120, 235)]]


def test_a_seven_drawn_with_the_mouse_reads_as_seven_and_becomes_a_three_on_request(browser, shots):
    from playwright.sync_api import expect
    open_page, _ = browser
    page = open_page()
    draw(page, SEVEN)
    expect(page.locator("#digit-answer")).to_have_text("7", timeout=20_000)
    models = page.locator("#digit-models .model")
    expect(models).to_have_count(4)
    assert page.locator("#digit-models .model").first.get_attribute("data-label") == "7"
    page.select_option("#target", "3")
    page.click("#attack")
    expect(page.locator("#attack-answer")).to_have_text("class 3", timeout=90_000)
    expect(page.locator("#attack-summary")).to_contain_text("now reads 3")
    twin = page.evaluate("Array.from(document.getElementById('attack-image').getContext('2d')"
                         ".getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 == 0)")
    assert len(twin) == 784 and max(twin) > 200  # the twin was drawn, a bright digit on black
    page.screenshot(path=str(shots / "serve_digits.png"), full_page=True)
    page.locator("#clear").click()
    expect(page.locator("#digit-answer")).to_have_text("")


def test_the_fake_camera_s_faces_get_boxes_and_labels_that_match_them(browser, shots):
    from playwright.sync_api import expect
    from jexp.camera import facevideo
    open_page, truth = browser
    if truth is None:
        pytest.skip("real FER2013 not found: no faces for the fake camera")
    page = open_page()
    page.click(".tab[data-part=emotion]")
    page.click("#camera")
    items = page.locator("#emotion-labels li")
    expect(items).to_have_count(len(truth), timeout=30_000)
    page.wait_for_function("document.getElementById('emotion-stats').textContent.includes('frames/s')")
    page.wait_for_timeout(1500)  # a few frames more
    shown = [(tuple(map(int, items.nth(i).get_attribute("data-box").split(","))), items.nth(i).get_attribute("data-label"))
             for i in range(items.count())]
    for box, label in truth:
        match = [s for s in shown if facevideo.iou(s[0], box) >= 0.5]
        assert len(match) == 1 and match[0][1] == label, (box, label, shown)
    assert "frames/s" in page.locator("#emotion-stats").text_content()
    page.screenshot(path=str(shots / "serve_emotion.png"), full_page=True)
    page.click("#camera")  # stops


def test_the_results_part_lists_the_experiments_and_shows_one_with_its_figures(browser, shots):
    from playwright.sync_api import expect
    open_page, _ = browser
    page = open_page()
    page.click(".tab[data-part=results]")
    links = page.locator("#result-list a")
    expect(links.first).to_be_visible(timeout=10_000)
    names = {links.nth(i).get_attribute("data-name") for i in range(links.count())}
    assert {"ex1b", "digits", "emotion"} <= names
    page.click("#result-list a[data-name=ex1b]")
    expect(page.locator("#result-page h1")).to_contain_text("ex1b")
    img = page.locator("#result-page img").first
    expect(img).to_be_visible()
    assert page.evaluate("Array.from(document.querySelectorAll('#result-page img')).every(i => i.naturalWidth > 0)")
    page.screenshot(path=str(shots / "serve_results.png"))


def test_a_bad_photo_is_a_message_on_the_page_not_a_broken_page(browser, tmp_path):
    open_page, _ = browser
    page = open_page()
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not a picture at all")
    page.set_input_files("#digit-file", str(bad))
    page.wait_for_function("document.getElementById('status').textContent.includes('not an image')", timeout=10_000)
    draw(page, SEVEN)  # the page still works
    page.wait_for_function("document.getElementById('digit-answer').textContent === '7'", timeout=20_000)
