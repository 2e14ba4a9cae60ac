import itertools
import math

import pytest
import torch

from model.presets import get_preset
from search.training.curves import largest_spike, spike_against_noise
from search.training.outcome import TrainingFailed
from search.training.run_config import RunConfig
from search.training.step_plan import checkpoint_steps, lr_at, warmup_steps
from search.training.trainer import bf16_tflops, train
from space.schedule import Schedule
from tests.model.test_counting import miscounted

CPU = torch.device("cpu")
HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def tiny_run(tiny_spec, tiny_data, tokens=8192, seed=0, mults=HAND, **recipe):
    schedule = Schedule(budget=get_preset("tiny").model.budget, mults=mults)
    run = RunConfig.from_preset("tiny", tiny_spec, tiny_data, seed)
    return run.variant(schedule=schedule, tokens=tokens, **recipe)


def test_same_seed_gives_identical_losses_and_another_seed_does_not(tiny_spec, tiny_data):
    first = train(tiny_run(tiny_spec, tiny_data), tiny_data.tokens, tiny_data.tokenizer, CPU)
    again = train(tiny_run(tiny_spec, tiny_data), tiny_data.tokens, tiny_data.tokenizer, CPU)
    other = train(tiny_run(tiny_spec, tiny_data, seed=1), tiny_data.tokens, tiny_data.tokenizer, CPU)
    assert first.loss_curve == again.loss_curve and first.val_loss == again.val_loss
    assert first.loss_curve != other.loss_curve


def test_loss_falls_clearly_over_a_few_hundred_steps(tiny_spec, tiny_data):
    run = tiny_run(tiny_spec, tiny_data, tokens=300 * 8 * 64)
    result = train(run, tiny_data.tokens, tiny_data.tokenizer, CPU)
    curve = result.loss_curve
    assert result.steps == 300 and len(curve) == 300
    assert curve[0] > math.log(512) - 0.3  # an untrained model is close to uniform over the vocab
    start, end = sum(curve[:20]) / 20, sum(curve[-20:]) / 20
    assert end < curve[0] - 1.2 and end < start - 0.5
    assert result.val_loss < curve[0] - 1.2 and 0 < result.val_bpb < 8
    # The spike is held to the run's own batch noise, as bench.noise holds it.
    warmup = warmup_steps(result.steps, run.train.warmup_frac)
    assert result.spike == largest_spike(curve, warmup)
    assert result.spike_beyond_noise == spike_against_noise(curve, warmup).beyond


def test_a_diverging_run_stops_with_its_reason(tiny_spec, tiny_data):
    run = tiny_run(tiny_spec, tiny_data, tokens=64 * 8 * 64, lr=1e6, grad_clip=1e9, warmup_frac=0.0)
    with pytest.raises(TrainingFailed, match=r"loss is (nan|inf) at step \d+") as caught:
        train(run, tiny_data.tokens, tiny_data.tokenizer, CPU)
    assert caught.value.kind == "diverged"


def test_reporter_sees_each_checkpoint_before_the_final_one_and_can_stop_the_run(tiny_spec, tiny_data):
    seen = []
    run = tiny_run(tiny_spec, tiny_data, tokens=4 * 8 * 64 * 4, checkpoints=3)
    result = train(run, tiny_data.tokens, tiny_data.tokenizer, CPU, reporter=lambda s, v: seen.append((s, v)))
    assert [s for s, _ in seen] == [4 * 512, 8 * 512, 12 * 512]
    assert len(result.checkpoints) == 4 and result.checkpoints[-1]["val_loss"] == result.val_loss

    class Stop(Exception):
        pass

    def stop(step: int, value: float) -> None:
        raise Stop

    with pytest.raises(Stop):
        train(run, tiny_data.tokens, tiny_data.tokenizer, CPU, reporter=stop)


def test_validating_at_checkpoints_does_not_change_training(tiny_spec, tiny_data):
    # A study without a pruner skips the checkpoints: its trials must score as they would with them.
    run = tiny_run(tiny_spec, tiny_data, tokens=get_preset("tiny").train.tokens, checkpoints=4)
    checked = train(run, tiny_data.tokens, tiny_data.tokenizer, CPU)
    unchecked = train(run.variant(checkpoints=0), tiny_data.tokens, tiny_data.tokenizer, CPU)
    assert len(checked.checkpoints) == 5 and len(unchecked.checkpoints) == 1
    assert unchecked.loss_curve == checked.loss_curve
    assert unchecked.val_loss == checked.val_loss and unchecked.val_bpb == checked.val_bpb


def test_result_records_speed_time_and_the_per_step_curve(tiny_spec, tiny_data):
    result = train(tiny_run(tiny_spec, tiny_data), tiny_data.tokens, tiny_data.tokenizer, CPU)
    summary = result.summary()
    assert summary["tokens"] == 16 * 512 and len(result.loss_curve) == 16
    assert summary["tokens_per_s"] > 0 and summary["peak_mem_gb"] is None
    assert summary["mfu"] is None and summary["mfu_measured_ceiling"] is None
    for key in ("wall_s", "setup_s", "compile_s", "train_s", "eval_s", "data_wait_s", "first_step_s"):
        assert summary[key] >= 0
    assert "loss_curve" not in summary


def test_a_config_whose_count_the_built_decoder_does_not_have_is_refused_before_training(
    tiny_spec, tiny_data
):
    run = tiny_run(tiny_spec, tiny_data)
    wrong = run.model_copy(update={"model": miscounted(run.model)})
    seen: list[int] = []
    with pytest.raises(ValueError, match=r"the config counts [\d,]+ \(-1;.*budget is not proved"):
        train(wrong, tiny_data.tokens, tiny_data.tokenizer, CPU, reporter=lambda t, v: seen.append(t))
    assert seen == []


@pytest.mark.parametrize(
    ("name", "peak", "measured"),
    [
        ("NVIDIA H200", 989.0, 790.0),
        ("NVIDIA H200 NVL", 835.0, None),
        ("NVIDIA H100 80GB HBM3", 989.0, None),
        ("NVIDIA H100 PCIe", 756.0, None),
        ("NVIDIA A100-SXM4-80GB", 312.0, None),
        ("NVIDIA A100 80GB PCIe", 312.0, None),
        ("NVIDIA H100 NVL", None, None),
        ("NVIDIA GeForce RTX 4090", None, None),
        ("cpu", None, None),
    ],
)
def test_mfu_is_against_the_datasheets_dense_bf16_peak_and_the_measured_rate_only_where_measured(
    name, peak, measured
):
    assert bf16_tflops(name) == (peak, measured)


def test_checkpoints_are_evenly_spaced_and_end_at_the_last_step():
    assert checkpoint_steps(100, 4) == [20, 40, 60, 80, 100]
    assert checkpoint_steps(3, 4) == [1, 2, 3]
    assert checkpoint_steps(10, 0) == [10]


def test_learning_rate_warms_up_then_decays_to_the_floor():
    lrs = [lr_at(s, 100, 1.0, 0.1, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))


def test_deterministic_setting_holds_for_its_run_only(tiny_spec, tiny_data):
    seen: list[bool] = []

    def reporter(tokens: int, val_loss: float) -> None:
        seen.append(torch.are_deterministic_algorithms_enabled())

    assert not torch.are_deterministic_algorithms_enabled()
    run = tiny_run(tiny_spec, tiny_data, deterministic=True)
    exact = train(run, tiny_data.tokens, tiny_data.tokenizer, CPU, reporter=reporter)
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()
    # CPU kernels are deterministic anyway: the setting changes nothing there.
    plain = train(tiny_run(tiny_spec, tiny_data), tiny_data.tokens, tiny_data.tokenizer, CPU)
    assert exact.loss_curve == plain.loss_curve and exact.val_loss == plain.val_loss


def test_deterministic_setting_is_restored_when_the_run_fails(tiny_spec, tiny_data):
    run = tiny_run(
        tiny_spec, tiny_data, tokens=64 * 8 * 64, lr=1e6, grad_clip=1e9, warmup_frac=0.0, deterministic=True
    )
    with pytest.raises(TrainingFailed):
        train(run, tiny_data.tokens, tiny_data.tokenizer, CPU)
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_mfu_divides_model_flops_by_the_gpus_datasheet_peak(tiny_spec, tiny_data):
    cuda = torch.device("cuda")
    run = tiny_run(tiny_spec, tiny_data)
    result = train(run, tiny_data.tokens, tiny_data.tokenizer, cuda)
    peak, measured = bf16_tflops(torch.cuda.get_device_name(cuda))
    achieved = result.tokens_per_s * run.model.flops_per_token
    assert result.mfu == (None if peak is None else pytest.approx(achieved / (peak * 1e12)))
    assert result.mfu_measured_ceiling == (
        None if measured is None else pytest.approx(achieved / (measured * 1e12))
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_deterministic_gpu_runs_repeat_exactly(tiny_spec, tiny_data):
    cuda = torch.device("cuda")
    run = tiny_run(tiny_spec, tiny_data, tokens=64 * 8 * 64, deterministic=True)
    first = train(run, tiny_data.tokens, tiny_data.tokenizer, cuda)
    again = train(run, tiny_data.tokens, tiny_data.tokenizer, cuda)
    assert first.loss_curve == again.loss_curve and first.val_loss == again.val_loss


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mode", ["static", "dynamic", "none"])
def test_steps_replayed_as_a_cuda_graph_train_exactly_as_eager_steps(tiny_spec, tiny_data, mode):
    cuda = torch.device("cuda")
    run = tiny_run(tiny_spec, tiny_data, tokens=64 * 8 * 64, deterministic=True, checkpoints=3)
    graphed = train(run, tiny_data.tokens, tiny_data.tokenizer, cuda, compile_mode=mode, cuda_graph=True)
    eager = train(run, tiny_data.tokens, tiny_data.tokenizer, cuda, compile_mode=mode, cuda_graph=False)
    assert graphed.loss_curve == eager.loss_curve and graphed.checkpoints == eager.checkpoints
    assert graphed.compile_s > 0 and graphed.train_s > 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_run_leaves_no_gpu_memory_behind(tiny_spec, tiny_data):
    cuda = torch.device("cuda")
    run = tiny_run(tiny_spec, tiny_data, tokens=64 * 8 * 64)
    train(run, tiny_data.tokens, tiny_data.tokenizer, cuda)  # compiles; later runs add nothing
    before = torch.cuda.memory_allocated(cuda)
    for _ in range(2):
        train(run, tiny_data.tokens, tiny_data.tokenizer, cuda)
        assert torch.cuda.memory_allocated(cuda) == before


def test_a_compiled_runs_compiling_is_counted_as_compiling_not_as_evaluation(tiny_spec, tiny_data):
    torch._dynamo.reset()  # so this process compiles the run's graphs (from Inductor's cache at best)
    run = tiny_run(tiny_spec, tiny_data, tokens=16 * 8 * 64, mults=(4,) * 12, checkpoints=0)
    first = train(run, tiny_data.tokens, tiny_data.tokenizer, CPU, compile_mode="static")
    again = train(run, tiny_data.tokens, tiny_data.tokenizer, CPU, compile_mode="static")
    # The first run compiled its widths in its first step and its evaluation graphs before its only
    # validation; the second found them compiled.
    assert first.compile_s > first.eval_s and first.compile_s > 5 * again.compile_s
    assert first.first_step_s - first.setup_s > again.first_step_s - again.setup_s
    # No second is counted twice: training (the steps), evaluation and compiling (the first step's
    # excess over a steady step, the evaluation graphs) fit within the run's time after its setup.
    # Counting the evaluation graphs' compiling as training too made the steady rate look slower.
    for result in (first, again):
        steady_step_s = run.tokens_per_step / result.tokens_per_s
        # As the trainer counts it: a first step quicker than the steady mean (a run with nothing to
        # compile, on a busy CPU) counts no compiling, not a negative amount.
        first_step_excess_s = max(0.0, result.first_step_s - result.setup_s - steady_step_s)
        counted_s = result.train_s + result.eval_s + result.compile_s - first_step_excess_s
        assert counted_s <= result.wall_s - result.setup_s
