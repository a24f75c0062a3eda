"""Lexical helpers: one stem for both spellings of a word, so a British question finds an American
passage (and the other way round) in BM25 and in the term-coverage scores."""

from assistant.text import content_terms, inner_capitalised, inner_names, name_key, stem


def test_british_and_american_spellings_share_a_stem():
    for british, american in [("organisations", "organizations"), ("labour", "labor"), ("programme", "program"),
                               ("centre", "center"), ("mobilise", "mobilize"), ("neighbourhood", "neighborhood")]:
        assert stem(british) == stem(american), (british, american)
    assert content_terms("migrant organisations run the labour programme") == content_terms(
        "migrant organizations run the labor program")


def test_words_with_one_spelling_are_left_alone():
    # "-ise" words that are not British spellings keep their own stem
    assert stem("otherwise") == "otherwis" and stem("rise") == "rise" and stem("enterprise") == "enterpris"


def test_a_capital_that_opens_any_sentence_of_a_question_is_no_name():
    question = "Our office in a German city wants a one-stop shop. Has any city set one up? “Which” did Bern choose?"
    assert inner_capitalised(question) == ["German", "Bern"]
    assert inner_capitalised("And how is the formula different in the city of Bern itself?") == ["Bern"]


def test_a_name_is_compared_without_its_possessive():
    assert name_key("Ankara's") == "ankara"
    assert name_key("Ankara’s") == "ankara"
    assert name_key("Pires'") == "pires"
    assert name_key("Bern") == "bern"


def test_inner_names_keeps_a_name_of_several_words_whole():
    assert inner_names("How many cities joined the OSCE study's Intercultural Cities programme?") == [
        ("osce",), ("intercultural", "cities")]
    # an opening question word is no part of a name; an opening capital that starts a run is
    assert inner_names("Which EU funds did Germany's National Integration Plan use?") == [
        ("eu",), ("germany", "national", "integration", "plan")]
    assert inner_names("Intercultural Cities have grown. Has Bern joined?") == [("intercultural", "cities"), ("bern",)]
