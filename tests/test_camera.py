"""`jexp camera` on synthetic videos and fake cameras: per-frame output, fixed batches, the newest
frame on live sources, smoothing, and one-line errors."""
import threading
import time

import cv2
import jax
import numpy as np
import pytest

from jexp import adversarial, camera, cli, fer2013, keras_h5, nets
from jexp.nets import Dense, Flatten

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
    batch = camera.crop_faces(grey, np.array([[20, 10, 48, 48], [80, 50, 24, 24]]), max_faces=3)
    assert batch.shape == (3, 48, 48, 1) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0], 1.0)
    np.testing.assert_allclose(batch[1], 102 / 255, rtol=1e-6)  # upscaled, still uniform
    np.testing.assert_array_equal(batch[2], 0.0)  # padding


def test_the_smoother_averages_a_face_with_its_nearest_predecessor_only():
    s = camera.Smoother(0.5)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    s(np.array([[0, 0, 40, 40], [200, 0, 40, 40]]), np.stack([a, b]))
    out = s(np.array([[5, 0, 40, 40], [400, 0, 40, 40]]), np.stack([b, b]))
    np.testing.assert_allclose(out[0], [0.5, 0.5])  # moved 5 px: the same face, averaged
    np.testing.assert_allclose(out[1], b)           # nobody near: its own probabilities
    np.testing.assert_allclose(camera.Smoother(0.0)(np.array([[0, 0, 40, 40]]), a[None]), a[None])


def test_a_video_file_is_processed_frame_by_frame_with_one_compiled_batch(model, tmp_path, monkeypatch):
    frames = [np.full((120, 160, 3), 40 * i, np.uint8) for i in range(5)]
    video = tmp_path / "faces.mp4"
    write_video(video, frames)
    boxes = [np.zeros((0, 4), np.int32), np.array([[10, 10, 48, 48]]), np.array([[10, 10, 48, 48], [80, 20, 30, 30]])]
    calls = iter(boxes * 2)
    traces = []  # Python runs inside a jitted function only while it is traced (compiled)
    real = adversarial.classifier

    def counting(*args):
        f, v = real(*args)
        return (lambda variables, x: traces.append(x.shape) or f(variables, x)), v
    monkeypatch.setattr(adversarial, "classifier", counting)
    lines = []
    s = camera.run(str(video), model, detect=lambda grey: next(calls), echo=lines.append, record=str(tmp_path / "o.mp4"))
    assert s.frames == 5 and s.faces == 0 + 1 + 2 + 0 + 1 and s.stopped_by == "end of video"
    assert [len(d) for d in s.detections] == [0, 1, 2, 0, 1] and traces == [(4, 48, 48, 1)]  # one compile
    assert lines[0].startswith("frame 1: 0 faces |") and lines[2].startswith("frame 3: 2 faces: ")
    assert any(f"{name} " in lines[1] for name in fer2013.CLASSES) and "at (10, 10, 48, 48)" in lines[1]
    recorded = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert int(recorded.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    recorded.release()
    calls = iter(boxes * 2)
    assert camera.run(str(video), model, detect=lambda grey: next(calls), echo=lines.append, max_frames=2).frames == 2


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
    monkeypatch.setattr(camera, "open_source", lambda source: (cam, True))
    slow = lambda grey: (time.sleep(0.03), np.zeros((0, 4), np.int32))[1]  # slower than the camera
    s = camera.run("0", model, detect=slow, echo=lambda line: None, timeout=0.5)
    assert 0 < s.frames < 40 and s.skipped > 0 and s.frames + s.skipped <= 40
    assert s.stopped_by.startswith("the source sent nothing") and cam.released


def test_camera_errors_are_one_line_and_exit_1(model, tmp_path, capsys, monkeypatch):
    def err(*args):
        code = cli.main(["camera", *args])
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
    assert cli.main(["camera", "--max-faces=0"]) == 2


def test_the_haar_cascade_loads_and_finds_no_face_in_a_blank_frame():
    assert camera.face_detector()(np.full((240, 320), 128, np.uint8)).shape == (0, 4)
