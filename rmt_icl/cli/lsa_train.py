"""``rmt-icl lsa-train``: pretrain a one-layer linear self-attention and compare with theory.

Trains the merged (or Mahankali) LSA from random initialisation on in-context regression prompts
(:func:`rmt_icl.lsa.train_lsa`), then reports the held-out loss, the theory loss L*, the relative
Frobenius distance ||Gamma_eff - Gamma*||_F / ||Gamma*||_F and the learning curve.

``--noise`` is the label-noise *standard deviation* sigma (the convention of the tables in
``docs/theory/one_step_gd.md``); the Python API takes ``noise_var`` = sigma^2.
"""

from __future__ import annotations

import numpy as np

from rmt_icl.cli._common import print_json, print_table
from rmt_icl.core.checks import check_nonnegative


def register(subparsers):
    p = subparsers.add_parser(
        "lsa-train",
        help="train a one-layer linear self-attention; compare Gamma_eff and loss with theory",
        description="Pretrain a one-layer LSA (analytic gradients, numpy) on in-context linear "
        "or nonlinear regression and compare it with the one-step-GD optimum Gamma*, L*.",
    )
    p.add_argument("--d", type=int, required=True, help="dimension d >= 1")
    p.add_argument("--n", type=int, required=True, help="context length n >= 1")
    p.add_argument("--noise", type=float, default=0.0,
                   help="label-noise standard deviation sigma >= 0 (default 0)")
    p.add_argument("--cov", default="iso",
                   help="covariate covariance: 'iso' (default) or 'spiked:THETA' "
                   "(I + THETA e1 e1^T)")
    p.add_argument("--prior", choices=("identity", "inverse"), default="identity",
                   help="task prior w ~ N(0, I) (default) or N(0, Sigma^{-1})")
    p.add_argument("--target", default="linear",
                   help="linear (default), signed:NAME (a random-sign single-index target, e.g. "
                   "signed:relu, signed:tanh:2, signed:he1+he3) or he3:BETA; see "
                   "rmt_icl.core.targets")
    p.add_argument("--steps", type=int, default=2000, help="optimisation steps (default 2000)")
    p.add_argument("--batch", type=int, default=1024, help="prompts per step (default 1024)")
    p.add_argument("--lr", type=float, default=1e-2, help="learning rate (default 1e-2)")
    p.add_argument("--optimizer", choices=("adam", "gd"), default="adam")
    p.add_argument("--param", choices=("merged", "mahankali"), default="merged",
                   help="LSA parametrisation (default merged W^{PV}, W^{KQ})")
    p.add_argument("--init", choices=("random", "zfb"), default="random",
                   help="random i.i.d. N(0, s^2) weights (default) or the ZFB start")
    p.add_argument("--init-scale", type=float, default=0.01, help="initial weight scale s")
    p.add_argument("--task-pool", type=int, default=None,
                   help="finite pool of K tasks (default: fresh task per prompt)")
    p.add_argument("--test-prompts", type=int, default=200_000,
                   help="held-out prompts for the loss (default 200000)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from rmt_icl.lsa.data import PromptDistribution, parse_cov
    from rmt_icl.lsa.train import evaluate_lsa, train_lsa

    sigma = float(check_nonnegative("noise", args.noise))
    cov_x = parse_cov(args.cov, args.d)
    target = None if args.target == "linear" else args.target
    cov_w = None
    if args.prior == "inverse":
        if target is not None:
            raise ValueError("prior 'inverse' applies to the linear target only")
        cov_w = "inverse"
    dist = PromptDistribution(args.d, args.n, sigma**2, cov_x=cov_x, cov_w=cov_w, target=target)
    gamma_star, loss_star = dist.theory()
    res = train_lsa(dist, steps=args.steps, batch_size=args.batch, lr=args.lr,
                    optimizer=args.optimizer, parametrization=args.param, init=args.init,
                    init_scale=args.init_scale, task_pool=args.task_pool, seed=args.seed)
    ev = evaluate_lsa(res.model, dist, n_prompts=args.test_prompts, gamma_ref=gamma_star,
                      seed=args.seed)
    rel = float(np.linalg.norm(res.gamma_eff - gamma_star) / np.linalg.norm(gamma_star))
    even = res.model.even_part()
    out = {
        "config": dict(res.config, noise=sigma, cov=args.cov, prior=args.prior),
        "trained_loss": ev.loss,
        "trained_loss_se": ev.se,
        "theory_loss": loss_star,
        "gamma_star_loss_same_prompts": ev.ref_loss,
        "excess_over_gamma_star_same_prompts": ev.diff,
        "excess_se": ev.diff_se,
        "rel_frobenius": rel,
        "gamma_eff": res.gamma_eff,
        "gamma_star": gamma_star,
        "even_part": {"px_norm_x_Qxx_norm": even[0], "py_x_qyx_norm": even[1]},
        "test_prompts": ev.n_prompts,
        "learning_curve": {"step": res.curve_steps, "train_loss": res.curve_loss},
    }
    if rel > 0.1:
        out["warning"] = (
            f"Gamma_eff is {rel:.1%} from Gamma*; with anisotropic covariates a fully random "
            "start can stall where p_x q_yx^T carries the large-variance direction (see "
            "docs/theory/one_step_gd.md): try --init zfb, more --steps or another --lr"
        )
    if args.json:
        print_json(out)
        return 0
    print_table(
        ["quantity", "value"],
        [["trained loss", f"{ev.loss:.6f} +- {ev.se:.6f}"],
         ["theory loss L*", f"{loss_star:.6f}"],
         ["Gamma* loss, same prompts", f"{ev.ref_loss:.6f} +- {ev.ref_se:.6f}"],
         ["excess over Gamma* (paired)", f"{ev.diff:.6f} +- {ev.diff_se:.6f}"],
         ["||G_eff - G*||/||G*||", f"{rel:.4%}"],
         ["diag Gamma_eff", np.array2string(np.diag(res.gamma_eff), precision=4)],
         ["diag Gamma*", np.array2string(np.diag(gamma_star), precision=4)]],
    )
    if "warning" in out:
        print("warning: " + out["warning"])
    return 0
