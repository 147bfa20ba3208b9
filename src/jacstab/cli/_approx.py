"""``approx21``: Approximation 2.1 under test over N networks (Dadoun et al. 2025, Section 6.1, Figures 5-6)."""

from __future__ import annotations

import click

from jacstab._checks import CORRELATIONS, GATE_MODELS, PAIRINGS
from jacstab.cli._common import api, input_note, note, write_all
from jacstab.cli._options import Choice, Command, format_option, option

_NET, _TEST = "Network", "Approximation 2.1"
COLUMNS = ["test", "statistic", "p_value", "df", "n"]


@click.command(
    cls=Command,
    example=[
        "jacstab approx21 --width 100 --depth 30 --layer 10 --networks 200 --format csv",
        "jacstab approx21 -n 64 -L 12 -l 6 -N 200 --eta 0.125 --pairing factor",
    ],
)
@option("--width", "-n", group=_NET, type=int, required=True, help="Hidden width n (>= 2).")
@option("--depth", "-L", group=_NET, type=int, required=True, help="Depth L (>= 2).")
@option("--sigma2", group=_NET, type=float, default=2.0, show_default=True, help="W_ij ~ N(0, sigma2/n).")
@option("--in-dim", group=_NET, type=int, default=None, help="Input dimension d (default: width).")
@option("--gates", group=_NET, type=Choice(GATE_MODELS), default="forward", show_default=True,
        help="Forward-pass gates, or fixed iid Bernoulli(--gate-p) (the model itself: a control).")  # fmt: skip
@option("--gate-p", group=_NET, type=float, default=0.5, show_default=True, help="P(gate open), bernoulli.")
@option("--eta", group=_NET, type=float, default=0.0, show_default=True, help="Paper's W_ind + eta w (Section 5).")
@option("--correlation", group=_NET, type=Choice(CORRELATIONS), default="none", show_default=True)
@option("--rho", group=_NET, type=float, default=0.0, show_default=True, help="Target correlation.")
@option("--layer", "-l", group=_TEST, type=int, default=10, show_default=True, help="l in [1, L-1]: D_l, W_l.")
@option("--networks", "-N", group=_TEST, type=int, default=1000, show_default=True, help="N networks (>= 2).")
@option("--pairs", "-P", group=_TEST, type=int, default=None, help="Random gate pairs for the KS [min(50, n(n-1)/2)].")
@option("--pairing", group=_TEST, type=Choice(PAIRINGS), default="same", show_default=True,
        help="T_D of D_l (same: the paper's pairing with W_l) or of D_{l-1} (factor: J's W_l D_{l-1}).")  # fmt: skip
@option("--seed0", group=_TEST, type=int, default=0, show_default=True, help="Networks are seeds S0..S0+N-1.")
@format_option()
def approx21(fmt: str, layer: int, networks: int, pairs: int, pairing: str, seed0: int, **o) -> None:
    """Test Approximation 2.1 (gates iid Bernoulli(1/2), independent of the weights) on N ReLU networks at one
    input: rows {test, statistic, p_value, df, n} for chi2_pair (one random pair of entries of D_l),
    chi2_pvalues_ks (KS of the pair p-values against Uniform(0,1)), activity_binom (open fraction against p) and
    tw_td_pearson (Fig. 6's T_W, T_D). The other pairing's Pearson test is noted on stderr.
    """
    spec = api("NetSpec")(**o)
    from jacstab.stats import approx21 as run

    result = run(spec, networks, layer, pairs=pairs, pairing=pairing, seed0=seed0)
    input_note(spec)
    tests = result.tests()
    for t in tests:
        if t.note:
            note(f"note: {t.test}: {t.note}")
    other = "factor" if pairing == "same" else "same"
    r = result.pearson(other)
    note(f"note: pairing={other}: Pearson r = {r.statistic:.4g}, p = {r.p_value:.3g} (n = {r.n})")
    write_all(COLUMNS, fmt, [t.row() for t in tests])


COMMANDS = (approx21,)
