"""The page frame: run buttons and market controls on the left, what is shown and the tiles on the right.

It takes the place of Mesa's `SolaraViz` frame, whose extras say nothing
about this market (a "Page 0" tab, a "Use Threads" box, a "Time" card), and
whose sliders hide their values. Stepping, playing and resetting are still
Mesa's own `ModelController`, so the page behaves as any Mesa page does.
"""

from __future__ import annotations

from html import escape
from typing import Any

import solara
from mesa.visualization.solara_viz import ModelController

from .components import Tiles
from .router_fix import fix_router_template

#: Milliseconds between steps while playing, at first.
PLAY_INTERVAL = 150

#: How to read the page, under the title of what is shown.
HOW_TO_READ = (
    "<b>Step</b> advances the market one period; <b>&#9654;</b> plays it. The market view "
    "shows who bought from whom in the last step; the charts below follow the market "
    "over the steps. The controls on the left start a new market on <b>Reset</b>.")


def is_control(spec: Any) -> bool:
    """A Mesa `model_params` entry the user sets (a dict with a type), not a fixed argument."""
    return isinstance(spec, dict) and "type" in spec


def initial_kwargs(specs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments Reset passes before anyone touches a control."""
    return {name: spec["value"] if is_control(spec) else spec for name, spec in specs.items()}


def intro_html(title: str, description: str, arms: list[tuple[str, str]]) -> str:
    """The block above the tiles: what market this is, each arm shown, and how to read it.

    (Plain HTML, not Markdown: solara's Markdown fetches KaTeX from a CDN.)
    """
    parts = [f'<div class="infogap-title" style="font-size: 1.25em; font-weight: 600">'
             f"{escape(title)}</div>"]
    if description:
        parts.append(f'<p style="margin: 4px 0">{escape(" ".join(description.split()))}</p>')
    shown = [f"<b>{escape(name)}</b>" + (f": {escape(text.strip().rstrip('.'))}" if text else "")
             for name, text in arms]
    if shown:
        label = "Shown" if len(shown) == 1 else "Side by side, same seed"
        parts.append(f'<p style="margin: 4px 0">{label}: {"; ".join(shown)}.</p>')
    parts.append(f'<p style="margin: 4px 0; color: #555">{HOW_TO_READ}</p>')
    return "".join(parts)


def shown(value: Any) -> str:
    """A slider's value as the page prints it beside the slider."""
    return f"{value:g}" if isinstance(value, float) else str(value)


@solara.component
def ValueSlider(label: str, value: float, on_value, low: float, high: float, step: float,
                whole: bool):
    """A slider with its current value printed at its right, always visible."""
    slider = solara.SliderInt if whole else solara.SliderFloat
    with solara.Row(gap="6px", style="align-items: center") as row:
        with solara.Div(style="flex: 1 1 auto"):
            slider(label, value=value, on_value=on_value, min=low, max=high, step=step)
        solara.HTML(tag="span", unsafe_innerHTML=escape(shown(value)),
                    classes=["infogap-slider-value"],
                    style="min-width: 3.5em; text-align: right; font-variant-numeric: "
                          "tabular-nums")
    return row


@solara.component
def Inputs(specs: dict[str, Any], values: solara.Reactive[dict]):
    """One input per control, at its current value (sliders print it beside them)."""
    for name, spec in specs.items():
        if not is_control(spec):
            continue  # a fixed argument of the model, not a control

        def change(value, name=name):
            values.value = {**values.value, name: value}

        kind, label = spec["type"], spec.get("label", name)
        value = values.value.get(name, spec["value"])
        if kind in ("SliderInt", "SliderFloat"):
            ValueSlider(label, value, change, spec["min"], spec["max"], spec["step"],
                        whole=kind == "SliderInt")
        elif kind == "Select":
            solara.Select(label, value=value, values=spec["values"], on_value=change)
        elif kind == "Checkbox":
            solara.Checkbox(label=label, value=value, on_value=change)
        elif kind == "InputText":
            solara.InputText(label, value=value, on_value=change)
        else:
            raise ValueError(f"control {name!r}: unknown input type {kind!r}")


@solara.component
def MarketPage(model, specs: dict[str, Any], tiles: list, title: str, intro):
    """The whole page for `model` (a Mesa model), with controls `specs` (Mesa `model_params`).

    `tiles` are functions of the model (and step counter) that each draw one tile; `intro(model)` is the
    HTML that says what the page shows (it follows the model across Resets).
    """
    fix_router_template()
    model = solara.use_reactive(model)
    values = solara.use_reactive(initial_kwargs(specs))
    play_interval = solara.use_reactive(PLAY_INTERVAL)
    render_interval = solara.use_reactive(1)
    no_threads = solara.use_reactive(False)

    with solara.AppBar():
        solara.AppBarTitle(title)
    with solara.Sidebar(), solara.Column():
        with solara.Card("Run"):
            ModelController(model, model_parameters=values, play_interval=play_interval,
                            render_interval=render_interval, use_threads=no_threads)
            ValueSlider("Play delay (ms)", play_interval.value, play_interval.set, 0, 1000, 50,
                        whole=True)
            ValueSlider("Steps per redraw", render_interval.value, render_interval.set, 1, 50, 1,
                        whole=True)
        with solara.Card("Market (applied on Reset)"):
            Inputs(specs, values)
    with solara.Column(gap="8px"):
        solara.HTML(tag="div", unsafe_innerHTML=intro(model.value), classes=["infogap-intro"])
        Tiles(model.value, tiles)
