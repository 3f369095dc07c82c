from rag.conversation import choose_small_talk_threshold, content_words


def test_content_words_leave_out_the_stop_words_of_the_language():
    assert content_words("and for the master?", "en") == 1
    assert content_words("et pour le master ?", "fr") == 1
    assert content_words("How much is the Erasmus grant per month?", "en") >= 3
    assert content_words("那意大利的是哪所？", "zh") >= 2   # written without spaces: characters count


def test_the_small_talk_threshold_separates_pleasantries_from_questions():
    cut = choose_small_talk_threshold([0.4, 0.5, 0.55, 0.8, 0.9], [False, False, False, True, True])
    assert 0.55 < cut < 0.8


def test_a_model_that_never_learnt_the_language_is_not_heard_on_small_talk():
    """Its cosines are noise: when a model is left out of the cuts, only the others' own cosines decide."""
    import numpy as np

    from rag.conversation import SmallTalk

    class TwoModels:   # two 2-d models side by side; every pleasantry sits at (1, 0 | 1, 0)
        def encode_queries(self, texts):
            return np.tile(np.array([1.0, 0.0, 1.0, 0.0]) / np.sqrt(2), (len(texts), 1))

    talk = SmallTalk(TwoModels(), [("a", 0, 2), ("b", 2, 4)])
    noisy_a = np.array([1.0, 0.0, 0.0, 1.0]) / np.sqrt(2)     # model a: the pleasantry; model b: far from it
    assert talk("merci", "fr", noisy_a, threshold=0.6, model_cuts=None) is False          # combined 0.5
    assert talk("merci", "fr", noisy_a, threshold=0.6, model_cuts={"a": 0.9, "b": 0.9}) is True
    assert talk("merci", "fr", noisy_a, threshold=0.6, model_cuts={"b": 0.9}) is False    # a does not read it


def test_japanese_endings_and_korean_syllables_are_not_counted_as_words():
    # "もう一つ質問があります" (I have one more question) says 質問 and little else: counted by every two characters,
    # hiragana endings included, it had 5 words, too many to be small talk. Korean is written with spaces.
    assert content_words("もう一つ質問があります", "ja") <= 2
    assert content_words("감사합니다", "ko") == 1
    assert content_words("UPHF에서 어떤 어학 자격시험을 볼 수 있나요?", "ko") >= 4
