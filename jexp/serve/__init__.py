"""``jexp serve``: the models in a web page on this machine.

- ``models``: what a request computes (the committed digit models, the generator attack from a
  drawing, the emotion of the faces in a frame), compiled once at start.
- ``app``: the Starlette application: the page, its JSON endpoints, its limits (``Limits``).
- ``server``: binding (loopback unless told otherwise) and running it under uvicorn.
- ``static/``: the page itself (HTML, script, style), served by jexp: nothing is fetched from elsewhere.
"""
