import pytest
import torch

from model.decoder import Decoder
from model.presets import get_preset
from space.budget import Budget
from space.schedule import Schedule

HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


@pytest.mark.parametrize("residual", ["sequential", "parallel"])
@pytest.mark.parametrize("mults", [(4,) * 12, HAND])
def test_tiny_forward_and_backward_give_a_finite_loss_and_gradients(residual, mults):
    base = get_preset("tiny").model.replace(residual=residual)
    config = base.with_schedule(Schedule(budget=base.budget, mults=mults))
    torch.manual_seed(0)
    model = Decoder(config)
    model.init_weights(0.02)
    idx = torch.randint(0, config.vocab_size, (2, config.context))
    loss = model(idx, idx.roll(-1, dims=1))
    loss.backward()
    assert torch.isfinite(loss)
    # an untrained model predicts roughly uniformly over the vocabulary
    assert abs(loss.item() - torch.log(torch.tensor(float(config.vocab_size))).item()) < 0.5
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_each_block_gets_its_own_width_and_zero_means_no_mlp():
    base = get_preset("tiny").model
    budget = Budget.model_validate({**base.budget.model_dump(), "min_mult": 0})
    config = base.with_schedule(Schedule(budget=budget, mults=(0, 8) + (4,) * 10))
    model = Decoder(config)
    assert model.blocks[0].mlp is None and model.blocks[0].mlp_norm is None
    assert model.blocks[1].mlp.down.in_features == 8 * 32
    assert [b.mlp.down.in_features for b in model.blocks[2:]] == [4 * 32] * 10
    idx = torch.randint(0, config.vocab_size, (2, 16))
    assert torch.isfinite(model(idx, idx))


def test_attention_is_causal():
    config = get_preset("tiny").model
    torch.manual_seed(0)
    model = Decoder(config)
    model.init_weights(0.02)
    idx = torch.randint(0, config.vocab_size, (1, 16))
    changed = idx.clone()
    changed[0, 10] = (idx[0, 10] + 1) % config.vocab_size
    with torch.no_grad():
        before, after = model.trunk(idx), model.trunk(changed)
    assert torch.allclose(before[0, :10], after[0, :10])
    assert not torch.allclose(before[0, 10:], after[0, 10:])


def test_tied_embeddings_share_one_tensor():
    model = Decoder(get_preset("tiny").model)
    assert model.head.weight is model.embed.weight
    untied = Decoder(get_preset("tiny").model.replace(tie_embeddings=False))
    assert untied.head.weight is not untied.embed.weight
