from rag.conversation import choose_small_talk_threshold, content_words


def test_content_words_leave_out_the_stop_words_of_the_language():
    assert content_words("and for the master?", "en") == 1
    assert content_words("et pour le master ?", "fr") == 1
    assert content_words("How much is the Erasmus grant per month?", "en") >= 3
    assert content_words("那意大利的是哪所？", "zh") >= 2   # written without spaces: characters count


def test_the_small_talk_threshold_separates_pleasantries_from_questions():
    cut = choose_small_talk_threshold([0.4, 0.5, 0.55, 0.8, 0.9], [False, False, False, True, True])
    assert 0.55 < cut < 0.8
