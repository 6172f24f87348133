"""Attention-mask monitoring: per-epoch statistics of the masks a model reports and
the warning when a mask collapses to nothing or everything."""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
from keras import ops


class MaskCollapseWarning(UserWarning):
    """An attention mask attends to (almost) nothing or everything over an epoch."""



class MaskMonitoring:
    """The mask half of ``TranslationGAN`` (a mixin): the statistics ``train_step``
    reports for each domain in ``mask_domains`` and the collapse warning at each
    epoch's end. Reads the model's ``mask_domains`` and ``mask_threshold``."""

    # -------------------------------------------------------- attention monitoring
    def mask_statistic_names(self) -> tuple[str, ...]:
        """The names of the mask statistics ``train_step`` reports, per domain."""
        return tuple(f"mask_{d}_{what}" for d in self.mask_domains
                     for what in ("mean", "active_mean", "active_fraction"))

    def mask_statistics(self, masks: Mapping[str, Any]) -> dict[str, Any]:
        """Per domain: the mask's mean over the image (``mask_a_mean``), its mean where
        it exceeds tau (``mask_a_active_mean``, 0 where nothing does) and the fraction
        of pixels above tau (``mask_a_active_fraction``); averaged over the epoch by the
        trackers, so they reach the progress bar, ``history`` and TensorBoard."""
        out = {}
        for domain, mask in masks.items():
            mask = ops.cast(ops.stop_gradient(mask), "float32")
            active = ops.cast(mask > self.mask_threshold, "float32")
            out[f"mask_{domain}_mean"] = ops.mean(mask)
            out[f"mask_{domain}_active_mean"] = (ops.sum(mask * active)
                                                 / ops.maximum(ops.sum(active), 1.0))
            out[f"mask_{domain}_active_fraction"] = ops.mean(active)
        return out

    def masks_in_use(self) -> bool:
        """Whether the masks decide the translation now (False e.g. in SAT's stage 1,
        where the mask is 1 by design); collapse warnings apply only then."""
        return bool(self.mask_domains)

    #: what to try when a mask collapses, shown in the warning
    collapse_advice: str = ("check the mask in the sample grids; a lower attention "
                            "learning rate or a longer run before any stage switch may help")

    def warn_if_masks_collapsed(self, epoch: int, logs: Mapping[str, Any]) -> list[str]:
        """Warns (and returns the warnings) when, over an epoch, a domain's mask attends
        to almost no pixel (< 0.5 % above tau: the translation is the identity) or is
        almost 1 everywhere (mean > 0.95: the whole image is repainted)."""
        if not self.masks_in_use():
            return []
        found = []
        for domain in self.mask_domains:
            fraction = logs.get(f"mask_{domain}_active_fraction")
            mean = logs.get(f"mask_{domain}_mean")
            if fraction is None or mean is None:
                continue
            fraction = float(np.mean(ops.convert_to_numpy(fraction)))
            mean = float(np.mean(ops.convert_to_numpy(mean)))
            if fraction < 0.005:
                what = (f"attends to {fraction:.1%} of the pixels (above tau = "
                        f"{self.mask_threshold:g}): the translation is the identity, the "
                        "mask collapsed to 0")
            elif mean > 0.95:
                what = (f"has mean {mean:.3f}: the whole image is repainted, the mask "
                        "collapsed to 1")
            else:
                continue
            found.append(f"{type(self).__name__}: in epoch {epoch + 1} the mask on domain "
                         f"{domain} {what}; {self.collapse_advice}.")
        for message in found:
            warnings.warn(message, MaskCollapseWarning, stacklevel=2)
        return found
