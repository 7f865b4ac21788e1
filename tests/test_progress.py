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
