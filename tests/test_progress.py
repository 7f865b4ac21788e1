"""Progress bars (jexp.runtime.progress)."""


def test_progress_bar_is_tqdm_and_counts_every_tick_from_many_threads():
    import io
    import threading
    from jexp.runtime import progress
    stream = io.StringIO()
    with progress.Progress(400, "ticks", stream=stream) as bar:
        threads = [threading.Thread(target=lambda: [bar.update(1, "x") for _ in range(100)]) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert bar.bar.n == 400
    assert "ticks" in stream.getvalue() and "400/400" in stream.getvalue()


def test_a_bar_closes_when_its_work_is_done_and_its_time_stops_there():
    import io
    import time
    from jexp.runtime import progress
    bar = progress.Progress(2, "work", stream=io.StringIO())
    bar.update(1)
    assert not bar.bar.disable
    bar.update(1)
    assert bar.bar.disable  # tqdm marks a closed bar disabled
    done = bar.seconds
    time.sleep(0.05)
    assert bar.seconds == done
