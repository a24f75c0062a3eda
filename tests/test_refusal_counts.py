"""The count check (gate.count_check): a figure answers 'how many X' only when it counts X, and
'what is the budget/rate/share of X' only when it is X's figure."""

from assistant.counted import asks_total, counted_noun, gives_count, gives_figure_of, measured_subject


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


def test_a_count_of_the_same_kind_of_actor_counts():
    # the report's word for the actor need not be the question's (actors.yaml same_kind_nouns) …
    assert gives_count("As of 2017, 134 municipalities from 22 states have joined the network.", "towns")
    assert gives_count("Twelve local authorities signed the charter.", "cities")
    assert not gives_count("Twelve landlords signed the charter.", "regions")
    # … but the number counts the noun of its own phrase, not one after "of" or "between"
    assert not gives_count("The network asks cities to implement ten elements of an Intercultural Cities strategy.", "cities")
    assert not gives_count("There are 80 formal partnerships between municipalities in both countries.", "cities")


def test_measured_subject():
    s = measured_subject("What is the annual budget of the Urban Partnership on Inclusion?")
    assert s.measure == "budget" and s.terms == ("urban", "partnership", "inclusion") and s.modifiers == ()
    s = measured_subject("What is the unemployment rate among Moroccan migrants in the Netherlands?")
    assert s.measure == "rate" and s.terms == ("unemployment", "moroccan", "migrants")
    assert s.modifiers == ("unemployment",)
    assert measured_subject("What share of Munich's population has a migration background?").terms == ("munich", "population")
    assert measured_subject("What is the role of cities in integration?") is None
    assert measured_subject("Which cities joined the network?") is None


def test_gives_figure_of():
    budget = measured_subject("What is the annual budget of the Urban Partnership on Inclusion?")
    assert not gives_figure_of("Up to 70,000 euros were granted to a municipal partnership by the LOGO programme.", budget)
    assert gives_figure_of("The Urban Partnership on Inclusion received 2 million euros.", budget)
    assert not gives_figure_of("The Urban Partnership on Inclusion met 12 times.", budget)  # a count is no budget
    # the name may sit in the sentence before the figure
    assert gives_figure_of("Its budget was EUR 3 million.", budget, context="The Urban Partnership on Inclusion was set up in 2016.")
    rate = measured_subject("What is the unemployment rate among Moroccan migrants in the Netherlands?")
    assert not gives_figure_of("Moroccan migrants make up 2 percent of the population.", rate)  # not unemployment
    assert gives_figure_of("Unemployment among Moroccan migrants reached 14 percent.", rate)
    share = measured_subject("What share of Munich's population has a migration background?")
    assert gives_figure_of("38 percent of Munich's population have a migration background.", share)
    assert not gives_figure_of("Munich's population grew in 2015.", share)  # a year is no share


def test_how_much_a_body_spent_asks_for_money():
    assert counted_noun("How much did the ministry spend on the partnerships?") == "money"
    assert counted_noun("How much does the state pay the municipalities each year?") == "money"
    assert counted_noun("How much did the network grow?") is None


def test_a_total_is_not_given_by_a_most_or_a_rate_per_unit():
    q = "In total, how much did the ministry spend on all the partnerships?"
    assert asks_total(q) and not asks_total("How much did the ministry spend on the partnerships?")
    capped = "Up to 70,000 euros could be granted per municipal partnership per project period."
    assert gives_count(capped, "money") and not gives_count(capped, "money", total=True)
    assert not gives_count("Each town received 20,000 euros per partnership.", "money", total=True)
    assert gives_count("The programme spent 5 million euros on 40 partnerships.", "money", total=True)
    assert gives_count("The state paid 2 million euros per year to the cities.", "money", total=True)  # a yearly total
