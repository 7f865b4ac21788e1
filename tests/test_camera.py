"""`jexp camera` on synthetic videos and fake cameras: per-frame output, fixed batches, the newest
frame on live sources, smoothing, and one-line errors."""
import threading
import time

import cv2
import jax
import numpy as np
import pytest

from jexp.camera import realtime
from jexp.cli import commands
from jexp.data import fer2013
from jexp.io import keras_h5
from jexp.nn import nets
from jexp.nn.nets import Dense, Flatten

FACE_NET = nets.Sequential((48, 48, 1), (Flatten(), Dense(7)))


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "emotion.h5"
    keras_h5.save(path, FACE_NET, *nets.init(FACE_NET, jax.random.key(0)))
    return path


def write_video(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert out.isOpened()
    for f in frames:
        out.write(f)
    out.release()


def test_crop_faces_resizes_each_box_and_pads_the_batch():
    grey = np.zeros((100, 120), np.uint8)
    grey[10:58, 20:68] = 255   # a white 48×48 square
    grey[50:74, 80:104] = 102  # a grey 24×24 square
    batch = realtime.crop_faces(grey, np.array([[20, 10, 48, 48], [80, 50, 24, 24]]), max_faces=3)
    assert batch.shape == (3, 48, 48, 1) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0], 1.0)
    np.testing.assert_allclose(batch[1], 102 / 255, rtol=1e-6)  # upscaled, still uniform
    np.testing.assert_array_equal(batch[2], 0.0)  # padding


def test_the_smoother_averages_a_face_with_its_nearest_predecessor_only():
    s = realtime.Smoother(0.5)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    s(np.array([[0, 0, 40, 40], [200, 0, 40, 40]]), np.stack([a, b]))
    out = s(np.array([[5, 0, 40, 40], [400, 0, 40, 40]]), np.stack([b, b]))
    np.testing.assert_allclose(out[0], [0.5, 0.5])  # moved 5 px: the same face, averaged
    np.testing.assert_allclose(out[1], b)           # nobody near: its own probabilities
    np.testing.assert_allclose(realtime.Smoother(0.0)(np.array([[0, 0, 40, 40]]), a[None]), a[None])


def _blobs(seed: int) -> np.ndarray:
    """A smooth random 48×48 'face' in [0, 1], (1, 48, 48, 1)."""
    import cv2
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.uniform(0, 1, (6, 6)).astype(np.float32), (48, 48), interpolation=cv2.INTER_CUBIC)[None, ..., None]


def test_the_smoother_follows_a_face_not_a_place():
    a, b = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    box = np.array([[100, 100, 60, 60]])
    face, other = _blobs(1), _blobs(2)
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 0.03, face.shape), 0, 1)
    assert realtime.appearance(face) @ realtime.appearance(noisy)[0] > 0.9
    assert realtime.appearance(face) @ realtime.appearance(other)[0] < 0.6
    s = realtime.Smoother(0.5)
    s(box, a[None], face)
    np.testing.assert_allclose(s(box + 3, b[None], noisy), [[0.5, 0.5]])  # the same face, a little noisier
    s = realtime.Smoother(0.5)
    s(box, a[None], face)
    np.testing.assert_allclose(s(box, b[None], other), b[None])  # another person at the same place
    place = realtime.Smoother(0.5, min_similarity=-1)  # overlap alone: the old behaviour
    place(box, a[None], face)
    np.testing.assert_allclose(place(box, b[None], other), [[0.5, 0.5]])


def test_a_cut_ends_every_track():
    a, b = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    box, face = np.array([[10, 10, 40, 40]]), _blobs(1)
    yy, xx = np.mgrid[0:240, 0:320]
    scene, other_scene = (xx % 97).astype(np.uint8), (yy % 61 * 4).astype(np.uint8)
    s = realtime.Smoother(0.5)
    s(box, a[None], face, scene)
    np.testing.assert_allclose(s(box, b[None], face, scene), [[0.5, 0.5]])
    np.testing.assert_allclose(s(box, b[None], face, other_scene), b[None])


def test_a_video_file_is_processed_frame_by_frame_with_one_compiled_batch(model, tmp_path, monkeypatch):
    frames = [np.full((120, 160, 3), 40 * i, np.uint8) for i in range(5)]
    video = tmp_path / "faces.mp4"
    write_video(video, frames)
    boxes = [np.zeros((0, 4), np.int32), np.array([[10, 10, 48, 48]]), np.array([[10, 10, 48, 48], [80, 20, 30, 30]])]
    calls = iter(boxes * 2)
    traces = []  # Python runs inside a jitted function only while it is traced (compiled)
    real = nets.classifier

    def counting(*args):
        f, v = real(*args)
        return (lambda variables, x: traces.append(x.shape) or f(variables, x)), v
    monkeypatch.setattr(nets, "classifier", counting)
    lines = []
    s = realtime.run(str(video), model, detect=lambda grey: next(calls), echo=lines.append, record=str(tmp_path / "o.mp4"))
    assert s.frames == 5 and s.faces == 0 + 1 + 2 + 0 + 1 and s.stopped_by == "end of video"
    assert [len(d) for d in s.detections] == [0, 1, 2, 0, 1] and traces == [(4, 48, 48, 1)]  # one compile
    assert lines[0].startswith("frame 1: 0 faces |") and lines[2].startswith("frame 3: 2 faces: ")
    assert any(f"{name} " in lines[1] for name in fer2013.CLASSES) and "at (10, 10, 48, 48)" in lines[1]
    recorded = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert int(recorded.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    recorded.release()
    calls = iter(boxes * 2)
    assert realtime.run(str(video), model, detect=lambda grey: next(calls), echo=lines.append, max_frames=2).frames == 2


class FakeCamera:
    """A live source: ``n`` frames, one every ``period`` s, then silence (a camera that disappears)."""

    def __init__(self, n, period=0.005):
        self.n, self.period, self.sent, self.released = n, period, 0, False
        self.silent = threading.Event()

    def read(self):
        time.sleep(self.period)
        if self.sent >= self.n:
            self.silent.wait(10)  # blocks, as a vanished USB camera does
            return False, None
        self.sent += 1
        return True, np.full((60, 80, 3), self.sent % 256, np.uint8)

    def isOpened(self):
        return True

    def release(self):
        self.released = True
        self.silent.set()

    def get(self, prop):
        return 30.0


def test_a_live_source_is_read_newest_first_and_a_silent_one_stops_with_a_summary(model, monkeypatch, capsys):
    cam = FakeCamera(40)
    monkeypatch.setattr(realtime, "open_source", lambda source: (cam, True))
    slow = lambda grey: (time.sleep(0.03), np.zeros((0, 4), np.int32))[1]  # slower than the camera
    s = realtime.run("0", model, detect=slow, echo=lambda line: None, timeout=0.5)
    assert 0 < s.frames < 40 and s.skipped > 0 and s.frames + s.skipped <= 40
    assert s.stopped_by.startswith("the source sent nothing") and cam.released


def test_camera_errors_are_one_line_and_exit_1(model, tmp_path, capsys, monkeypatch):
    def err(*args):
        code = commands.main(["camera", *args])
        lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("jexp")]
        assert code == 1 and len(lines) == 1, lines
        return lines[0]

    assert "no such video file" in err("--source", str(tmp_path / "none.mp4"), "--model", str(model))
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    assert "cannot open video file" in err("--source", str(tmp_path / "junk.mp4"), "--model", str(model))
    assert "no such model file" in err("--model", str(tmp_path / "none.h5"))
    wrong = tmp_path / "digits.h5"
    net = nets.Sequential((28, 28, 1), (Flatten(), Dense(10)))
    keras_h5.save(wrong, net, *nets.init(net, jax.random.key(0)))
    assert "not (48, 48, 1)" in err("--model", str(wrong))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert "needs a display" in err("--show", "--model", str(model))
    assert commands.main(["camera", "--max-faces=0"]) == 2


def test_the_haar_cascade_loads_and_finds_no_face_in_a_blank_frame():
    assert realtime.face_detector()(np.full((240, 320), 128, np.uint8)).shape == (0, 4)


def test_composed_face_videos_keep_the_truth_and_score_counts_matches(model, tmp_path):
    from jexp.camera import facevideo
    rng = np.random.default_rng(0)
    faces, labels = rng.integers(0, 256, (10, 48, 48), dtype=np.uint8), np.arange(10) % 7
    frames, truth = facevideo.compose(faces, labels, 8, seed=3, size=(240, 320), side=(50, 90))
    again, truth2 = facevideo.compose(faces, labels, 8, seed=3, size=(240, 320), side=(50, 90))
    assert np.array_equal(frames, again) and truth == truth2 and frames.shape == (8, 240, 320, 3)
    assert any(len(t) == 0 for t in truth) and max(len(t) for t in truth) >= 2
    k = 0
    for f, t in zip(frames, truth):  # the faces in order, each scaled up into its box, with its label
        for (x, y, w, h), label in t:
            assert 0 <= x and x + w <= 320 and 0 <= y and y + h <= 240 and w == h and label == labels[k % 10]
            np.testing.assert_array_equal(f[y:y + h, x:x + w, 0],
                                          cv2.resize(faces[k % 10], (w, h), interpolation=cv2.INTER_CUBIC))
            k += 1
    # the camera on that video, with a detector that returns the true boxes: every face found
    video = tmp_path / "faces.mp4"
    facevideo.write(video, frames)
    boxes = iter([np.array([b for b, _ in t], np.int32).reshape(-1, 4) for t in truth])
    s = realtime.run(str(video), model, detect=lambda grey: next(boxes), echo=lambda line: None, smooth=0.0)
    r = facevideo.score(truth, s.detections)
    assert r["found"] == r["faces"] == sum(map(len, truth)) and r["spurious"] == 0
    # scoring: a box moved by 60 % of its width (IoU 0.25) is missed; a wrong label is found, not correct
    (x, y, w, h), label = next(t[0] for t in truth if t)
    frame_truth = [[((x, y, w, h), label)]]
    assert facevideo.score(frame_truth, [[((x + int(0.6 * w) + 1, y, w, h), label, 0.9)]])["found"] == 0
    r = facevideo.score(frame_truth, [[((x + 2, y, w, h), (label + 1) % 7, 0.9), ((0, 0, 5, 5), 0, 0.5)]])
    assert (r["found"], r["correct"], r["spurious"], r["accuracy_all"]) == (1, 0, 1, 0.0)
    assert r["side_ratio_median"] == 1.0


@pytest.mark.realdata
def test_the_end_to_end_check_finds_most_real_faces_in_its_video(model):
    """facevideo.check on real FER2013 test faces: the Haar cascade finds most of them, framed as
    FER frames them (detected side close to the pasted side), and scores add up."""
    from conftest import REAL_DATA
    from jexp.camera import facevideo
    if not (REAL_DATA / fer2013.FOLDER).is_dir():
        pytest.skip(f"real FER2013 not found in {REAL_DATA}")
    test = fer2013.load(REAL_DATA).test
    faces = np.round(test.x[:60, ..., 0] * 255).astype(np.uint8)
    r, summary, frames, truth = facevideo.check(model, faces, test.y[:60], 24, per_frame=(1, 3))
    assert summary.frames == 24 and r["faces"] == sum(map(len, truth)) >= 24
    assert r["detection_rate"] >= 0.5 and r["spurious"] <= r["faces"] // 4
    assert 0.8 <= r["side_ratio_median"] <= 1.25
    assert r["correct"] <= r["found"] and summary.faces == r["found"] + r["spurious"]


def test_faces_found_on_a_scaled_frame_come_back_in_frame_pixels(monkeypatch):
    class FakeCascade:
        def __init__(self, path):
            pass

        def empty(self):
            return False

        def detectMultiScale(self, small, **kw):
            FakeCascade.shape, FakeCascade.min_size = small.shape, kw["minSize"]
            return np.array([[10, 20, 30, 30], [100, 60, 50, 50], [300, 200, 40, 40]])  # small-frame pixels
    monkeypatch.setattr(cv2, "CascadeClassifier", FakeCascade)
    boxes = realtime.face_detector(min_size=40, scale=0.5)(np.zeros((480, 640), np.uint8))
    assert FakeCascade.shape == (240, 320) and FakeCascade.min_size == (20, 20)
    # largest first, scaled by 2, the one reaching past the frame's edge cut at it
    np.testing.assert_array_equal(boxes, [[200, 120, 100, 100], [20, 40, 60, 60], [600, 400, 40, 80]])
    with pytest.raises(realtime.CameraError, match="scale"):
        realtime.face_detector(scale=1.5)


def test_slideshow_changes_people_at_fixed_places_and_flicker_counts_label_changes():
    from jexp.camera import facevideo
    faces = (np.arange(5)[:, None, None] * 40 + np.zeros((5, 48, 48))).astype(np.uint8)
    frames, truth, ids = facevideo.slideshow(faces, np.arange(5) % 7, photos=2, hold=3, size=(120, 200), side=40,
                                             places=2)
    assert frames.shape == (6, 120, 200, 3) and [len(t) for t in truth] == [2] * 6
    assert ids == [[0, 1]] * 3 + [[2, 3]] * 3
    assert abs(truth[0][0][0][0] - truth[3][0][0][0]) <= 6  # the same place, another person
    # detections: face 0 read 1, 1, 2 (one change); face 1 missed in the middle frame (no pair)
    det = [[(truth[0][0][0], 1, 0.9), (truth[0][1][0], 4, 0.9)], [(truth[1][0][0], 1, 0.9)],
           [(truth[2][0][0], 2, 0.9), (truth[2][1][0], 4, 0.9)]]
    assert facevideo.flicker(truth[:3], ids[:3], det) == {"pairs": 2, "changes": 1, "rate": 0.5}
    # the new people of the next photo are not compared with the last ones at their places
    det4 = det + [[(truth[3][0][0], 3, 0.9), (truth[3][1][0], 3, 0.9)]]
    assert facevideo.flicker(truth[:4], ids[:4], det4)["pairs"] == 2


def test_a_calibrated_model_labels_unsure_faces_uncertain(tmp_path):
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 2
    video = tmp_path / "faces.mp4"
    write_video(video, frames)
    params, state = nets.init(FACE_NET, jax.random.key(0))
    box = lambda grey: np.array([[10, 10, 48, 48]])
    for temperature, uncertain in ((1e3, True), (1e-3, False)):  # T large: every class near 1/7
        path = tmp_path / f"t{temperature}.h5"
        keras_h5.save(path, FACE_NET, params, state, metadata={"temperature": temperature, "unsure_below": 0.5})
        lines = []
        realtime.run(str(video), str(path), detect=box, echo=lines.append, smooth=0.0)
        assert ("uncertain (" in lines[0]) == uncertain, lines[0]
        if uncertain:
            assert " 14% at (10, 10, 48, 48)" in lines[0]  # the calibrated confidence, ≈ 1/7
    lines = []
    keras_h5.save(tmp_path / "bad.h5", FACE_NET, params, state, metadata={"temperature": -1})
    with pytest.raises(realtime.CameraError, match="not a positive number"):
        realtime.run(str(video), str(tmp_path / "bad.h5"), detect=box, echo=lines.append)


def test_sigterm_finalises_the_recording_and_prints_the_summary(model, tmp_path):
    import signal
    import subprocess
    import sys
    frames = [np.full((96, 128, 3), (i * 7) % 255, np.uint8) for i in range(3000)]
    video, record = tmp_path / "long.mp4", tmp_path / "out.mp4"
    write_video(video, frames, fps=25)
    p = subprocess.Popen([sys.executable, "-m", "jexp", "camera", "--source", str(video), "--model", str(model),
                          "--record", str(record)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:  # the loop is running: frames are being recorded
        if line.startswith("frame 20:"):
            break
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    summary = [line for line in out.splitlines() if line.startswith("summary:")]
    assert summary and "stopped: SIGTERM" in summary[0]
    cap = cv2.VideoCapture(str(record))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, _ = cap.read()
    cap.release()
    assert ok and 10 <= n < 3000  # playable, and cut where the signal came (frame 20 is echoed before it is written)


def test_a_truncated_video_says_how_many_frames_it_lost_and_third_party_noise_is_silent(model, tmp_path):
    import subprocess
    import sys
    video = tmp_path / "t.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(60):
        w.write(np.full((120, 160, 3), i * 4, np.uint8))
    w.release()
    half = tmp_path / "half.avi"
    half.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    r = subprocess.run([sys.executable, "-m", "jexp", "camera", "--source", str(half), "--model", str(model)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "stopped: end of video" in r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("jexp: warning:") and "says 60 frames" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "jexp", "camera", "--source", "7", "--model", str(model)],
                       capture_output=True, text=True, timeout=120)  # no camera 7 here
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("jexp: error: cannot open camera 7")
