"""Questions not in English: recognised (py3langid, bundled model), answered with a message in the
question's language where knowledge_base/domain/languages.yaml has one; English questions with
foreign place names stay English; a question in any script is a question."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

ROWS = [json.loads(line) for line in (REPO / "tests" / "fixtures" / "language_questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
DEV = [json.loads(line) for line in (REPO / "evals" / "dev_questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_question_of_the_set_gets_its_language():
    from assistant.language import recognise

    wrong = []
    for r in ROWS:
        c = recognise(r["question"])
        got = "en" if c.english else c.code
        if got != r["lang"]:
            wrong.append(f"{r['lang']} -> {got} ({c.probability}): {r['question']}")
    assert not wrong, "\n".join(wrong)


def test_english_questions_stay_english():
    """The dev set, its conversation histories and the workshop questions: all English, many
    with foreign names (Nador, Nuremberg, Integrationskurse, Montreuil)."""
    from assistant.language import recognise
    from ui.workshop import list_workshops

    questions = [r["question"] for r in DEV] + [h for r in DEV for h in r.get("history", [])]
    questions += [q for w in list_workshops(REPO / "knowledge_base" / "workshops") for q in w.questions]
    declined = [q for q in questions if not recognise(q).english]
    assert not declined, declined


@pytest.mark.parametrize(
    "code, question, words",
    [
        ("fr", "Que recommande l'OSCE sur le financement de l'intégration ?", ["rapports", "anglais", "funding", "OSCE"]),
        ("es", "¿Qué es el hermanamiento de ciudades?", ["informes", "inglés", "town twinning"]),
        ("de", "Was empfiehlt die OSZE zur Finanzierung der Integration?", ["Berichte", "Englisch", "funding", "OSCE"]),
        ("tr", "Belediyeler göçmenlerin entegrasyonunu nasıl destekleyebilir?", ["İngilizce", "municipalities", "migrants"]),
        ("ar", "كيف يمكن للبلديات دعم اندماج المهاجرين؟", ["الإنجليزية", "integration", "municipalities"]),
        ("sq", "Çfarë rekomandon OSBE për financimin?", ["anglisht", "funding", "OSCE"]),
    ],
)
def test_the_message_is_in_the_question_language_with_english_key_terms(code, question, words):
    from assistant.language import recognise

    c = recognise(question)
    assert not c.english and c.code == code and c.localised
    for w in words:
        assert w in c.message, (w, c.message)
    assert "What does the EPC brief recommend about funding?" in c.message, "an example in English"
    assert "(The reports are in English" in c.message, "and a line in English for the trainer"


def test_other_languages_get_the_message_in_english_naming_the_language():
    from assistant.language import recognise

    c = recognise("Come possono i comuni sostenere l'integrazione dei migranti?")
    assert not c.english and c.code == "it" and not c.localised
    assert c.message.startswith("Your question seems to be in Italian. The reports in this knowledge base are in English")
    assert not recognise("Как муниципалитеты поддерживают интеграцию мигрантов?").english
    assert not recognise("城市如何支持移民融合？").english


def test_declined_answer_is_an_answer_json():
    from assistant.language import declined_answer, recognise

    q = "Qu'est-ce que le jumelage de villes ?"
    a = declined_answer(q, recognise(q)).model_dump()
    assert a["refused"] is True and a["refusal_reason"] == "language" and a["citations"] == []
    assert "town twinning" in a["answer"] and a["question"] == q


def test_the_messages_are_data_not_code():
    from assistant.language import LANGUAGES_FILE, load_language_data

    data = load_language_data()
    assert LANGUAGES_FILE.is_file() and {"fr", "es", "de", "tr", "ar", "sq"} <= set(data.languages)
    for code, entry in data.languages.items():
        assert "{example}" in entry["message"] and "{terms}" in entry["terms"] and entry["glossary"], code


def test_the_model_ships_in_the_wheel():
    from pathlib import Path

    from py3langid import langid

    assert (Path(langid.MODEL_DIR) / langid.MODEL_FILE).is_file(), "py3langid bundles its model: nothing is downloaded"


@pytest.mark.parametrize(
    "question",
    ["كيف يمكن للبلديات دعم اندماج المهاجرين؟", "Τι είναι η αδελφοποίηση;", "Что такое побратимство?", "什么是城市结对？", "क्या है", "Où ?"],
)
def test_a_question_in_any_script_is_a_question(question):
    from assistant.guard import clean_question

    assert clean_question(question, 2000) == question


@pytest.mark.parametrize("question", ["??? 123", "a b", "!!", "— 42 —"])
def test_no_words_is_still_refused(question):
    from assistant.errors import InputError
    from assistant.guard import clean_question

    with pytest.raises(InputError, match="no words"):
        clean_question(question, 2000)
