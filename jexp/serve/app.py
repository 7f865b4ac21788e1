"""The web page's server: a Starlette application (``make_app``) over ``jexp.serve.models``.

Starlette, because it is the small, well-kept ASGI toolkit FastAPI is built on: routing, static
files that refuse paths outside their folder, streamed request bodies and a test client, without
a schema layer the page does not need; uvicorn serves it.

Endpoints (every error is a JSON ``{"error": "..."}`` with a 4xx status, never a crash):

  GET  /                    the page (``static/index.html``; its scripts and styles under /static/)
  GET  /api/info            the models loaded, the emotion classes and the limits
  POST /api/digits?ink=     a picture (the request body: PNG, JPG…) -> every digit model's answer and
                            the 28×28 digit it saw
  POST /api/attack?target=  a picture -> the generator attack from it towards ``target`` (one at a
                            time per client, ``Limits.attacks`` at once, ``Limits.attack_seconds`` each)
  POST /api/emotion         a picture or camera frame -> boxes, labels, confidences, stage times
  GET  /api/results         the experiments with a results.md in the models folder
  GET  /api/results/NAME    NAME's results.md as HTML, then its figures that it does not show (under /files/NAME/)
  GET  /files/NAME/FILE.png a figure of NAME's results
"""
from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STATIC = Path(__file__).parent / "static"
NAME = re.compile(r"^[A-Za-z0-9_]+$")
FIGURE = re.compile(r"^[A-Za-z0-9_.-]+\.png$")


@dataclass(frozen=True)
class Limits:
    """What the server accepts."""
    body_bytes: int = 8_000_000     # a request body (a picture) at most this long
    pixels: int = 12_000_000        # a picture at most this many pixels (read from its header before decoding)
    attack_seconds: float = 30.0    # an attack stops with 504 after this long
    attacks: int = 2                # attacks running at once, over all clients (more: 503)
    attacks_per_client: int = 1     # attacks running at once from one client address (more: 429)
    threads: int = 8                # worker threads for the models (anyio's default is 40: memory per thread)


class Refused(Exception):
    """A request answered with ``status`` and a one-line JSON error."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def make_app(models, limits: Limits = Limits(), results_root: str | Path | None = None):
    """The ASGI application serving ``models`` (a ``jexp.serve.models.Models``); the results part
    shows the results.md of each experiment under ``results_root`` (default: the models' folder)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from jexp.data import digit_pictures
    from jexp.serve.models import AttackTimeout
    results = Path(results_root) if results_root is not None else models.root
    running, per_client, lock = [0], {}, threading.Lock()

    async def body(request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limits.body_bytes):
            raise Refused(413, f"the picture is larger than {limits.body_bytes:,} bytes" if declared.isdigit()
                          else "a malformed Content-Length")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > limits.body_bytes:
                raise Refused(413, f"the picture is larger than {limits.body_bytes:,} bytes")
        return bytes(data)

    async def picture(request) -> np.ndarray:
        data = await body(request)
        try:
            return digit_pictures.decode_image(data, "the picture", limits.pixels)
        except digit_pictures.DigitError as e:
            status = 413 if "pixels" in str(e) else 400 if "empty" in str(e) else 415
            raise Refused(status, str(e)) from None

    def ink_of(request) -> str:
        ink = request.query_params.get("ink", "auto")
        if ink not in ("auto", "high", "low"):
            raise Refused(422, f"ink must be auto, high or low, not {ink!r}")
        return ink

    def digit(image, ink) -> np.ndarray:
        try:
            return digit_pictures.preprocess(image, ink)
        except digit_pictures.DigitError as e:
            raise Refused(422, str(e)) from None

    def need_digits():
        if not models.digits:
            raise Refused(503, f"no digit model in {models.root} (train one with `jexp run digits`)")

    async def info(request):
        return JSONResponse({
            "digit_models": [{"name": m.name, "about": m.about, "calibrated": m.temperature is not None}
                             for m in models.digits],
            "emotion_classes": list(models.emotion[0]) if models.emotion else [],
            "missing": models.missing,
            "limits": {"body_bytes": limits.body_bytes, "pixels": limits.pixels,
                       "attack_seconds": limits.attack_seconds, "max_rounds": models.attack_cfg.max_rounds}})

    async def digits(request):
        need_digits()
        ink = ink_of(request)
        x = digit(await picture(request), ink)
        answers = await run_in_threadpool(models.predict, x)
        return JSONResponse({"seen": np.round(x.astype(np.float64), 3).tolist(), "models": answers})

    async def attack(request):
        need_digits()
        raw = request.query_params.get("target", "")
        if not raw.isdigit() or not 0 <= int(raw) <= 9:
            raise Refused(422, f"target must be a digit 0-9, not {raw!r}")
        ink = ink_of(request)
        x = digit(await picture(request), ink)
        client = request.client.host if request.client else "?"
        with lock:
            if per_client.get(client, 0) >= limits.attacks_per_client:
                raise Refused(429, "an attack of yours is still running; wait for it")
            if running[0] >= limits.attacks:
                raise Refused(503, f"{limits.attacks} attacks are running; try again in a few seconds")
            running[0] += 1
            per_client[client] = per_client.get(client, 0) + 1
        try:
            out = await run_in_threadpool(models.attack, x, int(raw), limits.attack_seconds)
        except AttackTimeout as e:
            raise Refused(504, str(e)) from None
        finally:
            with lock:
                running[0] -= 1
                per_client[client] -= 1
                if not per_client[client]:
                    del per_client[client]
        out["seen"] = np.round(x.astype(np.float64), 3).tolist()
        return JSONResponse(out)

    async def emotion(request):
        if models.emotion is None:
            raise Refused(503, f"no emotion model in {models.root} (train one with `jexp run emotion`)")
        image = await picture(request)
        return JSONResponse(await run_in_threadpool(models.faces, image))

    def experiments() -> list[str]:
        return sorted(p.parent.name for p in results.glob("*/results.md") if NAME.match(p.parent.name))

    def figures(name: str) -> list[str]:
        return sorted(p.name for p in (results / name).glob("*.png") if FIGURE.match(p.name))

    async def result_list(request):
        out = []
        for name in experiments():
            title = (results / name / "results.md").read_text(encoding="utf-8").split("\n", 1)[0].lstrip("# ")
            out.append({"name": name, "title": title, "figures": figures(name)})
        return JSONResponse(out)

    async def result_page(request):
        name = request.path_params["name"]
        if name not in experiments():
            raise Refused(404, f"no results for {name!r}")
        html = markdown_html((results / name / "results.md").read_text(encoding="utf-8"), f"/files/{name}/")
        rest = [f for f in figures(name) if f'src="/files/{name}/{f}"' not in html]  # the figures it does not show
        if rest:
            html += "\n<h2>Figures</h2>\n" + "\n".join(
                f'<figure><img src="/files/{name}/{f}" alt="{f}" loading="lazy"><figcaption>{f}</figcaption></figure>'
                for f in rest)
        return JSONResponse({"name": name, "html": html})

    async def figure(request):
        name, file = request.path_params["name"], request.path_params["file"]
        if name not in experiments() or not FIGURE.match(file) or not (results / name / file).is_file():
            raise Refused(404, "no such figure")
        return FileResponse(results / name / file, media_type="image/png")

    async def page(request):
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def refused(request, e: Refused):
        return JSONResponse({"error": str(e)}, status_code=e.status)

    async def http_error(request, e: HTTPException):
        return JSONResponse({"error": e.detail}, status_code=e.status_code)

    async def failed(request, e: Exception):  # a bug: the request fails, the server does not
        return JSONResponse({"error": f"internal error ({type(e).__name__})"}, status_code=500)

    async def favicon(request):
        return Response(status_code=204)

    routes = [Route("/", page), Route("/favicon.ico", favicon), Route("/api/info", info),
              Route("/api/digits", digits, methods=["POST"]), Route("/api/attack", attack, methods=["POST"]),
              Route("/api/emotion", emotion, methods=["POST"]), Route("/api/results", result_list),
              Route("/api/results/{name}", result_page), Route("/files/{name}/{file}", figure),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        import anyio.to_thread
        anyio.to_thread.current_default_thread_limiter().total_tokens = limits.threads
        yield

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={Refused: refused, HTTPException: http_error, Exception: failed})


def markdown_html(text: str, figures_url: str) -> str:
    """A results.md as HTML (Python-Markdown, tables on), its relative figure links under ``figures_url``;
    raw HTML in the text is escaped, not passed through."""
    import markdown
    out = markdown.markdown(text.replace("&", "&amp;").replace("<", "&lt;"), extensions=["tables"])
    return re.sub(r'(src|href)="(?![a-z]+:|/|#)([^"]+)"', lambda m: f'{m[1]}="{figures_url}{m[2]}"', out)
