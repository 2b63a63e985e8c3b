"""Fused CPU kernels for Keras's LSTM, GRU and SimpleRNN layers on the torch backend.

Why
---
Keras 3's torch backend hands an ``LSTM`` / ``GRU`` layer to PyTorch's fused
recurrent kernel (``torch._VF.lstm`` / ``torch._VF.gru``, the ATen op behind
``torch.nn.LSTM`` / ``nn.GRU``) only when the tensors live on CUDA
(``keras/src/backend/torch/rnn.py``: ``lstm()`` tests ``device.type == "cuda"``
and ``cudnn_ok()`` tests ``torch.cuda.is_available()``). On a CPU it runs a Python
loop of one small matmul per time step instead, about 3x slower at lookback 60,
although the fused ATen kernel runs on the CPU as well (it is what ``nn.LSTM`` uses
there). ``SimpleRNN`` always runs the generic Python step loop.

What :func:`install` changes (nothing else)
-------------------------------------------
* ``keras.src.backend.torch.rnn.lstm`` / ``.gru`` (and the names re-exported as
  ``keras.src.backend.lstm`` / ``.gru``, which the layers call) are wrapped: when the
  inputs are **not** on CUDA and the layer is one the fused kernel computes exactly
  (activation ``tanh``, recurrent activation ``sigmoid``, ``use_bias=True``,
  ``unroll=False``, no mask, GRU ``reset_after=True``, float32/float64, not inside a
  TorchScript/Dynamo trace) the wrapper calls Keras's own ``_cudnn_lstm`` /
  ``_cudnn_gru`` helpers, which only re-lay the Keras weights for
  ``torch._VF.lstm`` / ``torch._VF.gru`` and keep autograd through them. Anything
  else goes to the stock function unchanged. Layers with ``recurrent_dropout`` never
  reach these functions (the Keras layer itself takes the step loop then).
* ``keras.layers.SimpleRNN.inner_loop`` gets the same treatment with
  ``torch._VF.rnn_tanh`` / ``rnn_relu`` (activation ``tanh`` or ``relu``, no
  dropout, no recurrent dropout, no mask, not unrolled, not ``go_backwards``, not
  stateful); otherwise it calls the stock method.

The model math is unchanged: same gates, activations, weight layout and saved
config (a ``.keras`` file written with the patch loads in plain Keras on any
backend); ``tests/test_fastpath.py`` checks forward outputs and gradients against
the stock step loop to 1e-5. Only lstmfc applies it (from
:func:`lstmfc.network.backend.keras_module`), only on the torch backend, only for the Keras
versions in :data:`SUPPORTED_KERAS`, and only if the private functions still have
the signatures it was written against; otherwise Keras runs its stock path and
:func:`status` says why. ``LSTMFC_FASTRNN=0`` switches it off.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from typing import Any, NamedTuple

SUPPORTED_KERAS = ((3, 15), (3, 16))
"""Keras versions ``[low, high)`` whose torch ``rnn.py`` this patch was checked
against (3.15.1 read line by line). Keras 3.14's private ``_cudnn_lstm`` unpacks
``torch._VF.lstm``'s result wrongly ("too many values to unpack"; fixed in 3.15.0),
so 3.14 takes the stock path."""


class _LstmCall(NamedTuple):
    """The arguments of Keras's torch ``rnn.lstm()`` (Keras 3.15), by name: what the
    ``LSTM`` layer passes (inputs, initial states and mask positionally, the weights and
    options by keyword)."""

    inputs: Any
    initial_state_h: Any
    initial_state_c: Any
    mask: Any
    kernel: Any
    recurrent_kernel: Any
    bias: Any
    activation: Any
    recurrent_activation: Any
    return_sequences: bool = False
    go_backwards: bool = False
    unroll: bool = False
    batch_first: bool = True


class _GruCall(NamedTuple):
    """The arguments of Keras's torch ``rnn.gru()`` (Keras 3.15), by name."""

    inputs: Any
    initial_state: Any
    mask: Any
    kernel: Any
    recurrent_kernel: Any
    bias: Any
    activation: Any
    recurrent_activation: Any
    return_sequences: bool = False
    go_backwards: bool = False
    unroll: bool = False
    reset_after: bool = True


_LSTM_PARAMS = list(_LstmCall._fields)
_GRU_PARAMS = list(_GruCall._fields)

_state: dict = {"installed": False, "reason": "not installed (lstmfc has not loaded Keras)"}
CALLS = {"lstm": 0, "gru": 0, "rnn": 0}
"""How many layer calls took the fused CPU path (for tests and the benchmark)."""


def status() -> str:
    """``"active"`` or the reason the stock Keras path is used."""
    return "active" if _state["installed"] else _state["reason"]


def is_active() -> bool:
    return bool(_state["installed"])


def _version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def compat_problem(keras_version: str) -> str | None:
    """Why the patch must not be applied to this Keras, or ``None`` if it fits.

    Checks the version range :data:`SUPPORTED_KERAS` and that the private functions
    it wraps still exist with the parameter lists it was written against.
    """
    v = _version_tuple(keras_version)
    lo, hi = SUPPORTED_KERAS
    if not (lo <= v[:2] < hi):
        return (
            f"keras {keras_version} is outside the versions the patch was checked "
            f"against ({lo[0]}.{lo[1]} to before {hi[0]}.{hi[1]}); stock Keras path"
        )
    try:
        import importlib

        kbackend = importlib.import_module("keras.src.backend")
        krnn = importlib.import_module("keras.src.backend.torch.rnn")
        from keras.src.layers.rnn.rnn import RNN
        from keras.src.layers.rnn.simple_rnn import SimpleRNN

        problems = []
        for name, want in (("lstm", _LSTM_PARAMS), ("gru", _GRU_PARAMS)):
            fn = getattr(krnn, name, None)
            fn = getattr(fn, "__wrapped__", fn)
            if fn is None or list(inspect.signature(fn).parameters) != want:
                problems.append(f"rnn.{name} signature")
        for name in ("_cudnn_lstm", "_cudnn_gru"):
            if not callable(getattr(krnn, name, None)):
                problems.append(f"rnn.{name} missing")
        if getattr(kbackend, "lstm", None) is not krnn.lstm or kbackend.gru is not krnn.gru:
            problems.append("keras.src.backend.lstm/gru are not the torch functions")
        if "inner_loop" in SimpleRNN.__dict__ and not _state["installed"]:
            problems.append("SimpleRNN defines its own inner_loop")
        if list(inspect.signature(RNN.inner_loop).parameters) != [
            "self",
            "sequences",
            "initial_state",
            "mask",
            "training",
        ]:
            problems.append("RNN.inner_loop signature")
    except Exception as exc:  # private layout changed
        problems = [f"{type(exc).__name__}: {exc}"]
    if problems:
        return "keras internals changed (" + "; ".join(problems) + "); stock Keras path"
    return None


def install() -> str:
    """Apply the patch (idempotent). Call after ``import keras`` with the torch backend.

    Returns
    -------
    str
        :func:`status`: ``"active"``, or why the stock Keras path stays in use
        (switched off, another backend, untested Keras version, changed private API).
    """
    if _state["installed"]:
        return status()
    if os.environ.get("LSTMFC_FASTRNN", "1").strip().lower() in ("0", "false", "no", "off"):
        _state["reason"] = "switched off by LSTMFC_FASTRNN=0"
        return status()
    import keras

    if keras.backend.backend() != "torch":
        _state["reason"] = f"not used on the {keras.backend.backend()} backend"
        return status()
    problem = compat_problem(keras.__version__)
    if problem:
        _state["reason"] = problem
        return status()
    import importlib

    from keras.src.layers.rnn.simple_rnn import SimpleRNN

    kbackend = importlib.import_module("keras.src.backend")
    kt = importlib.import_module("keras.src.backend.torch")
    krnn = importlib.import_module("keras.src.backend.torch.rnn")

    orig_lstm, orig_gru = krnn.lstm, krnn.gru
    fast_lstm = _make_fast_lstm(krnn, orig_lstm)
    fast_gru = _make_fast_gru(krnn, orig_gru)
    for mod in (krnn, kt, kbackend):
        mod.lstm = fast_lstm
        mod.gru = fast_gru
    SimpleRNN.inner_loop = _make_fast_simple_rnn_inner_loop()
    _state.update(
        installed=True,
        reason="active",
        originals={"lstm": orig_lstm, "gru": orig_gru},
        modules=(krnn, kt, kbackend),
        simple_rnn=SimpleRNN,
    )
    return status()


def uninstall() -> None:
    """Restore Keras's stock functions (for tests and benchmarks; idempotent)."""
    if not _state["installed"]:
        return
    for mod in _state["modules"]:
        mod.lstm = _state["originals"]["lstm"]
        mod.gru = _state["originals"]["gru"]
    del _state["simple_rnn"].inner_loop
    _state.update(installed=False, reason="removed by lstmfc.network.fastrnn.uninstall()")


@contextlib.contextmanager
def stock_keras():
    """Run the block on Keras's stock torch path, then re-apply the patch if it was on."""
    was = _state["installed"]
    uninstall()
    try:
        yield
    finally:
        if was:
            install()


def _ok_activations(activation, recurrent_activation) -> bool:
    import torch
    from keras.src import activations, ops

    return activation in (activations.tanh, torch.tanh, ops.tanh) and recurrent_activation in (
        activations.sigmoid,
        torch.sigmoid,
        ops.sigmoid,
    )


def _tracing() -> bool:
    import torch

    return torch.jit.is_tracing() or bool(getattr(torch.compiler, "is_compiling", lambda: False)())


def _eligible(call: _LstmCall | _GruCall) -> bool:
    """Whether the fused kernel computes this ``lstm()`` / ``gru()`` call exactly."""
    import torch

    if call.mask is not None or call.unroll or call.bias is None or _tracing():
        return False
    if not _ok_activations(call.activation, call.recurrent_activation):
        return False
    inputs = call.inputs
    device = inputs.device if isinstance(inputs, torch.Tensor) else torch.device("cpu")
    if device.type == "cuda":  # Keras already takes the fused (cuDNN) kernel there
        return False
    dtype = getattr(call.kernel, "dtype", None)
    return str(dtype).rsplit(".", 1)[-1] in ("float32", "float64")


def _make_fast_lstm(krnn, orig):
    from keras.src.backend.torch.core import convert_to_tensor

    def lstm(*args, **kwargs):
        call = _LstmCall(*args, **kwargs)  # the stock signature, checked by compat_problem
        if not _eligible(call):
            return orig(*args, **kwargs)
        import torch

        k = convert_to_tensor(call.kernel)
        rk = convert_to_tensor(call.recurrent_kernel)
        b = convert_to_tensor(call.bias)
        x = convert_to_tensor(call.inputs).to(k.dtype)
        h0 = convert_to_tensor(call.initial_state_h).to(k.dtype)
        c0 = convert_to_tensor(call.initial_state_c).to(k.dtype)
        if call.go_backwards:
            x = torch.flip(x, dims=[1 if call.batch_first else 0])
        if not call.batch_first:
            x = x.permute(1, 0, 2)
        last, outputs, states = krnn._cudnn_lstm(
            x, h0, c0, k, rk, b, return_sequences=call.return_sequences, device=x.device
        )
        if not call.batch_first:
            outputs = outputs.permute(1, 0, 2)
        CALLS["lstm"] += 1
        return last, outputs, states

    lstm.__wrapped__ = orig
    lstm.__doc__ = "lstmfc.network.fastrnn: torch._VF.lstm on CPU too, else Keras's stock lstm()."
    return lstm


def _make_fast_gru(krnn, orig):
    from keras.src.backend.torch.core import convert_to_tensor

    def gru(*args, **kwargs):
        call = _GruCall(*args, **kwargs)  # the stock signature, checked by compat_problem
        if not (call.reset_after and _eligible(call)):
            return orig(*args, **kwargs)
        import torch

        k = convert_to_tensor(call.kernel)
        rk = convert_to_tensor(call.recurrent_kernel)
        b = convert_to_tensor(call.bias)
        x = convert_to_tensor(call.inputs).to(k.dtype)
        h0 = convert_to_tensor(call.initial_state).to(k.dtype)
        if call.go_backwards:
            x = torch.flip(x, dims=[1])
        out = krnn._cudnn_gru(
            x, h0, k, rk, b, return_sequences=call.return_sequences, device=x.device
        )
        CALLS["gru"] += 1
        return out

    gru.__wrapped__ = orig
    gru.__doc__ = "lstmfc.network.fastrnn: torch._VF.gru on CPU too, else Keras's stock gru()."
    return gru


def _make_fast_simple_rnn_inner_loop():
    """``SimpleRNN.inner_loop`` via ``torch._VF.rnn_tanh`` / ``rnn_relu``.

    Keras's cell computes ``h_t = act(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``
    (``keras/src/layers/rnn/simple_rnn.py``, ``SimpleRNNCell.call``); torch's
    ``rnn_tanh`` computes ``act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, the same
    with ``W_ih = kernel^T``, ``W_hh = recurrent_kernel^T``, ``b_ih = bias``, ``b_hh = 0``.
    """
    from keras.src import activations, ops, tree
    from keras.src.layers.rnn.rnn import RNN

    def inner_loop(self, sequences, initial_state, mask, training=False):
        import torch

        cell = self.cell
        act = cell.activation
        if act in (activations.tanh, torch.tanh, ops.tanh):
            fused = torch._VF.rnn_tanh
        elif act in (activations.relu, torch.relu, ops.relu):
            fused = torch._VF.rnn_relu
        else:
            fused = None
        state = initial_state
        if tree.is_nested(state):
            state = state[0] if len(state) == 1 else None
        if tree.is_nested(mask):
            mask = mask[0]
        ok = (
            fused is not None
            and state is not None
            and mask is None
            and not self.unroll
            and not self.go_backwards
            and not self.stateful
            and not cell.dropout
            and not cell.recurrent_dropout
            and isinstance(sequences, torch.Tensor)
            and sequences.device.type != "cuda"
            and str(cell.kernel.dtype).rsplit(".", 1)[-1] in ("float32", "float64")
            and not _tracing()
        )
        if not ok:
            return RNN.inner_loop(self, sequences, initial_state, mask=mask, training=training)
        from keras.src.backend.torch.core import convert_to_tensor

        k = convert_to_tensor(cell.kernel)
        rk = convert_to_tensor(cell.recurrent_kernel)
        params = [k.T.contiguous(), rk.T.contiguous()]
        if cell.bias is not None:
            b = convert_to_tensor(cell.bias)
            params += [b.contiguous(), torch.zeros_like(b)]
        x = sequences.to(k.dtype)
        h0 = convert_to_tensor(state).to(k.dtype).unsqueeze(0)
        outputs, h_n = fused(
            x,
            h0,
            params,
            cell.bias is not None,  # has_biases
            1,  # num_layers
            0.0,  # dropout
            torch.is_grad_enabled(),  # train
            False,  # bidirectional
            True,  # batch_first
        )
        last = outputs[:, -1]
        if not self.return_sequences:
            outputs = last.unsqueeze(1)
        CALLS["rnn"] += 1
        return last, outputs, [h_n.squeeze(0)]

    inner_loop.__doc__ = _make_fast_simple_rnn_inner_loop.__doc__
    return inner_loop
