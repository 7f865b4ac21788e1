"""Real-time facial-emotion recognition: ``realtime`` is ``jexp camera``'s loop (frames, faces,
one compiled batch per frame, smoothing, recording) and ``facevideo`` checks it end to end on
videos of known faces."""
