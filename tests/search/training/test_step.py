import pytest
import torch

from model.decoder import Decoder
from model.presets import get_preset
from search.training.step import EAGER_STEPS, TrainStep, make_optimizer, training_stream

SETTINGS = get_preset("tiny").train
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def tiny_model(device: str = "cpu") -> Decoder:
    torch.manual_seed(0)
    with torch.device(device):
        model = Decoder(get_preset("tiny").model)
    model.init_weights(0.02)
    return model


def batches(count: int, device: str = "cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    ids = [torch.randint(0, 512, (4, 65), generator=generator) for _ in range(count)]
    return [(x[:, :-1].to(device), x[:, 1:].to(device)) for x in ids]


def test_weight_decay_applies_to_matrices_only():
    model = tiny_model()
    optimizer = make_optimizer(list(model.parameters()), SETTINGS, torch.device("cpu"))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == SETTINGS.weight_decay and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_a_step_is_forward_backward_clipping_and_adamw_at_the_given_learning_rate():
    model, expected = tiny_model(), tiny_model()
    step = TrainStep(model, make_optimizer(list(model.parameters()), SETTINGS, torch.device("cpu")), 0.5,
                     torch.autocast("cpu", enabled=False), cuda_graph=False)  # fmt: skip
    matrices = [p for p in expected.parameters() if p.dim() >= 2]
    vectors = [p for p in expected.parameters() if p.dim() < 2]
    decay = SETTINGS.weight_decay
    groups = [{"params": matrices, "weight_decay": decay}, {"params": vectors, "weight_decay": 0.0}]
    reference = torch.optim.AdamW(groups, betas=(SETTINGS.beta1, SETTINGS.beta2))
    for (inputs, targets), lr in zip(batches(3), (1e-3, 3e-2, 0.0), strict=True):
        loss = step(inputs, targets, lr)
        for group in reference.param_groups:
            group["lr"] = lr
        want = expected(inputs, targets)
        want.backward()
        torch.nn.utils.clip_grad_norm_(list(expected.parameters()), 0.5)
        reference.step()
        reference.zero_grad()
        assert not loss.requires_grad and loss == want.detach()
        for ours, theirs in zip(model.parameters(), expected.parameters(), strict=True):
            assert torch.equal(ours, theirs)
            assert ours.grad is None


def test_a_graph_needs_the_model_on_a_cuda_device():
    model = tiny_model()
    optimizer = make_optimizer(list(model.parameters()), SETTINGS, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"CUDA graph .* needs every parameter on a CUDA device"):
        TrainStep(model, optimizer, 1.0, torch.autocast("cpu", enabled=False), cuda_graph=True)


def test_the_training_stream_is_a_no_op_on_cpu():
    with training_stream(torch.device("cpu")):
        assert torch.ones(2).sum() == 2


def _train(cuda_graph: bool, steps: int) -> tuple[list[torch.Tensor], Decoder]:
    model = tiny_model("cuda")
    cuda = torch.device("cuda")
    step = TrainStep(model, make_optimizer(list(model.parameters()), SETTINGS, cuda), 1.0,
                     torch.autocast("cuda", dtype=torch.bfloat16), cuda_graph)  # fmt: skip
    losses = []
    with training_stream(cuda):
        for index, (inputs, targets) in enumerate(batches(steps, "cuda")):
            losses.append(step(inputs, targets, 1e-2 * (index + 1) / steps).clone())
    torch.cuda.synchronize()
    return losses, model


@pytest.mark.gpu
@CUDA
def test_replayed_steps_give_the_eager_steps_losses_and_weights_exactly():
    steps = EAGER_STEPS + 5
    with torch.backends.cudnn.flags(deterministic=True):
        torch.use_deterministic_algorithms(True)
        try:
            graphed, graphed_model = _train(True, steps)
            eager, eager_model = _train(False, steps)
        finally:
            torch.use_deterministic_algorithms(False)
    assert [x.item() for x in graphed] == [x.item() for x in eager]
    assert len(set(x.item() for x in graphed)) == steps  # each step saw its own batch and weights
    for ours, theirs in zip(graphed_model.parameters(), eager_model.parameters(), strict=True):
        assert torch.equal(ours, theirs)


@pytest.mark.gpu
@CUDA
def test_capturing_on_the_default_stream_fails_with_the_reason():
    model = tiny_model("cuda")
    step = TrainStep(model, make_optimizer(list(model.parameters()), SETTINGS, torch.device("cuda")), 1.0,
                     torch.autocast("cuda", dtype=torch.bfloat16), cuda_graph=True)  # fmt: skip
    inputs, targets = batches(1, "cuda")[0]
    for _ in range(EAGER_STEPS):
        step(inputs, targets, 1e-3)
    with pytest.raises(RuntimeError, match="cannot be captured as a CUDA graph on the default stream"):
        step(inputs, targets, 1e-3)
