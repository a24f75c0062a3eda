"""The count check (gate.count_check): a figure answers 'how many X' only when it counts X."""

from assistant.counted import counted_noun, gives_count


def test_counted_noun():
    assert counted_noun("How many refugees were housed under the contracts?") == "refugees"
    assert counted_noun("How much AMIF money did the network receive each year?") == "money"
    assert counted_noun("How many of the Forum's members represent EU organisations?") == "members"
    assert counted_noun("What budget did the Committee give the initiative?") == "budget"
    assert counted_noun("Which cities joined the network?") is None


def test_gives_count():
    assert gives_count("It now gathers 13 Greek municipalities.", "municipalities")
    assert gives_count("One-third of the Forum's members will represent EU organisations.", "members")
    assert not gives_count("The European Council of 24 June adopted it.", "councils")
    assert not gives_count("The 1951 Refugee Convention covers housing.", "refugees")  # a year is no count
    assert gives_count("Up to 70,000 euros were granted per project.", "money")
    assert not gives_count("The network was set up in 2018 with 13 members.", "money")
