"""The live market on a Solara page driven by Mesa's model controller: `infogap viz`.

`controls` turns a scenario arm into Mesa `model_params`, `live` holds the
models the page steps (one arm, or two arms in lockstep), `market_view` and
`charts` draw them as SVG (`svg.py`: it renders offline, unlike Altair),
`page` is the frame (controls, what is shown, tiles), `app` assembles the one-arm and
twin pages, and `server` serves them on loopback.
Nothing here imports solara at package import time, so `infogap run` stays fast.
"""
