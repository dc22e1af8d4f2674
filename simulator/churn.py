"""Which customer signals predict leaving: a logistic churn model on the buyer-period panel.

Each panel row is a buyer at a step (its trust, tenure, last expectation gap,
disappointments so far, steps in a row without a purchase, price paid, whether it
switched); `left_next` says whether it leaves the market at the next step. Per
arm, a logistic regression (statsmodels) is fitted on some replications and
judged on the others: held-out replications are whole markets the model never
saw, so its AUC says how well the signals generalise, not how well they fit. A
constant predictor (the training leaving rate) has AUC 0.5; Brier score and log
loss are compared with it too.

A coefficient the data cannot size is flagged, not shown as an effect: when
the rows it singles out are fitted at a leaving chance of (almost exactly) 0
or 1, or it exceeds SEPARATION_LOGODDS, it comes from (quasi-)separation,
and its Wald interval, however narrow, is not a confidence interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .stats import mean_ci

OUTCOME = "left_next"
#: Numeric signals, reported per standard deviation (of the training rows).
NUMERIC = ("trust", "tenure", "last_gap", "losses_seen", "idle", "price_paid")
#: Yes/no signals, reported for yes against no.
BINARY = ("switched",)
REQUIRED = ("buyer", "arm", "replication", "step", "segment", *NUMERIC, *BINARY, OUTCOME)
PANEL_FILES = ("panel.csv", "panel.parquet")
DEFAULT_TEST_SHARE = 0.3
CALIBRATION_BINS = 10
#: A coefficient beyond this many log-odds (per sd, or yes vs no: an odds ratio beyond
#: 1 : 22,000) is not an effect a logit can size from these data; it marks separation.
SEPARATION_LOGODDS = 10.0
#: A fitted leaving chance this close to 0 or 1 is "fitted at certainty".
CERTAIN = 1e-9
#: A yes/no or segment coefficient whose rows are fitted at certainty this often is
#: separated (the model says they can never, or must, leave).
CERTAIN_SHARE = 0.95


# -- reading ---------------------------------------------------------------------------------
def find_panel(directory) -> Path:
    """The panel file `infogap run --panel` wrote into `directory`."""
    folder = Path(directory)
    if not folder.exists():
        raise UserError(f"{folder}: no such folder (expected the output folder of "
                        f"`infogap run SCENARIO --panel --out {folder}`)")
    if not folder.is_dir():
        raise UserError(f"{folder}: expected a results folder, found a file")
    for name in PANEL_FILES:
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder}: no panel.csv or panel.parquet; write one with "
                    f"`infogap run SCENARIO --panel --out {folder}`")


def read_panel(path: Path) -> pd.DataFrame:
    """The panel, checked: required columns, no missing values, yes/no outcome."""
    try:
        if path.suffix == ".parquet":
            panel = pd.read_parquet(path)
        else:
            panel = pd.read_csv(path, dtype={"arm": str, "segment": str})
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise UserError(f"{path}: cannot read the panel ({exc})") from None
    missing = [c for c in REQUIRED if c not in panel.columns]
    if missing:
        raise UserError(f"{path}: expected the columns {', '.join(REQUIRED)}; missing "
                        f"{', '.join(missing)}")
    if panel.empty:
        raise UserError(f"{path}: expected buyer-period rows, found none (no buyer was active "
                        "before the last step)")
    for column in REQUIRED:
        blank = int(panel[column].isna().sum())
        if blank:
            raise UserError(f"{path}: column {column}: expected a value in every row, found "
                            f"{blank} empty")
    for column in (OUTCOME, *BINARY):
        panel[column] = _yes_no(panel[column], f"{path}: column {column}")
    for column in NUMERIC:
        if not pd.api.types.is_numeric_dtype(panel[column]):
            raise UserError(f"{path}: column {column}: expected numbers, found "
                            f"{panel[column].dtype} values")
    panel["arm"] = panel["arm"].astype(str)
    panel["segment"] = panel["segment"].astype(str)
    leavers = int(panel[OUTCOME].sum())
    if leavers in (0, len(panel)):
        what = "no buyer ever left" if leavers == 0 else "every buyer left at once"
        raise UserError(f"{path}: {OUTCOME} is {leavers > 0} in all {len(panel)} rows ({what}), "
                        "so there is nothing to predict; run a market where buyers leave "
                        "(e.g. a higher market.trust.leave_below, or more steps)")
    return panel


def _yes_no(values: pd.Series, where: str) -> pd.Series:
    if values.dtype == bool:
        return values
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(list(mapping))
    if bad.any():
        raise UserError(f"{where}: expected True/False, found {values[bad].iloc[0]!r}")
    return text.map(mapping).astype(bool)


# -- fitting ---------------------------------------------------------------------------------
def split_replications(replications, test_share: float = DEFAULT_TEST_SHARE
                       ) -> tuple[list[int], list[int]]:
    """Train on the first replications, test on the last `test_share` of them (at least one
    of each). Replications are independent markets, so which ones are held out is arbitrary;
    taking the last keeps the split reproducible."""
    reps = sorted(int(r) for r in set(replications))
    if len(reps) < 2:
        raise ValueError("need at least two replications to hold some out")
    n_test = min(max(1, round(test_share * len(reps))), len(reps) - 1)
    return reps[:-n_test], reps[-n_test:]


@dataclass
class ArmFit:
    """One arm's churn model, or why there is none (`skipped`)."""

    arm: str
    train_replications: list[int] = field(default_factory=list)
    test_replications: list[int] = field(default_factory=list)
    coefficients: pd.DataFrame | None = None
    performance: dict = field(default_factory=dict)
    calibration: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str = ""
    penalised: bool = False


@dataclass
class ChurnResults:
    source: Path
    rows: int
    test_share: float
    fits: list[ArmFit]

    @property
    def fitted(self) -> list[ArmFit]:
        return [f for f in self.fits if not f.skipped]


def analyse(panel: pd.DataFrame, test_share: float = DEFAULT_TEST_SHARE,
            source: Path | None = None) -> ChurnResults:
    """A churn model per arm (arms in the panel's order)."""
    if not 0 < test_share < 1:
        raise UserError(f"--test-share: expected a fraction between 0 and 1, found {test_share}")
    fits = [fit_arm(rows, str(arm), test_share)
            for arm, rows in panel.groupby("arm", sort=False)]
    result = ChurnResults(Path(source) if source else Path("panel"), len(panel), test_share, fits)
    if not result.fitted:
        reasons = "; ".join(f"{f.arm}: {f.skipped}" for f in fits)
        raise UserError(f"{result.source}: no arm has a churn model to fit ({reasons})")
    return result


def fit_arm(rows: pd.DataFrame, arm: str, test_share: float = DEFAULT_TEST_SHARE) -> ArmFit:
    fit = ArmFit(arm)
    reps = rows["replication"].unique()
    if len(reps) < 2:
        fit.skipped = (f"only {len(reps)} replication, so none can be held out (run with "
                       "--replications 2 or more)")
        return fit
    fit.train_replications, fit.test_replications = split_replications(reps, test_share)
    train = rows[rows["replication"].isin(fit.train_replications)]
    test = rows[rows["replication"].isin(fit.test_replications)]
    if not train[OUTCOME].any():
        fit.skipped = "no buyer left in the training replications (one outcome only)"
        return fit
    if train[OUTCOME].all():
        fit.skipped = "every training row is a leaver (one outcome only)"
        return fit
    # A segment with no leaver in training would need an infinite coefficient: model the
    # others, and say so.
    events = train.groupby("segment")[OUTCOME].agg(["sum", "count"])
    silent = [s for s, e in events.iterrows() if e["sum"] in (0, e["count"])]
    if silent and len(silent) < len(events):
        fit.notes.append(f"segment{'s' if len(silent) > 1 else ''} {', '.join(silent)}: no "
                         "leaver in the training replications, left out of this arm's model")
        train = train[~train["segment"].isin(silent)]
        test = test[~test["segment"].isin(silent)]
    design = Design.from_training(train, fit.notes)
    x_train, x_test = design.matrix(train), design.matrix(test)
    y_train = train[OUTCOME].to_numpy(dtype=float)
    groups = pd.factorize(pd.MultiIndex.from_frame(train[["replication", "buyer"]]))[0]
    model = _fit_logit(y_train, x_train, groups, fit.notes)
    fit.coefficients = design.coefficient_table(model)
    flag_separation(fit.coefficients, x_train, model.predict(x_train), model.penalised,
                    design.dummies, fit.notes)
    p_test = model.predict(x_test)
    fit.penalised = model.penalised
    fit.performance = _performance(test, p_test, float(y_train.mean()), train, fit)
    fit.calibration = calibration_bins(test[OUTCOME].to_numpy(dtype=float), p_test)
    return fit


class Design:
    """The design matrix: numeric signals standardised on the training rows, yes/no signals
    as 0/1, segment dummies against the largest segment, and a constant."""

    def __init__(self, numeric: dict[str, tuple[float, float]], binary: list[str],
                 segments: list[str], reference: str | None):
        self.numeric, self.binary = numeric, binary
        self.segments, self.reference = segments, reference

    @classmethod
    def from_training(cls, train: pd.DataFrame, notes: list[str]) -> Design:
        numeric = {}
        for name in NUMERIC:
            x = train[name].to_numpy(dtype=float)
            sd = float(x.std())
            if sd > 1e-12:
                numeric[name] = (float(x.mean()), sd)
            else:
                notes.append(f"{name} is the same in every training row, so it cannot "
                             "predict anything here: left out")
        binary = []
        for name in BINARY:
            if train[name].nunique() < 2:
                notes.append(f"{name} is always {bool(train[name].iloc[0])} in training: "
                             "left out")
                continue
            events = train.groupby(name)[OUTCOME].agg(["sum", "count"])
            pure = [bool(v) for v, e in events.iterrows() if e["sum"] in (0, e["count"])]
            if pure:
                what = "left" if events.loc[pure[0], "sum"] else "stayed"
                notes.append(f"{name}: every training row with {name} = {pure[0]} {what} "
                             "at the next step, so its coefficient would be infinite "
                             "(separation): left out")
                continue
            binary.append(name)
        counts = train["segment"].value_counts()
        order = sorted(counts.index, key=lambda s: (-counts[s], s))
        reference = order[0] if len(order) > 1 else None
        return cls(numeric, binary, order[1:], reference)

    @property
    def names(self) -> list[str]:
        return ["const", *self.numeric, *self.binary,
                *(f"segment[{s}]" for s in self.segments)]

    @property
    def dummies(self) -> set[str]:
        """Coefficients of 0/1 columns (yes/no signals and segments)."""
        return {*self.binary, *(f"segment[{s}]" for s in self.segments)}

    def matrix(self, rows: pd.DataFrame) -> np.ndarray:
        columns = [np.ones(len(rows))]
        for name, (mean, sd) in self.numeric.items():
            columns.append((rows[name].to_numpy(dtype=float) - mean) / sd)
        for name in self.binary:
            columns.append(rows[name].to_numpy(dtype=float))
        for segment in self.segments:
            columns.append((rows["segment"] == segment).to_numpy(dtype=float))
        return np.column_stack(columns)

    def coefficient_table(self, model: LogitFit) -> pd.DataFrame:
        ci, params = model.ci, model.params
        rows = []
        for i, name in enumerate(self.names):
            if name == "const":
                unit = "log-odds at the training means"
            elif name in self.numeric:
                unit = f"per sd ({_fmt(self.numeric[name][1])})"
            elif name in self.binary:
                unit = "yes vs no"
            else:
                unit = f"vs segment {self.reference}"
            rows.append({"feature": name, "coef": params[i], "ci_low": ci[i, 0],
                         "ci_high": ci[i, 1], "p_value": float(model.pvalues[i]),
                         "odds_ratio": math.exp(params[i]) if params[i] < 700 else math.inf,
                         "unit": unit})
        return pd.DataFrame(rows)


def flag_separation(table: pd.DataFrame, x: np.ndarray, p: np.ndarray, penalised: bool,
                    dummies: set[str], notes: list[str]) -> None:
    """Add `separated` (and say why in `notes`) to a coefficient table, in place.

    A coefficient is separated when the fit is the ridge fallback (maximum likelihood has
    no finite solution), when it exceeds SEPARATION_LOGODDS, or, for a yes/no or segment
    column, when nearly all the rows it singles out are fitted at certainty. Its size then
    reflects how far the optimiser went, not an effect, and its interval means nothing.
    """
    certain = (p < CERTAIN) | (p > 1 - CERTAIN)
    flags = []
    for i, row in enumerate(table.itertuples()):
        if row.feature == "const":
            flags.append(False)
            continue
        share = float(certain[x[:, i] == 1].mean()) if row.feature in dummies else math.nan
        huge = abs(row.coef) > SEPARATION_LOGODDS
        pinned = row.feature in dummies and share >= CERTAIN_SHARE
        flags.append(penalised or huge or pinned)
        if penalised or not (huge or pinned):
            continue
        why = [f"coefficient {_fmt(row.coef)}"
               + (f" (beyond +-{SEPARATION_LOGODDS:g} log-odds)" if huge else "")]
        if row.feature in dummies:
            why.append(f"{share:.0%} of its {int((x[:, i] == 1).sum()):,} training rows are "
                       f"fitted at a leaving chance within {CERTAIN:g} of 0 or 1")
        notes.append(f"{row.feature}: quasi-separated, not an effect: " + "; ".join(why)
                     + ". The rows it singles out are predicted (almost) with certainty, so "
                     "its size is set by separation and its interval is not a confidence "
                     "interval; read only its sign")
    table["separated"] = flags


#: Ridge penalty (per observation, on standardised signals) of the fallback fit when maximum
#: likelihood has no finite solution.
RIDGE = 1e-3


@dataclass
class LogitFit:
    """Fitted coefficients; intervals and p-values are NaN for the penalised fallback."""

    params: np.ndarray
    ci: np.ndarray
    pvalues: np.ndarray
    penalised: bool = False

    def predict(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(x @ self.params)


def _fit_logit(y: np.ndarray, x: np.ndarray, groups: np.ndarray, notes: list[str]) -> LogitFit:
    """Maximum likelihood logit with standard errors clustered by buyer (a buyer's rows are
    not independent). When the signals separate leavers from stayers exactly, maximum
    likelihood has no finite solution: a slightly ridge-penalised fit stands in (for
    prediction; its coefficients have no intervals)."""
    import statsmodels.api as sm

    problem = ""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            model = sm.Logit(y, x).fit(disp=0, maxiter=200, cov_type="cluster",
                                       cov_kwds={"groups": groups})
        except (np.linalg.LinAlgError, ValueError) as exc:  # singular: (quasi-)separation
            model, problem = None, f"maximum likelihood failed ({exc})"
    perfect = [w for w in caught if "separation" in str(w.message).lower()]
    if model is not None:
        ci = np.asarray(model.conf_int(0.05), dtype=float)
        if not model.mle_retvals.get("converged", True):
            problem = "maximum likelihood did not converge"
        elif not np.isfinite(ci).all():
            problem = "the coefficients' standard errors are undefined"
        elif perfect:
            problem = f"statsmodels: {str(perfect[0].message).splitlines()[0]}"
    if not problem:
        seen = set()
        for w in caught:
            text = str(w.message).split("\n")[0]
            if w.category.__name__ not in ("DeprecationWarning", "FutureWarning",
                                           "RuntimeWarning") and text not in seen:
                seen.add(text)
                notes.append(f"statsmodels: {text}")
        return LogitFit(np.asarray(model.params, dtype=float), ci,
                        np.asarray(model.pvalues, dtype=float))
    notes.append(f"{problem}: the signals separate leavers from stayers (almost) exactly, so "
                 f"the coefficients below come from a ridge-penalised fit (alpha {RIDGE:g} "
                 "per row, constant unpenalised) and have no intervals; they show direction, "
                 "not size")
    alpha = np.full(x.shape[1], RIDGE)
    alpha[0] = 0.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ridge = sm.GLM(y, x, family=sm.families.Binomial()).fit_regularized(
            method="elastic_net", alpha=alpha, L1_wt=0.0)
    k = x.shape[1]
    return LogitFit(np.asarray(ridge.params, dtype=float), np.full((k, 2), np.nan),
                    np.full(k, np.nan), penalised=True)


def _performance(test: pd.DataFrame, p: np.ndarray, base_rate: float, train: pd.DataFrame,
                 fit: ArmFit) -> dict:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    y = test[OUTCOME].to_numpy(dtype=int)
    constant = np.full(len(y), base_rate)
    both = 0 < y.sum() < len(y)
    per_rep = []
    for _, part in test.assign(_p=p).groupby("replication", sort=True):
        yy = part[OUTCOME].to_numpy(dtype=int)
        if 0 < yy.sum() < len(yy):
            per_rep.append(roc_auc_score(yy, part["_p"].to_numpy()))
    auc_ci = mean_ci(per_rep)  # a t interval can pass 1 with few replications: clipped
    auc_ci = auc_ci._replace(ci_low=max(auc_ci.ci_low, 0.0), ci_high=min(auc_ci.ci_high, 1.0))
    if not both:
        fit.notes.append("the held-out replications have one outcome only: no AUC")
    eps = 1e-12
    return {
        "arm": fit.arm,
        "train_replications": " ".join(map(str, fit.train_replications)),
        "test_replications": " ".join(map(str, fit.test_replications)),
        "train_rows": len(train), "train_leavers": int(train[OUTCOME].sum()),
        "test_rows": len(test), "test_leavers": int(y.sum()),
        "auc": float(roc_auc_score(y, p)) if both else math.nan,
        "auc_replication_mean": auc_ci.mean, "auc_ci_low": auc_ci.ci_low,
        "auc_ci_high": auc_ci.ci_high, "auc_replications": auc_ci.n,
        "constant_auc": 0.5,
        "penalised": fit.penalised,
        "brier": float(brier_score_loss(y, p)) if len(y) else math.nan,
        "constant_brier": float(brier_score_loss(y, constant)) if len(y) else math.nan,
        "log_loss": float(log_loss(y, np.clip(p, eps, 1 - eps), labels=[0, 1]))
        if len(y) else math.nan,
        "constant_log_loss": float(log_loss(y, np.clip(constant, eps, 1 - eps), labels=[0, 1]))
        if len(y) else math.nan,
    }


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
                     ) -> pd.DataFrame:
    """Held-out rows in bins of equal size by predicted risk: mean predicted vs observed
    leaving rate. A calibrated model lies on the diagonal."""
    if len(y) == 0:
        return pd.DataFrame(columns=["bin", "predicted", "observed", "n"])
    order = np.argsort(p, kind="stable")
    rows = []
    for i, part in enumerate(np.array_split(order, min(bins, len(order)))):
        rows.append({"bin": i + 1, "predicted": float(p[part].mean()),
                     "observed": float(y[part].mean()), "n": len(part)})
    return pd.DataFrame(rows)


# -- writing ---------------------------------------------------------------------------------
def write_churn(result: ChurnResults, directory) -> Path:
    """coefficients.csv, performance.csv, calibration.csv, two plots and report.md,
    written atomically into `directory`."""
    from .output import write_atomically

    return write_atomically(directory, lambda folder: _write_files(result, folder))


def _write_files(result: ChurnResults, folder: Path) -> None:
    from .output import CSV
    from .output import save_figure as _save

    fitted = result.fitted
    pd.concat([f.coefficients.assign(arm=f.arm) for f in fitted], ignore_index=True)[
        ["arm", "feature", "coef", "ci_low", "ci_high", "p_value", "odds_ratio", "unit",
         "separated"]
    ].to_csv(folder / "coefficients.csv", **CSV)
    pd.DataFrame([f.performance for f in fitted]).to_csv(folder / "performance.csv", **CSV)
    pd.concat([f.calibration.assign(arm=f.arm) for f in fitted], ignore_index=True)[
        ["arm", "bin", "predicted", "observed", "n"]].to_csv(folder / "calibration.csv", **CSV)
    _save(plot_calibration(result), folder / "calibration.png")
    _save(plot_coefficients(result), folder / "coefficients.png")
    (folder / "report.md").write_text(report_markdown(result), encoding="utf-8")


def plot_calibration(result: ChurnResults):
    from matplotlib.figure import Figure

    from .output import colors as _colors

    fitted = result.fitted
    fig = Figure(figsize=(4.2 * len(fitted), 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(fitted), squeeze=False)).ravel()
    for ax, fit, color in zip(axes, fitted, _colors(len(fitted)), strict=True):
        cal = fit.calibration
        # Leaving is rare, so most bins sit near 0: a log scale (linear around 0) shows them.
        top = min(1.0, max(float(cal["predicted"].max()), float(cal["observed"].max()),
                           1e-3) * 1.5)
        grid = np.linspace(0, top, 200)
        ax.plot(grid, grid, color="0.6", lw=1, ls="--", label="calibrated")
        ax.plot(cal["predicted"], cal["observed"], "o-", color=color, lw=1.4,
                label=f"{len(cal)} bins of held-out rows")
        for axis in (ax.set_xscale, ax.set_yscale):
            axis("symlog", linthresh=1e-3, linscale=0.5)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        auc = fit.performance.get("auc", math.nan)
        ax.set_title(f"{fit.arm} (held-out AUC {_fmt(auc)})")
        ax.set_xlabel("predicted chance of leaving next step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("observed share leaving")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
               fontsize="small", frameon=False)
    fig.suptitle("Churn model calibration on held-out replications")
    return fig


def plot_coefficients(result: ChurnResults):
    """Coefficients with 95% CIs, one colour per arm (constant left out).

    A separated coefficient gets a hollow diamond and no interval; one beyond the axis
    (the axis is set by the sized coefficients) sits at its edge as an arrow, its value
    written beside it.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from .output import colors as _colors

    fitted = result.fitted
    features = list(dict.fromkeys(name for f in fitted for name in f.coefficients["feature"]
                                  if name != "const"))
    fig = Figure(figsize=(7.6, 0.32 * len(features) * max(1, len(fitted)) ** 0.5 + 1.6),
                 layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(fitted), 1)
    sized = [v for f in fitted if not f.penalised
             for r in f.coefficients.itertuples() if r.feature != "const" and not r.separated
             for v in (r.ci_low, r.ci_high, r.coef) if math.isfinite(v)]
    sized += [r.coef for f in fitted if f.penalised for r in f.coefficients.itertuples()
              if r.feature != "const"]
    reach = 1.15 * max([abs(v) for v in sized] + [1.0])
    separated_any = False
    handles, labels = [], []
    for a, (fit, color) in enumerate(zip(fitted, _colors(len(fitted)), strict=True)):
        table = fit.coefficients.set_index("feature")
        ys, xs, lo, hi, flagged = [], [], [], [], []
        for i, name in enumerate(features):
            if name not in table.index:
                continue
            row = table.loc[name]
            y = i - 0.4 + width * (a + 0.5)
            if row["separated"] and not fit.penalised:
                flagged.append((y, float(row["coef"])))
                continue
            ys.append(y)
            xs.append(row["coef"])
            lo.append(row["coef"] - row["ci_low"])
            hi.append(row["ci_high"] - row["coef"])
        if fit.penalised:  # no intervals: open markers
            handles.append(ax.plot(xs, ys, "o", mfc="none", color=color)[0])
            labels.append(f"{fit.arm} (penalised, no CI)")
        else:
            handles.append(ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", color=color, capsize=2))
            labels.append(fit.arm)
        for y, coef in flagged:
            separated_any = True
            if abs(coef) <= reach:
                ax.plot([coef], [y], "D", mfc="none", color=color, ms=6)
                continue
            edge = math.copysign(reach, coef)
            ax.plot([edge], [y], ">" if coef > 0 else "<", mfc="none", color=color, ms=8)
            ax.annotate(f"{_fmt(coef)}: separated", (edge, y), fontsize="x-small",
                        color=color, va="center", ha="right" if coef > 0 else "left",
                        xytext=(-8 if coef > 0 else 8, 0), textcoords="offset points")
    ax.set_xlim(-reach * 1.02, reach * 1.02)
    ax.axvline(0, color="0.5", lw=1)
    ax.set_yticks(range(len(features)), features)
    ax.invert_yaxis()
    ax.set_xlabel("log-odds of leaving next step (numeric: per sd; yes/no: yes vs no)")
    ax.grid(alpha=0.3, axis="x")
    if separated_any:
        handles.append(Line2D([], [], ls="none", marker="D", mfc="none", color="0.3"))
        labels.append("quasi-separated: sign only, no CI (see report)")
    fig.legend(handles, labels, loc="outside lower center", fontsize="small", frameon=False,
               ncol=min(len(handles), 2))
    fig.suptitle("Churn model coefficients with 95% CIs (clustered by buyer)")
    return fig


def _fmt(x) -> str:
    from .output import fmt

    return fmt(float(x))


def _coefficient_row(r, penalised: bool, number, p_value) -> list[str]:
    """A coefficient as the report shows it; a separated one is not shown as an effect."""
    if penalised:
        return [r.feature, f"{number(r.coef)} (penalised)", number(r.odds_ratio), "-", r.unit]
    if r.separated:
        return [r.feature, f"{number(r.coef)} **separated: no CI, sign only**", "-", "-",
                r.unit]
    return [r.feature, f"{number(r.coef)} [{number(r.ci_low)}, {number(r.ci_high)}]",
            number(r.odds_ratio), p_value(r.p_value), r.unit]


def report_markdown(result: ChurnResults) -> str:
    from .output import fmt_p
    from .output import text_table as _table

    lines = [
        "# Churn model", "",
        f"Which customer signals predict that a buyer leaves the market at the next step. "
        f"Panel: `{result.source}` ({result.rows:,} buyer-steps).", "",
        "## Method", "",
        f"- Outcome: `{OUTCOME}` (the buyer leaves at the next step). Signals: "
        + ", ".join(f"`{n}`" for n in (*NUMERIC, *BINARY)) + ", and the buyer's segment "
        "when there are several.",
        "- Per arm, a logistic regression (statsmodels `Logit`, maximum likelihood) is fitted "
        "on the training replications and judged on the held-out ones "
        f"(the last {result.test_share:g} of them): whole markets the model never saw.",
        "- Numeric signals are standardised on the training rows, so their coefficients are "
        "log-odds per standard deviation; `switched` is yes against no; segments are "
        "against the largest one. 95% intervals use standard errors clustered by buyer "
        "(a buyer's rows are not independent).",
        "- A constant predictor (the training leaving rate) has AUC 0.5; Brier score and log "
        "loss are shown for the model and for that constant (lower is better). The AUC "
        "interval is a t interval over the held-out replications' own AUCs (clipped to "
        "[0, 1]).",
        "- A coefficient marked **separated** is not an effect: the rows it singles out are "
        f"fitted at a leaving chance within {CERTAIN:g} of 0 or 1 (for a yes/no or segment "
        f"signal, {CERTAIN_SHARE:.0%} of its rows or more), or it exceeds "
        f"+-{SEPARATION_LOGODDS:g} log-odds. Its size is set by (quasi-)separation and its "
        "Wald interval, however narrow, is not a confidence interval: read only its sign.", "",
        "## Performance on held-out replications", "",
    ]
    rows = []
    for f in result.fitted:
        p = f.performance
        ci = (f"[{_fmt(p['auc_ci_low'])}, {_fmt(p['auc_ci_high'])}]"
              if p["auc_replications"] >= 2 else "-")
        rows.append([f.arm, f"{p['train_rows']:,} ({p['train_leavers']:,})",
                     f"{p['test_rows']:,} ({p['test_leavers']:,})", _fmt(p["auc"]), ci,
                     f"{_fmt(p['brier'])} vs {_fmt(p['constant_brier'])}",
                     f"{_fmt(p['log_loss'])} vs {_fmt(p['constant_log_loss'])}"])
    lines += _table(["arm", "train rows (leavers)", "test rows (leavers)", "AUC",
                     "AUC 95% CI", "Brier: model vs constant", "log loss: model vs constant"],
                    rows, True)
    lines += ["", "## Coefficients", ""]
    for f in result.fitted:
        lines += [f"### {f.arm}", "",
                  f"Trained on replications {f.performance['train_replications']}, tested on "
                  f"{f.performance['test_replications']}.", ""]
        table = [_coefficient_row(r, f.penalised, _fmt, fmt_p)
                 for r in f.coefficients.itertuples()]
        lines += _table(["signal", "coef [95% CI]", "odds ratio", "p", "unit"], table, True)
        lines += [""] + [f"- {n}" for n in f.notes] + ([""] if f.notes else [])
    skipped = [f for f in result.fits if f.skipped]
    if skipped:
        lines += ["## Arms without a model", ""]
        lines += [f"- **{f.arm}**: {f.skipped}" for f in skipped] + [""]
    lines += ["![coefficients with 95% CIs](coefficients.png)", "",
              "![calibration on held-out replications](calibration.png)", "",
              "Files: `coefficients.csv` (per arm and signal: coef, ci_low, ci_high, p_value, "
              "odds_ratio, unit, separated), `performance.csv` (per arm: rows, leavers, AUC with its "
              "interval, Brier and log loss of the model and of the constant), "
              "`calibration.csv` (per arm and bin of held-out rows: mean predicted, observed "
              "share leaving, n).", ""]
    return "\n".join(lines)
