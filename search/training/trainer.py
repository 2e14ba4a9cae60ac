"""Short-budget training of one validated config: the objective behind every trial.

The data order depends only on the seed, so every schedule trained with the same seed sees the
same batches (a paired comparison). bf16 autocast, per-block torch.compile and steps replayed as a
CUDA graph on CUDA, plain fp32 on CPU. Validation loss (and bits per byte) on a fixed validation
set at checkpoints and at the end; a reporter hook at each checkpoint lets a search prune the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np
import torch
from tqdm import tqdm

from model.counting import check_built_params
from model.decoder import Decoder
from model.memory import estimate_training_bytes
from model.presets import TrainSettings
from search.data.batches import BatchLoader, val_batches
from search.data.token_cache import TokenData
from search.data.tokenizer import TokenizerHandle
from search.training.compiling import CompileMode, compiled, default_compile_mode
from search.training.curves import spike_against_noise
from search.training.determinism import deterministic_kernels
from search.training.devices import training_autocast
from search.training.outcome import Reporter, TrainingFailed, TrainResult
from search.training.passes import data_passes
from search.training.run_config import RunConfig
from search.training.step import TrainStep, make_optimizer, training_stream
from search.training.step_plan import checkpoint_steps, lr_at, warmup_steps

# Losses stay on the GPU and are checked for NaN every this many steps: a check waits for the
# GPU, and waiting every step would stall it.
_CHECK_EVERY = 16
# Dense bf16 Tensor Core peaks from NVIDIA's datasheets (TFLOP/s; the datasheets print twice these,
# "with sparsity"), the MFU denominators, by the name CUDA gives the GPU. The first key the name
# contains wins, so a variant comes before its family; a GPU not listed (e.g. H100 NVL) gets no MFU.
# The third figure is the dense bf16 matmul rate measured on an H200 SXM in this project (and the
# reference decoder's denominator), where one was measured.
_BF16_TFLOPS: tuple[tuple[str, float, float | None], ...] = (
    ("H200 NVL", 835.0, None),
    ("H200", 989.0, 790.0),  # SXM
    ("H100 PCIe", 756.0, None),
    ("H100 80GB HBM3", 989.0, None),  # SXM
    ("A100", 312.0, None),  # SXM and PCIe, 40 and 80 GB
)


def bf16_tflops(device_name: str) -> tuple[float | None, float | None]:
    """The GPU's dense bf16 peak from its datasheet and the rate measured here, in TFLOP/s; None
    for a figure not known for this GPU (then that MFU is not reported)."""
    for key, peak, measured in _BF16_TFLOPS:
        if key in device_name:
            return peak, measured
    return None, None


def model_flops_utilization(tokens_per_s: float, flops_per_token: int, tflops: float | None) -> float | None:
    """Model FLOPs per second as a share of ``tflops``, or None when that rate is unknown."""
    return None if tflops is None else tokens_per_s * flops_per_token / (tflops * 1e12)


def train(
    run: RunConfig,
    data: TokenData,
    tokenizer: TokenizerHandle,
    device: torch.device,
    reporter: Reporter | None = None,
    progress: bool = False,
    compile_mode: CompileMode | None = None,
    cuda_graph: bool = True,
) -> TrainResult:
    """Train ``run`` on ``data`` and return its validation loss and measurements.

    With ``deterministic`` set in the run's settings, a rerun gives the same loss exactly (on
    CPU it always does). On CUDA, steps are replayed as a CUDA graph unless ``cuda_graph`` is
    False (same kernels, same results; see ``search.training.step``). Before anything is allocated,
    the decoder is built on the meta device and its parameters counted: ValueError when they are not
    the config's count. Raises TrainingFailed for a NaN/Inf loss, CUDA out of memory, or an estimated
    memory need above the GPU's; exceptions raised by ``reporter`` (pruning) propagate unchanged.
    """
    started = time.perf_counter()
    cfg, settings = run.model, run.train
    check_built_params(cfg)
    steps = run.steps
    estimated = estimate_training_bytes(cfg, settings.batch_size)
    _check_memory(device, estimated)
    if cfg.vocab_size < tokenizer.vocab_size:
        raise ValueError(
            f"model vocab_size {cfg.vocab_size} is smaller than the tokenizer's {tokenizer.vocab_size}"
        )
    mode = compile_mode or default_compile_mode(device, cfg.budget.distinct_widths)
    try:
        with _cuda_memory_scope(device), deterministic_kernels(settings.deterministic):
            return _train(
                run, data, tokenizer, device, reporter, progress, mode, cuda_graph, steps, started, estimated
            )
    except torch.cuda.OutOfMemoryError as e:
        raise TrainingFailed(
            f"CUDA out of memory (estimated {estimated / 2**30:.1f} GiB): {str(e).splitlines()[0]}",
            "out_of_memory",
        ) from None


def _train(
    run: RunConfig,
    data: TokenData,
    tokenizer: TokenizerHandle,
    device: torch.device,
    reporter: Reporter | None,
    progress: bool,
    mode: CompileMode,
    cuda_graph: bool,
    steps: int,
    started: float,
    estimated: int,
) -> TrainResult:
    cfg, settings = run.model, run.train
    torch.manual_seed(run.seed)
    with torch.device(device):
        model = Decoder(cfg)
    model.init_weights(settings.init_std)
    optimizer = make_optimizer(list(model.parameters()), settings, device)
    autocast = training_autocast(device)
    with compiled(model, mode, cfg.budget.distinct_widths) as step_fn:
        graphed = cuda_graph and device.type == "cuda"
        train_step = TrainStep(step_fn, optimizer, settings.grad_clip, autocast, graphed)
        # Only this run's widths compile here, in the first step (background processes compile the
        # budget's other widths for later trials: search.trials.background_compiling).
        compiles = mode != "none"
        evaluation = _Evaluation(step_fn, data, tokenizer, cfg.context, settings, device, autocast, compiles)
        marks = checkpoint_steps(steps, settings.checkpoints)
        curve = torch.zeros(steps, device=device)
        checked = 0
        checkpoints: list[dict[str, float]] = []
        first_step_s = 0.0
        bar = tqdm(total=steps, desc="train", unit="step", disable=not progress, leave=False)
        loader = BatchLoader(data.train, cfg.context, settings.batch_size, run.seed, steps, device)
        setup_s = time.perf_counter() - started
        train_started = time.perf_counter()
        # On CUDA the loop runs on a side stream of its own: a step can only be captured as a CUDA
        # graph there, and running every step, copy and evaluation on one stream keeps them ordered.
        with loader, training_stream(device):
            for step, (inputs, targets) in enumerate(loader):
                lr = lr_at(step, steps, settings.lr, settings.warmup_frac, settings.min_lr_ratio)
                curve[step] = train_step(inputs, targets, lr)
                done = step + 1
                if done == 1:
                    _sync(device)
                    first_step_s = time.perf_counter() - train_started
                if done % _CHECK_EVERY == 0 or done in marks:
                    _check_finite(curve, checked, done)
                    bar.update(done - checked)
                    checked = done
                if done in marks:
                    val_loss = evaluation.run()
                    checkpoints.append({"step": done, "tokens": done * inputs.numel(), "val_loss": val_loss})
                    bar.set_postfix(val_loss=f"{val_loss:.4f}")
                    if reporter is not None and done < steps:
                        reporter(done * inputs.numel(), val_loss)
            data_wait_s = loader.wait_s
    bar.close()
    _sync(device)
    loop_s = time.perf_counter() - train_started
    # Capturing the step's graph and compiling the evaluation graphs are one-time costs: not steps.
    train_s = loop_s - evaluation.seconds - evaluation.compile_s - train_step.capture_s
    tokens = steps * run.tokens_per_step
    # The first step carries the compile; the rest run at the steady rate.
    steady_step_s = (train_s - first_step_s) / (steps - 1) if steps > 1 else first_step_s
    compile_s = max(0.0, first_step_s - steady_step_s) + train_step.capture_s + evaluation.compile_s
    tokens_per_s = run.tokens_per_step / steady_step_s
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    peak, measured = bf16_tflops(device_name)
    losses = curve.tolist()
    spike = spike_against_noise(losses, warmup_steps(steps, settings.warmup_frac))
    return TrainResult(
        val_loss=checkpoints[-1]["val_loss"],
        val_bpb=evaluation.last_bpb,
        steps=steps,
        tokens=tokens,
        tokens_per_s=tokens_per_s,
        mfu=model_flops_utilization(tokens_per_s, cfg.flops_per_token, peak),
        mfu_measured_ceiling=model_flops_utilization(tokens_per_s, cfg.flops_per_token, measured),
        peak_mem_gb=torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        estimated_mem_gb=estimated / 2**30,
        setup_s=setup_s,
        first_step_s=setup_s + first_step_s,
        compile_s=compile_s,
        train_s=train_s,
        eval_s=evaluation.seconds,
        data_wait_s=data_wait_s,
        wall_s=time.perf_counter() - started,
        device=device_name,
        passes=data_passes(run, len(data.train)),
        spike=spike.spike,
        spike_beyond_noise=spike.beyond,
        loss_curve=losses,
        checkpoints=checkpoints,
    )


class _Evaluation:
    """Loss and bits per byte on the fixed validation set, timed. A compiled model's evaluation
    graphs compile in a timed pass over one batch before the first validation (``compile_s``), so
    that compiling is neither counted as evaluation nor waited for before training starts."""

    def __init__(
        self,
        model: torch.nn.Module,
        data: TokenData,
        tokenizer: TokenizerHandle,
        context: int,
        settings: TrainSettings,
        device: torch.device,
        autocast: AbstractContextManager[object],
        compiles: bool,
    ) -> None:
        self.model = model
        self.to_compile = compiles
        self.compile_s = 0.0
        self.autocast = autocast
        self.device = device
        batches = val_batches(data.val, context, settings.batch_size, settings.val_tokens)
        self.batches = [(x.to(device), y.to(device)) for x, y in batches]
        target_bytes = sum(int(tokenizer.token_bytes[y.numpy()].sum()) for _, y in batches)
        target_tokens = sum(y.numel() for _, y in batches)
        self.tokens_per_byte = target_tokens / max(1, target_bytes)
        self.seconds = 0.0
        self.last_bpb = float("nan")

    def run(self) -> float:
        """Mean validation loss in nats per token; also sets ``last_bpb``."""
        _sync(self.device)  # so pending training work is not timed as evaluation
        if self.to_compile:
            self.to_compile = False
            started = time.perf_counter()
            self._loss_sum(list({x.shape: (x, y) for x, y in self.batches}.values()))  # one batch a shape
            self.compile_s = time.perf_counter() - started
        started = time.perf_counter()
        loss = self._loss_sum(self.batches) / len(self.batches)
        if not math.isfinite(loss):
            raise TrainingFailed(f"validation loss is {loss}")
        self.last_bpb = loss / math.log(2) * self.tokens_per_byte
        self.seconds += time.perf_counter() - started
        return loss

    def _loss_sum(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        self.model.eval()
        total = torch.zeros((), device=self.device)
        with torch.no_grad(), self.autocast:
            for inputs, targets in batches:
                total += self.model(inputs, targets).float()
        self.model.train()
        return total.item()


def _check_finite(curve: torch.Tensor, start: int, end: int) -> None:
    window = curve[start:end]
    if not bool(torch.isfinite(window).all()):
        bad = start + int(np.argmax(~np.isfinite(window.cpu().numpy())))
        raise TrainingFailed(f"loss is {curve[bad].item()} at step {bad + 1}")


def _check_memory(device: torch.device, estimated: int) -> None:
    if device.type != "cuda":
        return
    total = torch.cuda.get_device_properties(device).total_memory
    if estimated > total:
        raise TrainingFailed(
            f"estimated memory {estimated / 2**30:.1f} GiB exceeds the GPU's {total / 2**30:.1f} GiB; "
            "use a smaller batch_size or preset",
            "too_large",
        )


@contextmanager
def _cuda_memory_scope(device: torch.device) -> Iterator[None]:
    """Measure this run's peak memory, and give memory back after it, also after an OOM."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        yield
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
