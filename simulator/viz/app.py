"""The pages: one arm of a scenario (`Page`) or two arms in lockstep (`TwinPage`).

`infogap viz` serves this module and names the scenario and arms in
environment variables, because the Solara server imports the module itself.
`solara run simulator.viz.app` (or `...app:TwinPage`) also works and shows
the default scenario. Each browser tab gets its own model.
"""

from __future__ import annotations

from typing import Any

import solara

from .components import page_components
from .controls import key_of, model_params
from .live import LiveMarket, TwinMarket, differences, markets_of
from .page import MarketPage, initial_kwargs, intro_html
from .router_fix import fix_router_template
from .setup import Setup, setup_from_env

# Before Solara builds its router for the first page.
fix_router_template()


def single_params(setup: Setup) -> dict[str, Any]:
    """Mesa `model_params` of the one-arm page: fixed arm parameters plus controls."""
    arm = setup.arms[0]
    return {"params": setup.scenario.arms[arm], "arm": arm,
            **model_params(setup.scenario.arms[arm], setup.scenario.seed)}


def twin_params(setup: Setup) -> dict[str, Any]:
    """Mesa `model_params` of the twin page: which arms, plus the controls they share.

    A control for a key on which the two arms differ is left out: that
    difference is what the page compares.
    """
    left, right = setup.arms
    arms = setup.scenario.arms
    differ = differences(arms[left], arms[right])
    shared = {name: spec for name, spec in model_params(arms[left], setup.scenario.seed).items()
              if key_of(name) not in differ}
    choices = list(setup.scenario.arm_names)
    return {"arms": tuple((name, arms[name]) for name in choices),
            "left": {"type": "Select", "label": "Left arm", "value": left, "values": choices},
            "right": {"type": "Select", "label": "Right arm", "value": right,
                      "values": choices},
            **shared}


def title(setup: Setup) -> str:
    shown = " vs ".join(setup.arms)
    return f"infogap · {setup.scenario.name} · {shown}"


def intro(setup: Setup):
    """What the page shows, for the arms the model runs now (Reset may pick others)."""
    scenario = setup.scenario

    def html(model) -> str:
        arms = [(name, scenario.arm_descriptions.get(name, "")) for name, _ in markets_of(model)]
        shown = " vs ".join(name for name, _ in arms)
        return intro_html(f"{scenario.name}: {shown}", scenario.description, arms)

    return html


@solara.component
def Page():
    """One arm of the scenario, live."""
    setup = solara.use_memo(lambda: setup_from_env(twin=False), [])
    params = single_params(setup)
    model = solara.use_memo(lambda: LiveMarket(**initial_kwargs(params)), [])
    return MarketPage(model, params, page_components(twin=False), title(setup), intro(setup))


@solara.component
def TwinPage():
    """Two arms of the scenario stepping in lockstep from the same seed, side by side."""
    setup = solara.use_memo(lambda: setup_from_env(twin=True), [])
    params = twin_params(setup)
    model = solara.use_memo(lambda: TwinMarket(**initial_kwargs(params)), [])
    return MarketPage(model, params, page_components(twin=True), title(setup) + " (twin)",
                      intro(setup))
