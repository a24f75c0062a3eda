"""Issue 12, the data side: no report can attack a reader, no ingest can lose or wreck data.

Every case that was found when probing as an attacker and as a careless user, replayed with real
files made here, through the command line as users run it, on a copy of the data folder: the exit
code and message, then that the index is intact and serving (an `ask` answers), nothing was lost
and nothing was left half-built (no pending change, no partial generation)."""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from conftest import CLI, REPO, run_cli

SHIPPED_QUESTION = "What did the Berlin mayor do about the partnership with Istanbul?"
FIXTURE_PDF = REPO / "evals" / "user_reports" / "fixtures" / "eesc_civil_society_local.pdf"

LISBON = (
    "# Lisbon welcome desks\n\n## Findings\n\n"
    "The municipality of Lisbon opened three multilingual welcome desks for newly arrived residents in 2019. "
    "Each desk pairs a municipal clerk with a cultural mediator from the Cape Verdean community association. "
    "Over two years the desks handled about 12,000 visits and referred most visitors to language classes. "
    "The city council financed the desks from its own budget after a national grant ran out in 2020. "
    "An evaluation found that residents who used the desks registered with health services sooner.\n"
)
GHENT = (
    "<html><head><title>Ghent buddy programme</title></head><body><h1>Ghent buddy programme</h1>"
    "<p>The city of Ghent runs a buddy programme that matches refugees with local volunteers for six months. "
    "Volunteers meet their buddy every week and help with paperwork, housing searches and school enrolment. "
    "In 2022 the programme formed 480 pairs, and two thirds of the refugees found work within a year. "
    "The social welfare office trains the volunteers in three evening sessions before they start. "
    "Participants said the weekly meetings mattered more to them than any single kind of help.</p></body></html>"
)


def ask(question: str, data_dir: Path, **kw) -> tuple[subprocess.CompletedProcess, dict | None]:
    r = run_cli("ask", "--json", question, data_dir=data_dir, **kw)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


def state_of(data_dir: Path) -> dict:
    return json.loads((data_dir / "index" / "state.json").read_text(encoding="utf-8"))


def registry(data_dir: Path) -> list[dict]:
    path = data_dir / "user_reports.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def assert_intact(data_dir: Path, generation: str | None = None) -> None:
    """Nothing half-built, nothing pending, and the index answers from the shipped reports."""
    assert not (data_dir / "pending").exists()
    assert not list((data_dir / "index").glob("*.partial"))
    if generation is not None:
        assert state_of(data_dir)["generation"] == generation
    r, answer = ask(SHIPPED_QUESTION, data_dir)
    assert r.returncode == 0, r.stderr
    assert not answer["refused"] and answer["citations"]
    assert "Traceback" not in r.stderr


def english_report(title: str, paragraphs: int, seed: int, fact: str) -> str:
    """A long report in plain English whose sentences all differ, with one distinctive ``fact``."""
    rng = random.Random(seed)
    actors = ["The city council", "The regional government", "The ministry of labour", "A migrant association",
              "The municipal welcome office", "The national integration agency", "A network of mayors",
              "The local employment service", "The district school board", "A church-run charity"]
    verbs = ["funded", "opened", "evaluated", "expanded", "coordinated", "redesigned", "piloted", "promoted"]
    things = ["language courses", "housing advice", "job mentoring", "childcare places", "legal clinics",
              "vocational training", "health information sessions", "sports clubs", "volunteer networks"]
    groups = ["refugees", "newly arrived families", "young migrants", "women without work", "seasonal workers",
              "international students", "older newcomers", "unaccompanied minors"]
    places = ["Aarhus", "Bologna", "Cork", "Dortmund", "Eindhoven", "Faro", "Graz", "Hasselt", "Izmir", "Jyvaskyla",
              "Kaunas", "Leipzig", "Malmo", "Nantes", "Oporto", "Plovdiv", "Rijeka", "Salzburg", "Tartu", "Utrecht"]
    lines = [f"# {title}", ""]
    for k in range(paragraphs):
        if k % 6 == 0:
            lines += [f"## Part {k // 6 + 1}: experiences from {rng.choice(places)}", ""]
        sentences = []
        for _ in range(rng.randint(5, 7)):
            sentences.append(
                f"{rng.choice(actors)} in {rng.choice(places)} {rng.choice(verbs)} {rng.choice(things)} for "
                f"{rng.randint(12, 9000)} {rng.choice(groups)} in {rng.randint(1995, 2023)}, working with "
                f"{rng.choice(actors).lower()} and {rng.choice(['schools', 'employers', 'landlords', 'clinics', 'libraries'])} "
                f"of the {rng.choice(['northern', 'southern', 'eastern', 'western', 'central'])} districts."
            )
        if k == paragraphs // 3:
            sentences.append(fact)
        lines += [" ".join(sentences), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- the checks themselves


def test_language_check_refuses_noise_and_keeps_reports():
    from assistant.filecheck import decode_text, language_problem

    def problem(text):
        return language_problem(text, 0.01, 0.5, 0.5)

    for name in ("000_a5ab5183360c038e.txt", "004_e378ebee438f39d1.txt"):
        assert problem((REPO / "knowledge_base" / "sources" / name).read_text(encoding="utf-8")) is None
    for text in ("Les collectivités locales jouent un rôle essentiel dans l'intégration des migrants. " * 30,
                 "تلعب السلطات المحلية دورًا أساسيًا في إدماج المهاجرين وتقدم خدمات الاستقبال. " * 30,
                 "地方政府在移民融入中发挥着重要作用，提供语言课程和就业服务。" * 30,
                 "स्थानीय सरकारें प्रवासियों के एकीकरण में महत्वपूर्ण भूमिका निभाती हैं। " * 30):
        assert problem(text) is None, text[:30]
    noise = bytes(b for b in random.Random(1).randbytes(60_000) if b)
    assert "undecodable" in problem(decode_text(noise)[0])
    assert "are letters" in problem(os.urandom(20_000).hex(" ", 2))
    assert "look like words" in problem("root:x:0:0:root:/root:/bin/bash\n" * 40)
    import base64

    assert problem(base64.encodebytes(os.urandom(20_000)).decode()) is not None


def test_source_names_never_collide():
    from assistant.ingest import source_name

    assert source_name("report", set()) == "report.txt"
    assert source_name("report", {"report.txt"}) == "report-2.txt"
    assert source_name("report", {"report.txt", "report-2.txt"}) == "report-3.txt"
    assert source_name("My report (v2)", set()) == "My_report_v2.txt"
    assert source_name("REPORT", {"report.txt"}) == "REPORT-2.txt"  # case-insensitive file systems
    # a generic file name is no name for a report: as an alias, every question about "the report" would name it
    from assistant.ingest import _distinctive

    assert not any(_distinctive(s) for s in ("report", "final_report_v2", "2023", "doc1"))
    assert all(_distinctive(s) for s in ("lisbon-pilot", "eesc_civil_society_local", "Ghent"))
    for stem in ("../../etc/passwd", "...", ".hidden", "a/b\\c"):
        name = source_name(stem, set())
        assert "/" not in name and "\\" not in name and not name.startswith(".")


# ---------------------------------------------------------------------------------- 1. what ingest refuses


def test_random_bytes_symlinks_and_oversized_files_are_refused(data_copy, tmp_path):
    before = state_of(data_copy)["generation"]
    noise = tmp_path / "random.txt"  # 300 kB of random bytes without a NUL: became 195 garbage passages
    noise.write_bytes(bytes(b for b in random.Random(7).randbytes(330_000) if b)[:300_000])
    also = tmp_path / "random.md"
    also.write_bytes(noise.read_bytes())
    r = run_cli("ingest", str(noise), str(also), data_dir=data_copy)
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert "random.txt: refused" in r.stderr and "random.md: refused" in r.stderr and "undecodable" in r.stderr

    real = tmp_path / "lisbon.md"
    real.write_text(LISBON, encoding="utf-8")
    link = tmp_path / "linked.md"
    link.symlink_to(real)
    passwd = tmp_path / "passwd.txt"
    passwd.symlink_to("/etc/passwd")
    r = run_cli("ingest", str(link), str(passwd), data_dir=data_copy)
    assert r.returncode == 3 and r.stderr.count("is a symbolic link") == 2 and "--follow-symlinks" in r.stderr
    r = run_cli("ingest", "--follow-symlinks", str(passwd), data_dir=data_copy)
    assert r.returncode == 3 and "look like words" in r.stderr  # followed, and still not a report

    big = tmp_path / "big.md"  # the limits are settings: set low here rather than writing 50 MB
    big.write_text(english_report("A long report", 120, 3, "Nothing special."), encoding="utf-8")
    r = run_cli("ingest", str(big), data_dir=data_copy, env={"POLICY_ASSISTANT_INGEST__MAX_TEXT_MB": "0.05"})
    assert r.returncode == 3 and "more than the limit of 0.05 MB of text" in r.stderr and "MAX_TEXT_MB" in r.stderr
    r = run_cli("ingest", str(big), data_dir=data_copy, env={"POLICY_ASSISTANT_INGEST__MAX_FILE_MB": "0.01"})
    assert r.returncode == 3 and "the file is" in r.stderr and "MAX_FILE_MB" in r.stderr
    r = run_cli("ingest", str(FIXTURE_PDF), data_dir=data_copy, env={"POLICY_ASSISTANT_INGEST__MAX_TEXT_MB": "0.003"})
    assert r.returncode == 3 and "by page" in r.stderr and "extraction stopped" in r.stderr

    assert registry(data_copy) == [] and not (data_copy / "sources").exists()
    assert_intact(data_copy, before)


def _docx_bytes(extra: dict[str, int] | None = None) -> bytes:
    """A real DOCX (python-docx) plus, for each name in ``extra``, a part of that many zero bytes."""
    import docx

    document = docx.Document()
    document.add_heading("Welcome desks", level=1)
    document.add_paragraph(LISBON.split("\n\n")[-1])
    buf = io.BytesIO()
    document.save(buf)
    if not extra:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        for name, size in extra.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(info, "w", force_zip64=size > 2**31) as fh:
                block = bytes(1 << 20)
                for _ in range(size // len(block)):
                    fh.write(block)
    return out.getvalue()


def test_zip_bomb_docx_is_refused_before_it_is_unpacked(data_copy, tmp_path):
    before = state_of(data_copy)["generation"]
    good = tmp_path / "desks.docx"
    good.write_bytes(_docx_bytes())
    from assistant.ingest import convert

    assert "12,000 visits" in convert(good).text  # the checks pass a real DOCX

    bomb = tmp_path / "bomb.docx"  # a small file that unpacks to 400 MB: ran 10 minutes at 2.8 GB
    bomb.write_bytes(_docx_bytes({"word/media/padding.bin": 400 * 2**20}))
    assert bomb.stat().st_size < 2_000_000
    ratio = tmp_path / "ratio.docx"  # under the size limit, but packed 1,000 times: refused by the ratio
    ratio.write_bytes(_docx_bytes({"word/media/padding.bin": 20 * 2**20}))
    liar = tmp_path / "liar.docx"  # its directory says 1,000 bytes; unpacking stops there and the CRC fails
    data = bytearray(_docx_bytes({"word/media/padding.bin": 5 * 2**20}))
    name = b"word/media/padding.bin"
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    local = data.rfind(b"PK\x03\x04", 0, data.find(name))
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    liar.write_bytes(bytes(data))

    t0 = time.perf_counter()
    r = run_cli("ingest", str(bomb), str(ratio), str(liar), data_dir=data_copy)
    assert time.perf_counter() - t0 < 60
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert re.search(r"bomb.docx: the DOCX would unpack to 4\d\d\.\d MB, more than the limit of 100.0 MB", r.stderr)
    assert "refused without unpacking it" in r.stderr
    assert "ratio.docx: its part word/media/padding.bin packs" in r.stderr and "zip bomb" in r.stderr
    assert "liar.docx: its part word/media/padding.bin cannot be unpacked" in r.stderr
    r = run_cli("ingest", str(ratio), data_dir=data_copy, env={"POLICY_ASSISTANT_INGEST__MAX_UNPACKED_MB": "5"})
    assert r.returncode == 3 and "MAX_UNPACKED_MB" in r.stderr
    assert registry(data_copy) == []
    assert_intact(data_copy, before)


# ---------------------------------------------------------------------------------- 2. same stem, names, remove


def test_two_reports_with_the_same_stem_are_both_kept(data_copy, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "report.md", tmp_path / "b" / "report.html"
    first.write_text(LISBON, encoding="utf-8")
    second.write_text(GHENT, encoding="utf-8")
    r = run_cli("ingest", str(first), data_dir=data_copy)
    assert r.returncode == 0 and "added" in r.stdout and "-> report.txt (Lisbon welcome desks)" in r.stdout, r.stderr
    assert "DEBUG bm25s" not in r.stderr
    r = run_cli("ingest", str(second), data_dir=data_copy)
    assert r.returncode == 0 and "-> report-2.txt (Ghent buddy programme)" in r.stdout, r.stderr
    assert "DEBUG" not in r.stderr
    reports = {e["source"]: e for e in registry(data_copy)}
    assert reports["report.txt"]["title"] == "Lisbon welcome desks"
    assert reports["report-2.txt"]["title"] == "Ghent buddy programme"
    assert "12,000 visits" in (data_copy / "sources" / "report.txt").read_text(encoding="utf-8")
    assert "480 pairs" in (data_copy / "sources" / "report-2.txt").read_text(encoding="utf-8")

    _, answer = ask("How many visits did the Lisbon welcome desks handle?", data_copy)
    assert "12,000" in answer["answer"] and answer["citations"][0]["source"] == "report.txt"
    assert answer["citations"][0]["title"] == "Lisbon welcome desks"
    _, answer = ask("How many pairs did the Ghent buddy programme form?", data_copy)
    assert "480" in answer["answer"] and answer["citations"][0]["source"] == "report-2.txt"
    assert answer["citations"][0]["title"] == "Ghent buddy programme"

    # the same file, changed: replaced under its own name; the same text from elsewhere: unchanged
    first.write_text(LISBON.replace("12,000", "15,500"), encoding="utf-8")
    r = run_cli("ingest", str(first), data_dir=data_copy)
    assert r.returncode == 0 and "replaced" in r.stdout and "-> report.txt" in r.stdout
    copy = tmp_path / "copy-of-ghent.html"
    copy.write_text(GHENT, encoding="utf-8")
    r = run_cli("ingest", str(copy), data_dir=data_copy)
    assert r.returncode == 0 and "unchanged" in r.stdout and "report-2.txt" in r.stdout
    assert len(registry(data_copy)) == 2

    r = run_cli("reports", "--json", data_dir=data_copy)
    rows = {row["source"]: row for row in json.loads(r.stdout)}
    assert rows["report.txt"]["kind"] == "added" and rows["report.txt"]["passages"] >= 1
    assert rows["001_45261df8c35e07ff.txt"]["kind"] == "shipped" and rows["001_45261df8c35e07ff.txt"]["passages"] > 100
    assert rows["report-2.txt"]["origin"] == str(second)

    # remove: by title; a shipped report or an unknown name is refused (exit 2)
    r = run_cli("remove", "OSCE study", data_dir=data_copy)
    assert r.returncode == 2 and "shipped reports cannot be removed" in r.stderr
    r = run_cli("remove", "no such report", data_dir=data_copy)
    assert r.returncode == 2 and "no added report is called 'no such report'" in r.stderr and "report.txt" in r.stderr
    r = run_cli("remove", "001_45261df8c35e07ff.txt", data_dir=data_copy)
    assert r.returncode == 2 and "shipped reports cannot be removed" in r.stderr
    r = run_cli("remove", "Ghent buddy programme", data_dir=data_copy)
    assert r.returncode == 0 and "removed: report-2.txt" in r.stdout, r.stderr
    assert [e["source"] for e in registry(data_copy)] == ["report.txt"]
    assert not (data_copy / "sources" / "report-2.txt").exists()
    _, answer = ask("How many pairs did the Ghent buddy programme form?", data_copy)
    assert all(c["source"] != "report-2.txt" for c in answer["citations"] + answer["retrieved"])
    _, answer = ask("How many visits did the Lisbon welcome desks handle?", data_copy)
    assert "15,500" in answer["answer"]
    assert_intact(data_copy)


# ---------------------------------------------------------------------------------- 3. repairs that repair


def test_damaged_chroma_never_blocks_answering_and_rebuild_repairs_it(data_copy):
    db = data_copy / "chroma" / "chroma.sqlite3"
    data = bytearray(db.read_bytes())
    rng = random.Random(1)
    for i in range(4096, len(data), 997):
        data[i] = rng.randrange(256)
    db.write_bytes(bytes(data))

    r, answer = ask(SHIPPED_QUESTION, data_copy)  # the embedded store is searched in numpy
    assert r.returncode == 0 and answer["citations"]
    r = run_cli("index", "--status", data_dir=data_copy)
    status = json.loads(r.stdout)
    assert r.returncode == 4 and status["ok"] is False and status["up_to_date"] is False
    assert "chroma.sqlite3 is damaged" in status["problems"][0]["problem"]
    assert status["repair"] == "policy-assistant index --rebuild"

    t0 = time.perf_counter()
    r = run_cli("index", "--rebuild", data_dir=data_copy)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "(0 passages embedded)" in r.stdout  # the stored vectors were checked and reused
    assert time.perf_counter() - t0 < 120
    aside = list(data_copy.glob("chroma.damaged-*"))
    assert len(aside) == 1 and (aside[0] / "chroma.sqlite3").read_bytes() == bytes(data)  # kept, not deleted
    r = run_cli("index", "--status", data_dir=data_copy)
    status = json.loads(r.stdout)
    assert r.returncode == 0 and status["ok"] and status["up_to_date"] and status["store"]["ok"]
    assert_intact(data_copy)


def test_status_verifies_the_generation_instead_of_trusting_the_state(data_copy):
    r = run_cli("index", "--status", data_dir=data_copy)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"]
    gen = data_copy / "index" / state_of(data_copy)["generation"]
    vectors = gen / "passage_vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-5000])
    r = run_cli("index", "--status", data_dir=data_copy)
    status = json.loads(r.stdout)
    assert r.returncode == 4 and not status["up_to_date"] and "passage_vectors.npy" in status["problems"][0]["problem"]
    r = run_cli("ask", SHIPPED_QUESTION, data_dir=data_copy)
    assert r.returncode == 4 and "index --rebuild" in r.stderr
    r = run_cli("index", "--rebuild", data_dir=data_copy)
    assert r.returncode == 0, r.stderr
    assert json.loads(run_cli("index", "--status", data_dir=data_copy).stdout)["ok"]
    assert_intact(data_copy)


# ---------------------------------------------------------------------------------- 4. one writer at a time


def _popen(args: list[str], data_dir: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "POLICY_ASSISTANT_DATA_DIR": str(data_dir), **(env or {})})


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended before {what}: {proc.communicate()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _lock_holder(data_dir: Path) -> int | None:
    try:
        return json.loads((data_dir / "index.lock").read_text() or "null")["pid"]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def test_two_ingests_at_once_run_one_after_the_other(data_copy, tmp_path):
    one, two, three = tmp_path / "cities.md", tmp_path / "regions.md", tmp_path / "third.md"
    one.write_text(english_report("Cities report", 60, 11, "The Quillford ferry office hired nine interpreters."), encoding="utf-8")
    two.write_text(english_report("Regions report", 20, 12, "The Brackmoor region printed a welcome atlas."), encoding="utf-8")
    three.write_text(english_report("Third report", 10, 13, "Nothing to see."), encoding="utf-8")
    first = _popen(["ingest", str(one)], data_copy)
    try:
        _wait_for(lambda: _lock_holder(data_copy) == first.pid, 120, "the first ingest to take the lock", first)
        second = _popen(["ingest", str(two)], data_copy)  # waits for the lock
        impatient = run_cli("ingest", str(three), data_dir=data_copy, env={"POLICY_ASSISTANT_INGEST__LOCK_TIMEOUT_S": "0"})
        out1, err1 = first.communicate(timeout=600)
        out2, err2 = second.communicate(timeout=600)
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
    assert impatient.returncode == 3 and "another ingest is running" in impatient.stderr
    assert "Traceback" not in impatient.stderr
    assert first.returncode == 0 and "Traceback" not in err1, err1
    assert second.returncode == 0 and "Traceback" not in err2, err2
    assert "waiting for" in err2
    assert sorted(e["source"] for e in registry(data_copy)) == ["cities.txt", "regions.txt"]
    _, answer = ask("How many interpreters did the Quillford ferry office hire?", data_copy)
    assert answer["citations"] and answer["citations"][0]["source"] == "cities.txt"
    _, answer = ask("What did the Brackmoor region print?", data_copy)
    assert answer["citations"] and answer["citations"][0]["source"] == "regions.txt"
    assert_intact(data_copy)


# ---------------------------------------------------------------------------------- 5. interrupted ingests


def test_ingest_killed_while_embedding_is_pending_until_resumed(data_copy, tmp_path):
    """kill -9 during embedding: `index --status` shows the interrupted ingest, `ask` answers at once
    from the previous index (and says so), `ingest` refuses until it is settled, `index --resume`
    finishes it reusing the vectors embedded before the kill."""
    before = state_of(data_copy)
    fact = "The Zorbaville harbour council opened a night school for 314 newcomers in 2021."
    big = tmp_path / "harbours.md"
    big.write_text(english_report("Harbour cities and their newcomers", 200, 5, fact), encoding="utf-8")
    journal = data_copy / "pending" / "journal.json"

    def embedded() -> int:
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        return data.get("phase") == "embedding" and (data.get("progress") or {}).get("done", 0)

    proc = _popen(["ingest", str(big)], data_copy)
    try:
        _wait_for(lambda: embedded() >= 32, 300, "a group of passages to be embedded", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    r = run_cli("index", "--status", data_dir=data_copy)
    status = json.loads(r.stdout)
    assert r.returncode == 0 and status["ok"], r.stdout  # the committed index is fine
    pending = status["pending"]
    assert pending["state"] == "interrupted" and pending["phase"] == "embedding"
    assert pending["resume"] == "policy-assistant index --resume" and pending["discard"] == "policy-assistant index --discard"
    assert status["generation"] == before["generation"]

    t0 = time.perf_counter()
    r, answer = ask(SHIPPED_QUESTION, data_copy)
    elapsed = time.perf_counter() - t0
    assert r.returncode == 0 and answer["citations"] and not answer["refused"]
    assert "interrupted ingest is pending" in r.stderr and "index --resume" in r.stderr
    assert "Embedding" not in r.stderr and elapsed < 30  # no build first: at once
    assert state_of(data_copy)["generation"] == before["generation"]
    assert registry(data_copy) == []

    other = tmp_path / "other.md"
    other.write_text(LISBON, encoding="utf-8")
    r = run_cli("ingest", str(other), data_dir=data_copy)
    assert r.returncode == 3 and "interrupted ingest is pending" in r.stderr and "--resume" in r.stderr

    r = run_cli("index", "--resume", data_dir=data_copy, timeout=900)
    assert r.returncode == 0 and "resumed and finished" in r.stdout, r.stderr
    state = state_of(data_copy)
    new = state["passages"] - before["passages"]
    assert 32 <= new - state["embedded_passages"]  # the passages embedded before the kill were kept
    assert [e["source"] for e in registry(data_copy)] == ["harbours.txt"]
    _, answer = ask("What did the Zorbaville harbour council open?", data_copy)
    assert answer["citations"] and answer["citations"][0]["source"] == "harbours.txt"
    assert "night school" in answer["answer"]
    assert json.loads(run_cli("index", "--status", data_dir=data_copy).stdout)["pending"] is None
    assert_intact(data_copy)


def test_interrupted_ingest_can_be_discarded(data_copy, tmp_path, monkeypatch):
    from assistant.changes import ReportChanges, pending_status
    from assistant.index import IndexManager
    from assistant.ingest import convert
    from assistant.settings import Settings

    settings = Settings(data_dir=data_copy)
    before = state_of(data_copy)
    doc = tmp_path / "lisbon.md"
    doc.write_text(LISBON, encoding="utf-8")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(IndexManager, "_write_files", killed)
    with pytest.raises(KeyboardInterrupt), ReportChanges(settings) as tx:
        tx.add(doc, convert(doc, settings))
        tx.apply(progress=False)
    monkeypatch.undo()
    assert pending_status(settings)["state"] == "interrupted"
    assert (data_copy / "pending" / "sources" / "lisbon.txt").exists()
    assert not (data_copy / "sources" / "lisbon.txt").exists() and registry(data_copy) == []

    r, answer = ask(SHIPPED_QUESTION, data_copy)
    assert r.returncode == 0 and answer["citations"] and "interrupted ingest is pending" in r.stderr
    r = run_cli("index", "--discard", data_dir=data_copy)
    assert r.returncode == 0 and "discarded" in r.stdout, r.stderr
    assert not (data_copy / "pending").exists() and registry(data_copy) == []
    assert state_of(data_copy)["generation"] == before["generation"]
    status = json.loads(run_cli("index", "--status", data_dir=data_copy).stdout)
    assert status["ok"] and status["pending"] is None
    r = run_cli("ingest", str(doc), data_dir=data_copy)  # and the file can be ingested again
    assert r.returncode == 0 and "added" in r.stdout
    assert_intact(data_copy)


def test_a_change_killed_after_its_commit_point_is_finished_by_the_next_reader(data_copy, tmp_path, monkeypatch):
    from assistant import changes
    from assistant.ingest import convert
    from assistant.settings import Settings

    settings = Settings(data_dir=data_copy)
    doc = tmp_path / "ghent.html"
    doc.write_text(GHENT, encoding="utf-8")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed after the state switch")

    monkeypatch.setattr(changes, "_finish", killed)
    with pytest.raises(KeyboardInterrupt), changes.ReportChanges(settings) as tx:
        tx.add(doc, convert(doc, settings))
        tx.apply(progress=False)
    monkeypatch.undo()
    journal = json.loads((data_copy / "pending" / "journal.json").read_text())
    assert journal["phase"] == "committing" and state_of(data_copy)["generation"] == journal["generation"]
    assert registry(data_copy) == []  # the new generation serves; the list is not written yet

    _, answer = ask("How many pairs did the Ghent buddy programme form?", data_copy)
    assert answer["citations"][0]["source"] == "ghent.txt" and answer["citations"][0]["title"] == "Ghent buddy programme"
    assert [e["source"] for e in registry(data_copy)] == ["ghent.txt"]  # rolled forward
    assert (data_copy / "sources" / "ghent.txt").exists()
    assert_intact(data_copy)


# ---------------------------------------------------------------------------------- 6. messages


def test_an_error_in_the_history_names_the_history(assistant):
    r = run_cli("ask", "--history", "x " * 3000, "What was it called?")
    assert r.returncode == 2 and "earlier question in the history" in r.stderr and "too long" in r.stderr
    assert "Traceback" not in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_without_feedback_storage_when_its_file_is_damaged(data_copy):
    (data_copy / "feedback.sqlite3").write_bytes(b"SQLite format 2\x00 but not really" * 200)
    port = _free_port()
    proc = _popen(["serve", "--port", str(port)], data_copy)
    try:
        import urllib.request

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    return resp.status == 200
            except OSError:
                return False

        _wait_for(up, 180, "the web chat to answer", proc)
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert "feedback file" in err and "is damaged" in err and "runs without storing feedback" in err
    assert "mv " in err and ".damaged" in err
    assert "Traceback" not in err


def test_feedback_store_on_a_damaged_file_stores_nothing_and_says_how_to_repair(tmp_path):
    from ui.feedback import FeedbackStore

    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(b"not a database at all " * 100)
    store = FeedbackStore(path)
    assert store.problem and "mv " in store.problem and ".recover" in store.problem
    store.record_vote("a1", "up", "q", "a")
    store.record_turn("a1", "q", {"answer": "a"})
    assert store.add_comment("a1", "  fine   answer ") == "fine answer"
    assert store.turns() == [] and store.feedback() == [] and store.get_feedback("a1") is None
    assert store.transcripts() == {} and store.conversation(None, None, "s") == []
    healthy = FeedbackStore(tmp_path / "ok.sqlite3")
    healthy.record_vote("a1", "up", "q", "a")
    assert healthy.problem is None and healthy.get_feedback("a1").vote == "up"
