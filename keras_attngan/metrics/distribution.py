"""Distribution metrics on network features: KID, FID, inception score.

They compare sets of images through the features of a fixed network (InceptionV3's pool3
and logits in the papers, see ``features.py``). Numbers computed with different feature
networks, or with the same network from another framework, are not comparable.
"""

from __future__ import annotations

import numpy as np


def _features(x, what: str) -> np.ndarray:
    """Checks a feature matrix (N, D) and returns it as float64."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating)
                                     or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{what} must be a numeric array (N, D); got dtype {array.dtype}.")
    if array.ndim != 2:
        raise ValueError(f"{what} must be a matrix (N, D) of N feature vectors; got shape "
                         f"{array.shape}. Flatten pooled features to (N, D) first.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {array.shape}).")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f"{what} has NaN or infinite values in {int(bad.sum())} of "
                         f"{array.shape[0]} rows (first: row {int(np.argmax(bad))}); the "
                         "images or the feature network produced them.")
    return array.astype(np.float64)


def _pair(f_real, f_fake) -> tuple[np.ndarray, np.ndarray]:
    real, fake = _features(f_real, "f_real"), _features(f_fake, "f_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"f_real and f_fake have different feature sizes ({real.shape[1]} "
                         f"vs {fake.shape[1]}); compute both with the same network.")
    return real, fake


# --------------------------------------------------------------------------- KID
def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3,
                    gamma: float | None = None, coef0: float = 1.0) -> float:
    """The unbiased estimator of the squared maximum mean discrepancy between the samples
    ``x`` (m, d) and ``y`` (n, d) with the polynomial kernel
    k(a, b) = (gamma · aᵀb + coef0) ** degree, gamma = 1 / d by default:

        MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (n(n-1))
                 - 2 Σ_{i,j} k(x_i, y_j) / (mn)

    (Gretton et al. 2012, Lemma 6; with the cubic kernel this is KID, Bińkowski et al.
    2018, Sec. 3). It can be negative: it is not clipped, so that its mean is unbiased.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"The unbiased MMD needs at least 2 samples per set; got {m} and "
                         f"{n}.")
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = (gamma * x @ x.T + coef0) ** degree
    k_yy = (gamma * y @ y.T + coef0) ** degree
    k_xy = (gamma * x @ y.T + coef0) ** degree
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid_from_features(f_real, f_fake, subsets: int = 10, subset_size: int = 50,
                      seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski, Sutherland, Arbel, Gretton, "Demystifying
    MMD GANs", ICLR 2018): the unbiased MMD² (``polynomial_mmd2``) with the cubic kernel
    k(x, y) = (xᵀy / d + 1)³ between real and generated features (N, d), averaged over
    ``subsets`` random subsets of ``subset_size`` rows from each set.

    Returns (mean, std) over the subsets (std with ddof=0, as Bińkowski et al.'s code).
    UAG (Mejjati et al. 2018, Table 1) reports 100 × mean ± 100 × std. Subset k draws,
    from ``numpy.random.default_rng(seed)``, ``choice(len(f_real), subset_size,
    replace=False)`` and then the same for ``f_fake``; each subset is drawn on its own,
    so different subsets may share rows. Values are not clipped at 0: for two samples of
    one distribution about half are negative, which is what makes the mean unbiased.
    """
    real, fake = _pair(f_real, f_fake)
    if int(subsets) != subsets or subsets < 1:
        raise ValueError(f"subsets must be a positive integer; got {subsets!r}.")
    if int(subset_size) != subset_size or subset_size < 2:
        raise ValueError(f"subset_size must be an integer >= 2; got {subset_size!r}.")
    small = [f"{name} has {len(f)}" for name, f in (("f_real", real), ("f_fake", fake))
             if len(f) < subset_size]
    if small:
        raise ValueError(
            f"KID draws subsets of subset_size={subset_size} features from each set, but "
            f"{' and '.join(small)}; pass more images or a smaller subset_size "
            "(--kid-subset-size on the command line). Values from different subset sizes "
            "have different variances, so report the size with the figure.")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(int(subsets)):
        x = real[rng.choice(len(real), int(subset_size), replace=False)]
        y = fake[rng.choice(len(fake), int(subset_size), replace=False)]
        values.append(polynomial_mmd2(x, y))
    values = np.asarray(values)
    return float(values.mean()), float(values.std())


# --------------------------------------------------------------------------- FID
def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix, by eigendecomposition
    (eigenvalues below 0 from round-off are set to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma_1: np.ndarray, sigma_2: np.ndarray) -> float:
    """tr((Σ₁ Σ₂)^½) for covariance matrices, computed as tr((Σ₁^½ Σ₂ Σ₁^½)^½): the same
    eigenvalues (Σ₁ Σ₂ is similar to Σ₁^½ Σ₂ Σ₁^½), but the latter is symmetric positive
    semi-definite, so two symmetric eigendecompositions give it without the complex
    round-off of a general matrix square root, also for singular covariances (fewer
    images than feature dimensions)."""
    root = _sqrtm_psd(sigma_1)
    inner = root @ sigma_2 @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu_1, sigma_1, mu_2, sigma_2) -> float:
    """Fréchet (2-Wasserstein) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂):
    ‖μ₁ - μ₂‖² + tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^½) (Dowson & Landau 1982)."""
    mu_1, mu_2 = np.asarray(mu_1, np.float64), np.asarray(mu_2, np.float64)
    sigma_1, sigma_2 = np.asarray(sigma_1, np.float64), np.asarray(sigma_2, np.float64)
    if mu_1.shape != mu_2.shape or sigma_1.shape != sigma_2.shape or \
            sigma_1.shape != mu_1.shape * 2:
        raise ValueError(f"Mean and covariance shapes do not match: {mu_1.shape}, "
                         f"{sigma_1.shape}, {mu_2.shape}, {sigma_2.shape}.")
    difference = mu_1 - mu_2
    value = (difference @ difference + np.trace(sigma_1) + np.trace(sigma_2)
             - 2.0 * trace_sqrt_product(sigma_1, sigma_2))
    return float(value)


def fid_from_features(f_real, f_fake) -> float:
    """Fréchet Inception Distance (Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter,
    "GANs trained by a two time-scale update rule converge to a local Nash equilibrium",
    NIPS 2017): ``frechet_distance`` between Gaussians fitted to the real and generated
    features (N, d): sample means and covariances with N - 1 in the denominator, as in
    the authors' code. Symmetric in its arguments; biased for small N (it grows as N
    shrinks), so compare FIDs only at the same N. Needs at least 2 rows per set."""
    real, fake = _pair(f_real, f_fake)
    for name, f in (("f_real", real), ("f_fake", fake)):
        if len(f) < 2:
            raise ValueError(f"FID needs at least 2 feature vectors per set; {name} has "
                             f"{len(f)}.")
    return frechet_distance(real.mean(axis=0), np.cov(real, rowvar=False),
                            fake.mean(axis=0), np.cov(fake, rowvar=False))


# ------------------------------------------------------------------ inception score
def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception score (Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen, "Improved
    techniques for training GANs", NIPS 2016): exp(E_x KL(p(y|x) ‖ p(y))), p(y) the
    mean of the class distributions p(y|x) within a split, computed on each of
    ``splits`` consecutive equal parts of ``probs`` (N, classes) as the authors' code
    does. Returns (mean, std) over the splits. ``probs`` are softmax outputs (rows
    summing to 1); for logits use ``scipy.special.softmax`` or ``features.softmax``.
    """
    p = _features(probs, "probs")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs must be class probabilities (non-negative rows that sum to "
                         "1); got rows summing to "
                         f"{p.sum(axis=1).min():.4g}..{p.sum(axis=1).max():.4g}. Apply a "
                         "softmax to logits first.")
    if int(splits) != splits or splits < 1:
        raise ValueError(f"splits must be a positive integer; got {splits!r}.")
    if len(p) < splits:
        raise ValueError(f"inception_score splits {len(p)} images into splits={splits} "
                         "parts; pass more images or fewer splits.")
    scores = []
    for part in np.array_split(p, int(splits)):
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(kl.sum(axis=1).mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())
