import pytest
import torch
from torch._dynamo.utils import counters

from model.presets import get_preset
from search.data.prepare import PreparedData
from search.training.run_config import DataSpec, RunConfig
from search.training.trainer import train
from search.training.widths_ahead import TimeBetweenSteps, WidthsAhead
from space.schedule import Schedule

TINY = get_preset("tiny")
UNIFORM = (4,) * 12  # one width, 128
# Widths 96 and 160: none of them the uniform run's.
OTHER = (3, 5) * 6


def _run(spec: DataSpec, data: PreparedData, mults: tuple[int, ...]) -> RunConfig:
    schedule = Schedule(budget=TINY.model.budget, mults=mults)
    # 64 steps without checkpoints: after the capture, steps 16, 32 and 48 are between-step checks.
    run = RunConfig.from_preset("tiny", spec, data, 0)
    return run.variant(schedule=schedule, tokens=64 * 8 * 64, checkpoints=0)


def _ahead(device: torch.device, ready: bool = True) -> WidthsAhead:
    """Widths 96, 160 and the uniform run's 128, in that order."""
    return WidthsAhead(TINY.model, (96, 160, 128), TINY.train.batch_size, device, lambda: ready)


def _frames() -> int:
    return counters["frames"]["total"]


def _widths_compiled_ahead_are_found_compiled(
    spec: DataSpec, data: PreparedData, device: torch.device
) -> None:
    torch._dynamo.reset()  # so this process compiles every graph the runs need
    uniform, other = _run(spec, data, UNIFORM), _run(spec, data, OTHER)
    plain = train(uniform, data.tokens, data.tokenizer, device, compile_mode="static")
    ahead = _ahead(device)
    traced = train(uniform, data.tokens, data.tokenizer, device, compile_mode="static", ahead=ahead)
    # The run's own width first (its evaluation graphs), then the others.
    assert traced.ahead_widths == 3 and ahead.pending == ()
    # The run itself is unchanged by what compiled between its steps.
    assert traced.loss_curve == plain.loss_curve and traced.val_loss == plain.val_loss
    # Its GPU's lost time counts as compiling, not as training.
    assert 0 < traced.ahead_gpu_s <= traced.compile_s
    before = _frames()
    result = train(other, data.tokens, data.tokenizer, device, compile_mode="static")
    assert _frames() == before, "a run of widths compiled ahead traced again"
    assert result.ahead_widths == 0 and result.ahead_s == 0


@pytest.mark.slow
def test_widths_compiled_ahead_between_a_runs_steps_are_found_compiled_by_a_later_run(
    tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    _widths_compiled_ahead_are_found_compiled(tiny_spec, tiny_data, torch.device("cpu"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_widths_compiled_ahead_on_a_gpu_are_found_compiled_and_leave_the_run_unchanged(
    tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    _widths_compiled_ahead_are_found_compiled(tiny_spec, tiny_data, torch.device("cuda"))


def test_nothing_compiles_ahead_before_the_caches_are_ready_and_a_runs_own_widths_come_first(
    tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    cpu = torch.device("cpu")
    waiting = _ahead(cpu, ready=False)
    uniform = _run(tiny_spec, tiny_data, UNIFORM)
    result = train(uniform, tiny_data.tokens, tiny_data.tokenizer, cpu, ahead=waiting)
    assert result.ahead_widths == 0 and waiting.pending == (128, 96, 160)  # the run's own first
    assert waiting.compile_next() is None
    ahead = _ahead(cpu, ready=False)
    ahead.first((160, 192, 160))  # 192 is not among its widths
    assert ahead.pending == (160, 96, 128)


def test_compiling_ahead_leaves_the_random_streams_as_they_were() -> None:
    ahead = _ahead(torch.device("cpu"))
    torch.manual_seed(3)
    state = torch.get_rng_state()
    assert ahead.compile_next() == 96
    assert torch.equal(torch.get_rng_state(), state)


def test_time_between_steps_on_cpu_is_the_blocks_time() -> None:
    timing = TimeBetweenSteps(torch.device("cpu"))
    with timing.between_steps():
        sum(range(100_000))
    assert timing.cpu_s > 0 and timing.gpu_s() == timing.cpu_s


def test_a_width_that_fails_to_compile_ahead_ends_compiling_ahead_and_not_the_run(
    tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    cpu = torch.device("cpu")
    failing = WidthsAhead(TINY.model, (-32, 96), TINY.train.batch_size, cpu, lambda: True)
    run = _run(tiny_spec, tiny_data, UNIFORM)
    plain = train(run, tiny_data.tokens, tiny_data.tokenizer, cpu)
    result = train(run, tiny_data.tokens, tiny_data.tokenizer, cpu, ahead=failing)
    assert result.loss_curve == plain.loss_curve and result.ahead_widths == 0
    assert failing.failure is not None and failing.failure.startswith("compiling width -32 ahead failed")
    assert failing.pending == () and failing.compile_next() is None
