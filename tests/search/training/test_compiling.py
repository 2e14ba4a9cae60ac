import gc
import weakref

import torch

from model.decoder import Decoder
from model.presets import get_preset
from search.training.compiling import compile_model, compiled


def _tiny_model() -> Decoder:
    torch.manual_seed(0)
    return Decoder(get_preset("tiny").model)


def test_a_compiled_run_leaves_nothing_holding_its_model():
    gc.disable()  # a collection would free the cycles this test is about
    try:
        kept = _tiny_model()
        compile_model(kept, "static", kept.config.budget.distinct_widths)
        kept_ref = weakref.ref(kept)
        del kept
        assert kept_ref() is not None  # the compiled wrappers reference their module

        model = _tiny_model()
        ids = torch.randint(0, model.config.vocab_size, (2, 16))
        with compiled(model, "static", model.config.budget.distinct_widths) as step_fn:
            loss = step_fn(ids, ids)
            loss.backward()
        assert torch.isfinite(loss)
        model_ref = weakref.ref(model)
        del model, step_fn, loss
        assert model_ref() is None
    finally:
        gc.enable()
