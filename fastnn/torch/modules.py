"""nn.Module classes on fastnn's kernels, drop-in for torch.nn's where the semantics match.

Each class derives from its torch.nn namesake, so it has the same
constructor, parameters, initialisation, buffers, ``state_dict`` keys and
repr; only ``forward`` runs fastnn (:mod:`fastnn.torch.functional`).
torch's options are implemented on fastnn's kernels; the few that are
not (inplace, a padding_mode other than 'zeros') are refused in the
constructor with a ValueError, never ignored.  Where they differ from
torch.nn (see fastnn.torch.functional): ReLU's gradient at exactly 0,
Dropout's masks, and the pooling rule for several NaNs in one window.
"""

import torch

from fastnn.torch import functional as FF

__all__ = ["Linear", "ReLU", "Dropout", "BatchNorm1d", "CrossEntropyLoss", "MultiMarginLoss", "Conv2d", "MaxPool2d"]


def _refuse(cls, **given):
    """ValueError naming the first option whose value fastnn does not implement: given maps name -> (value, supported)."""
    for name, (value, supported) in given.items():
        if not supported:
            raise ValueError(f"{name}: fastnn.torch.{cls} supports only torch's default here, got {value!r}")


class Linear(torch.nn.Linear):
    """``torch.nn.Linear`` on fastnn's affine kernel; input (*, in_features), bias or not."""

    def forward(self, input):
        return FF.linear(input, self.weight, self.bias)


class ReLU(torch.nn.ReLU):
    """``torch.nn.ReLU`` on fastnn's kernel (gradient passed where x >= 0; inplace refused)."""

    def __init__(self, inplace=False):
        _refuse("ReLU", inplace=(inplace, not inplace))
        super().__init__()

    def forward(self, input):
        return FF.relu(input)


class Dropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` (p the drop probability) on fastnn's kernel and masks; inplace refused."""

    def __init__(self, p=0.5, inplace=False):
        _refuse("Dropout", inplace=(inplace, not inplace))
        super().__init__(p)

    def forward(self, input):
        return FF.dropout(input, self.p, self.training)


class BatchNorm1d(torch.nn.BatchNorm1d):
    """
    ``torch.nn.BatchNorm1d`` on input (N, C) or (N, C, L) with fastnn's
    normalisation (spatial batch normalisation for (N, C, L), statistics
    per channel over N and L), with or without ``affine`` and ``bias``.

    Training normalises with the batch statistics in fastnn's kernel, and
    the running averages follow torch's rule exactly: ``(1 - momentum) *
    running + momentum * batch`` with the unbiased batch variance (momentum
    None: the cumulative average), and num_batches_tracked counts.  Eval
    mode (or track_running_stats=False's batch statistics) as torch.  The
    batch mean and variance come from fastnn's kernel (in float64, rounded
    to the input's dtype).
    """

    def forward(self, input):
        if not isinstance(input, torch.Tensor) or input.dim() not in (2, 3):
            raise ValueError(f"input: fastnn.torch.BatchNorm1d takes (N, C) or (N, C, L), got shape {tuple(getattr(input, 'shape', ()))}")
        self._check_input_dim(input)
        weight = self.weight if self.weight is not None else input.new_ones(self.num_features)
        bias = self.bias if self.bias is not None else input.new_zeros(self.num_features)
        normalise = FF.batch_norm if input.dim() == 2 else FF.batch_norm_channels
        use_batch = self.training or not self.track_running_stats
        if not use_batch:
            side = FF._side(("input",), input)
            bn_param = {"mode": "test", "eps": self.eps, "running_mean": side.array(self.running_mean),
                        "running_var": side.array(self.running_var)}
            return normalise(input, weight, bias, bn_param)
        n = input.shape[0] * (input.shape[2] if input.dim() == 3 else 1)
        if n < 2:
            raise ValueError(f"input: expected more than 1 value per channel when training, got shape {tuple(input.shape)}")
        # momentum 0 makes fastnn's "running averages" the batch's own mean and
        # (biased) variance, which its kernel computes anyway; torch's update
        # with the unbiased variance follows from them.  (torch.var_mean took
        # 0.2 ms a call at (64, 512), a third of the layer's time.)
        bn_param = {"mode": "train", "eps": self.eps, "momentum": 0.0}
        out = normalise(input, weight, bias, bn_param)
        if self.training and self.track_running_stats:
            side = FF._side(("input",), input)
            mean, var = side.tensor(bn_param["running_mean"]), side.tensor(bn_param["running_var"])
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
                self.running_var.mul_(1 - factor).add_(var, alpha=factor * n / (n - 1))
        return out


class CrossEntropyLoss(torch.nn.CrossEntropyLoss):
    """``torch.nn.CrossEntropyLoss`` with all its options on fastnn's kernels (see :func:`fastnn.torch.functional.cross_entropy`)."""

    def forward(self, input, target):
        return FF.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                                label_smoothing=self.label_smoothing)


class MultiMarginLoss(torch.nn.MultiMarginLoss):
    """``torch.nn.MultiMarginLoss`` with all its options on fastnn's kernels (see :func:`fastnn.torch.functional.multi_margin_loss`)."""

    def forward(self, input, target):
        return FF.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class Conv2d(torch.nn.Conv2d):
    """
    ``torch.nn.Conv2d`` on fastnn's convolution (see
    :func:`fastnn.torch.functional.conv2d`), with every option but
    padding_mode, which must be 'zeros' (refused in the constructor otherwise).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        _refuse("Conv2d", padding_mode=(padding_mode, padding_mode == "zeros"))
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device=device, dtype=dtype)

    def forward(self, input):
        return FF.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class MaxPool2d(torch.nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` with all its options on fastnn's kernels (see :func:`fastnn.torch.functional.max_pool2d`)."""

    def forward(self, input):
        return FF.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                             self.return_indices)
