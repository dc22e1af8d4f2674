"""The live view without a browser: controls, models, drawings, pages (solara.render), CLI checks."""

from __future__ import annotations

import base64
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import ipyvuetify as v
import numpy as np
import pandas as pd
import pytest
import solara

from simulator.cli import main
from simulator.errors import UserError
from simulator.params import INFORMATION_REGIMES, MarketParams, iter_fields
from simulator.runner import replication_seeds, run_one
from simulator.scenario import Scenario
from simulator.viz.app import Page, TwinPage, initial_kwargs, single_params, twin_params
from simulator.viz.charts import CHARTS, draw_metric, y_limits
from simulator.viz.controls import SEED, model_params, name_of, overrides, parse_seed
from simulator.viz.live import LiveMarket, TwinMarket, markets_of
from simulator.viz.market_view import draw_market, market_marks
from simulator.viz.server import warm_up
from simulator.viz.setup import ENV_ARMS, ENV_SCENARIO, make_setup

ROOT = Path(__file__).resolve().parent.parent

ONE_ARM = """\
[scenario]
seed = 3
[market]
buyers = 60
sellers = 20
[arms.only.market]
information = "noisy"
"""


@pytest.fixture
def tiny(scenario_file):
    return Scenario.load(scenario_file())


# ---------------------------------------------------------------- controls
def test_controls_offer_the_named_levers_and_every_mechanism_at_the_arm_values(tiny):
    params = tiny.arms["asymmetric"]
    controls = model_params(params, tiny.seed)
    assert controls["information"]["type"] == "Select"
    assert controls["information"]["values"] == list(INFORMATION_REGIMES)
    assert controls["information"]["value"] == "asymmetric"
    assert controls["pricing"]["value"] == "market"
    assert controls["buyers"]["value"] == 60 and controls["sellers"]["value"] == 20
    assert controls["prospect__lam"]["type"] == "SliderFloat"
    assert controls["prospect__lam"]["value"] == params.prospect.lam
    assert controls["signal__noise"]["value"] == params.signal.noise
    assert controls[SEED] == {"type": "InputText", "label": "Seed", "value": "7"}
    switches = [key for key, kind, _d, _m in iter_fields(MarketParams)
                if key.endswith(".enabled") and kind == "bool"]
    assert len(switches) >= 2
    for key in switches:
        assert controls[name_of(key)]["type"] == "Checkbox"
        assert controls[name_of(key)]["value"] is False


def test_a_slider_widens_to_show_an_arm_value_beyond_its_usual_bounds():
    controls = model_params(MarketParams.from_dict({"buyers": 5000, "prospect": {"lam": 1.0}}), 0)
    assert controls["buyers"]["max"] == 5000 and controls["buyers"]["value"] == 5000
    assert controls["prospect__lam"]["min"] == 1.0


def test_control_values_become_dotted_overrides_and_mistakes_are_user_errors():
    assert overrides({"prospect__lam": 1.5, "reviews__enabled": True, SEED: "4"}) == {
        "prospect.lam": 1.5, "reviews.enabled": True}
    with pytest.raises(UserError, match="not a control"):
        overrides({"prospect__lamda": 1.5})
    assert parse_seed(" 12 ") == 12 and parse_seed(5) == 5
    for bad in ("abc", "-1", "1.5", "", True):
        with pytest.raises(UserError, match="seed: expected a whole number"):
            parse_seed(bad)


# ------------------------------------------------------------------ models
def test_the_page_at_its_defaults_replays_replication_zero_of_infogap_run(tiny):
    setup = make_setup(tiny.path)
    warm_up(make_setup(tiny.path, twin=True))  # what the server does first changes nothing
    model = LiveMarket(**initial_kwargs(single_params(setup)))
    assert model.params == tiny.arms["asymmetric"] and model.arm == "asymmetric"
    for _ in range(25):
        model.step()
    expected = run_one("asymmetric", 0, tiny.arms["asymmetric"], 25,
                       replication_seeds(tiny.seed, 1)[0]).timeseries
    got = model.metrics_frame()
    pd.testing.assert_frame_equal(got, expected.set_index("step")[got.columns])


def test_controls_change_the_market_the_page_builds(tiny):
    kwargs = initial_kwargs(single_params(make_setup(tiny.path)))
    kwargs.update(information="transparent", prospect__lam=1.0, reviews__enabled=True,
                  buyers=80, seed="11")
    model = LiveMarket(**kwargs)
    p = model.params
    assert (p.information, p.prospect.lam, p.reviews.enabled, p.buyers) == (
        "transparent", 1.0, True, 80)
    assert model.seed == 11 and model.buyers.active.sum() == 80
    assert model.changed == ["buyers", "information", "prospect.lam", "reviews.enabled"]
    assert LiveMarket(tiny.arms["asymmetric"], seed=1).changed == []


def test_twin_arms_step_in_lockstep_and_each_matches_its_arm_run_alone(tiny):
    arms = tuple((name, tiny.arms[name]) for name in tiny.arm_names)
    twin = TwinMarket(arms, seed=tiny.seed, buyers=50, information="noisy")
    (left, a), (right, b) = markets_of(twin)
    assert (left, right) == ("asymmetric", "transparent")
    assert twin.differences == {"information": ("asymmetric", "transparent")}
    # Shared controls reach both arms; the compared key keeps each arm's value.
    assert a.params.buyers == b.params.buyers == 50
    assert (a.params.information, b.params.information) == ("asymmetric", "transparent")
    for _ in range(20):
        twin.step()
    assert twin.steps == a.steps == b.steps == 20
    for name, market in ((left, a), (right, b)):
        alone = LiveMarket(tiny.arms[name], arm=name, seed=tiny.seed, buyers=50)
        for _ in range(20):
            alone.step()
        pd.testing.assert_frame_equal(market.metrics_frame(), alone.metrics_frame())
    assert not np.allclose(a.metrics_frame()["volume"], b.metrics_frame()["volume"])


def test_a_mistyped_seed_still_builds_a_market_and_says_what_was_wrong(tiny):
    model = LiveMarket(tiny.arms["asymmetric"], seed="12a")
    assert model.seed == 0
    assert model.problem == "seed: expected a whole number >= 0, found '12a'; running seed 0 instead"
    assert LiveMarket(tiny.arms["asymmetric"], seed="12").problem == ""
    twin = TwinMarket(tuple(tiny.arms.items()), seed="x")
    assert twin.problem.startswith("seed: expected") and twin.sides[0][1].seed == 0


def test_twin_with_an_unknown_arm_is_a_user_error(tiny):
    arms = tuple(tiny.arms.items())
    with pytest.raises(UserError, match="did you mean 'transparent'"):
        TwinMarket(arms, left="asymmetric", right="transparnt")


# ------------------------------------------------------------- market view
def _stepped(tiny, arm="transparent", steps=3, **controls):
    model = LiveMarket(tiny.arms[arm], arm=arm, seed=tiny.seed, **controls)
    for _ in range(steps):
        model.step()
    return model


def test_market_marks_show_every_agent_and_every_purchase_of_a_small_market(tiny):
    model = _stepped(tiny)
    snap = model.snapshot()
    marks = market_marks(snap)
    assert len(marks.seller_quality) == snap["seller_in_market"].sum() == 20
    assert np.all(np.diff(marks.seller_quality) >= 0)  # sorted by true quality
    assert len(marks.buyer_trust) == snap["buyer_active"].sum()
    assert marks.seller_count.max() == marks.buyer_count.max() == 1
    volume = model.metrics["volume"]
    assert volume > 0
    assert marks.links[:, 2].sum() == volume == marks.seller_sales.sum()
    # Every link joins a buyer to the seller it bought from.
    active = np.flatnonzero(snap["buyer_active"])
    assert marks.links.shape[0] == (snap["buyer_seller"][active] >= 0).sum()


def test_market_marks_group_a_large_market_and_conserve_counts(tiny):
    model = _stepped(tiny, buyers=700, sellers=90)
    snap = model.snapshot()
    marks = market_marks(snap, max_sellers=25, max_buyers=100)
    assert len(marks.seller_quality) == 25 and len(marks.buyer_trust) == 100
    assert marks.seller_count.sum() == 90 and marks.buyer_count.sum() == 700
    assert marks.links[:, 2].sum() == model.metrics["volume"] == marks.seller_sales.sum()
    trust = snap["buyer_trust"][snap["buyer_active"]]
    assert np.isclose((marks.buyer_trust * marks.buyer_count).sum(), trust.sum())


SVG = "{http://www.w3.org/2000/svg}"


def _svg(text: str) -> ET.Element:
    """A picture of the page, parsed (it must be well-formed SVG)."""
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    return root


def _group(root: ET.Element, css_class: str) -> list[ET.Element]:
    """The children of the group of this class."""
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == css_class]
    assert len(groups) == 1, css_class
    return list(groups[0])


def _numbers(path_data: str) -> np.ndarray:
    """The (x, y) points of an SVG path made of M and L commands."""
    return np.array([float(v) for v in re.findall(r"-?[\d.]+", path_data)]).reshape(-1, 2)


def test_market_view_draws_one_point_per_mark(tiny):
    marks = market_marks(_stepped(tiny).snapshot())
    view = _svg(draw_market(marks, "t"))
    sellers, buyers = _group(view, "sellers"), _group(view, "buyers")
    assert len(sellers) + len(buyers) == len(marks.seller_quality) + len(marks.buyer_trust)
    assert len(sellers) == len(marks.seller_quality) and len(buyers) == len(marks.buyer_trust)
    hollow = sum(c.get("fill") == "none" for c in sellers)
    assert hollow == (marks.seller_offering < 0.5).sum()
    assert len(_group(view, "links")) == len(marks.links)
    assert [t.text for t in view.iter(f"{SVG}text") if t.get("class") == "title"] == ["t"]


def test_metric_chart_draws_a_line_per_arm_with_gaps_where_nothing_traded():
    a = pd.Series([0.5, np.nan, 0.4], index=[1, 2, 3])
    b = pd.Series([0.7, 0.7, 0.8], index=[1, 2, 3])
    chart = _svg(draw_metric("price", [("left", a), ("right", b)]))
    lines = [p for p in chart.iter(f"{SVG}path") if p.get("class") == "arm"]
    assert [line.get("data-arm") for line in lines] == ["left", "right"]
    left, right = (line.get("d") for line in lines)
    assert left.count("M") == 2 and "L" not in left  # no line across step 2 (no trade)
    assert right.count("M") == 1 and right.count("L") == 2
    assert len(_group(chart, "legend")) > 0
    assert y_limits("trust", [("x", b)]) == (-0.02, 1.02)


# ------------------------------------------------------------------- setup
def test_setup_chooses_arms_for_single_and_twin_pages(tiny):
    assert make_setup(tiny.path).arms == ("asymmetric",)
    assert make_setup(tiny.path, ["transparent"]).arms == ("transparent",)
    assert make_setup(tiny.path, twin=True).arms == ("asymmetric", "transparent")
    assert make_setup(tiny.path, ["transparent"], twin=True).arms == (
        "asymmetric", "transparent")
    assert make_setup(tiny.path, ["transparent", "asymmetric"], twin=True).arms == (
        "transparent", "asymmetric")


def test_twin_controls_leave_out_what_the_arms_differ_in(tiny):
    params = twin_params(make_setup(tiny.path, twin=True))
    assert "information" not in params
    assert params["left"]["value"] == "asymmetric" and params["right"]["value"] == "transparent"
    assert params["left"]["values"] == ["asymmetric", "transparent"]
    assert "buyers" in params and "prospect__lam" in params


def test_viz_command_reports_mistakes_in_one_line_before_serving(scenario_file, capsys):
    path = scenario_file()
    cases = [
        (["viz", str(path.with_name("missing.toml"))], "no such scenario file"),
        (["viz", str(path), "--arm", "transparnt"], "did you mean 'transparent'"),
        (["viz", str(path), "--arm", "asymmetric", "--arm", "transparent"],
         "expected one arm (or two with --twin)"),
        (["viz", str(scenario_file(ONE_ARM, "one.toml")), "--twin"], "at least two arms"),
        (["viz", str(path), "--port", "70000"], "from 0 to 65535"),
        (["viz", str(path), "--host", "no-such-host.invalid"], "--host"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert err.count("\n") == 1


def test_viz_command_refuses_a_busy_port(scenario_file, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["viz", str(scenario_file()), "--port", str(port)]) == 2
    assert f"--port {port}: cannot listen there" in capsys.readouterr().err


# -------------------------------------------------------------- pages
@solara.component
def _InLayout(page):
    """The page inside an AppLayout, so its sidebar (controls) renders as in the server."""
    with solara.AppLayout() as layout:
        page()
    return layout


def _render(page, monkeypatch, path, arms=""):
    monkeypatch.setenv(ENV_SCENARIO, str(path))
    monkeypatch.setenv(ENV_ARMS, arms)
    _box, rc = solara.render(_InLayout(page), handle_error=False)
    return rc


def _html(rc, css_class: str) -> list[str]:
    """The inner HTML of every HTML widget of this CSS class, and of every element of
    this class inside an HTML widget (the tiles are one widget), in page order."""
    found = []
    for widget in rc.find(solara.widgets.HTML).widgets:
        if css_class in (widget.attributes or {}).get("class", "").split():
            found.append(widget.unsafe_innerHTML)
        else:
            found += [m.group(2) for m in re.finditer(
                rf'<(\w+) class="{css_class}"[^>]*>(.*?)</\1>', widget.unsafe_innerHTML)]
    return found


def _status(rc) -> list[str]:
    return _html(rc, "infogap-market-line")


def _images(rc) -> list[bytes]:
    """Every picture on the page (the SVG documents inside the images' data URLs)."""
    sources = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"',
                         "".join(_html(rc, "infogap-tiles")))
    return [base64.b64decode(source) for source in sources]


def test_page_renders_controls_and_charts_and_steps_and_resets(monkeypatch, scenario_file):
    rc = _render(Page, monkeypatch, scenario_file())
    assert rc.find(v.Select, label="Information regime").widget.v_model == "asymmetric"
    rc.find(v.Slider, label="Buyers").assert_single()
    rc.find(v.Checkbox, label="Reviews: public ratings").assert_single()
    before = _images(rc)
    assert len(before) == 1 + len(CHARTS)
    assert "step 0" in _status(rc)[0]
    # Nothing of Mesa's generic frame: no page tabs, no threads box, no time card.
    assert not rc.find(v.Tab).widgets and not rc.find(v.Checkbox, label="Use Threads").widgets
    assert not [w for w in rc.find(v.Html).widgets if "Time:" in str(w.children)]
    # What is shown, in words; every slider's value beside it, and it follows the slider.
    intro = _html(rc, "infogap-intro")[0]
    assert "tiny: asymmetric" in intro and "Shown: <b>asymmetric</b>" in intro
    assert len(_html(rc, "infogap-caption")) == len(CHARTS)
    assert _html(rc, "infogap-slider-value") == ["150", "1", "60", "20", "2.25", "0.15"]
    rc.find(v.Slider, label="Buyers").widget.v_model = 80
    assert _html(rc, "infogap-slider-value")[2] == "80"

    for _ in range(3):
        rc.find(v.Btn, children=["Step"]).widget.click()
    assert "<b>step 3</b>" in _status(rc)[0]
    after = _images(rc)
    assert all(x != y for x, y in zip(before, after, strict=True))
    assert all(picture.startswith(b"<svg") for picture in after)
    assert "step 3" in _status(rc)[0]

    rc.find(v.Select, label="Information regime").widget.v_model = "transparent"
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert "<b>step 0</b>" in _status(rc)[0]
    assert "information <code>transparent</code>" in _status(rc)[0]
    assert "(changed: buyers, information)" in _status(rc)[0]

    seed = rc.find(v.TextField, label="Seed").widget
    seed.v_model = "x1"
    seed.fire_event("keyup.enter", None)  # the text field reports its value on Enter
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert "found &#x27;x1&#x27;; running seed 0 instead" in _status(rc)[0]


def test_twin_page_shows_both_arms_side_by_side_in_lockstep(monkeypatch, scenario_file):
    rc = _render(TwinPage, monkeypatch, scenario_file())
    assert not rc.find(v.Select, label="Information regime").widgets
    assert rc.find(v.Select, label="Right arm").widget.v_model == "transparent"
    assert len(_images(rc)) == 2 + len(CHARTS)
    for _ in range(2):
        rc.find(v.Btn, children=["Step"]).widget.click()
    left, right = _status(rc)[:2]
    assert left.startswith("<b>asymmetric</b>") and right.startswith("<b>transparent</b>")
    assert "step 2" in left and "step 2" in right


def test_the_router_template_is_valid_so_the_browser_does_not_warn():
    from solara.widgets.widgets import Navigator

    from simulator.viz.router_fix import fix_router_template

    fix_router_template()
    template = Navigator().template
    text = template if isinstance(template, str) else template.template
    assert "module.exports = {" in text and "modules.export" not in text


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_opens_on_both_pages(path):
    setup = make_setup(path, twin=True)
    twin = TwinMarket(**initial_kwargs(twin_params(setup)))
    single = LiveMarket(**initial_kwargs(single_params(make_setup(path))))
    twin.step()
    single.step()
    assert twin.problem == single.problem == ""
    assert set(twin.differences) and not single.changed
    assert single.params == setup.scenario.arms[setup.scenario.baseline]


@pytest.mark.parametrize("names", [["left"], ["left", "right"]])
def test_a_chart_follows_its_data_step_after_step(names):
    rng = np.random.default_rng(1)
    data = {"left": rng.uniform(50, 120, 64), "right": rng.uniform(0, 3, 64)}
    data["left"][3:6] = np.nan    # gaps (no trade)
    data["left"][40:] /= 20       # the y axis must shrink again
    for metric in ("price", "trust"):
        for n in (0, 2, 12, 60, 61):   # markers go at 61 points
            series = [(k, pd.Series(data[k][:n], index=pd.RangeIndex(1, n + 1, name="step")))
                      for k in names]
            chart = _svg(draw_metric(metric, series))
            frame = [r for r in chart.iter(f"{SVG}rect") if r.get("fill") == "none"][-1]
            x, y, w, h = (float(frame.get(k)) for k in ("x", "y", "width", "height"))
            lines = [p for p in chart.iter(f"{SVG}path") if p.get("class") == "arm"]
            assert len(lines) == len(names), (metric, n)
            finite = sum(int(np.isfinite(data[k][:n]).sum()) for k in names)
            points = np.concatenate([_numbers(p.get("d")) for p in lines] + [np.zeros((0, 2))])
            assert len(points) == finite, (metric, n)
            if metric == "price":  # scaled to the data: it spans the plot's height
                inside = (points[:, 0] >= x) & (points[:, 0] <= x + w) & \
                    (points[:, 1] >= y) & (points[:, 1] <= y + h)
                assert inside.all(), (metric, n)
                if finite:  # the highest value near the top
                    assert points[:, 1].min() - y < 0.06 * h, (metric, n)
            plotted = [c for g in chart.iter(f"{SVG}g") if g.get("clip-path")
                       for c in g.iter(f"{SVG}circle")]
            assert len(plotted) == (finite if n <= 60 else 0), (metric, n)
    low, high = y_limits("price", [("left", pd.Series(data["left"][40:]))])
    assert low == 0 and high < 120 / 20 * 1.1   # the axis follows the data down


def test_the_market_view_follows_the_market_step_after_step(tiny):
    model = LiveMarket(tiny.arms["asymmetric"], seed=1, buyers=400, sellers=30)
    q = model.params.quality
    for step in range(4):
        if step:
            model.step()
        marks, title = market_marks(model.snapshot()), f"step {model.steps}"
        view = draw_market(marks, title, (q.low, q.high))
        assert view == draw_market(marks, title, (q.low, q.high))  # only the market counts
        root = _svg(view)
        assert len(_group(root, "sellers")) == len(marks.seller_quality) == 30
        assert len(_group(root, "buyers")) == len(marks.buyer_trust)
        assert len(_group(root, "links")) == len(marks.links)
        assert sum(len(t.text or "") for t in root.iter(f"{SVG}text") if t.get("class") ==
                   "title") == len(title)
