"""What a message is about, in words: the salient terms of the text its author wrote.

Used by decision._topic_shift: a customer who hits Reply on our last answer to ask about another
order keeps every header of a reply; only the text says it is a new matter. A message's own text is
what is left after the quoted mail (`> ` lines, an attribution such as "On … wrote:" / "W dniu …
napisał(a):", Outlook's "-----Original Message-----" block) and the signature (from "-- " or the
sign-off line) are cut. Its salient terms are identifiers (order, invoice, tracking numbers, versions:
a token with at least three digits, kept whole) and content words (diacritics folded, lower case,
stopwords of Polish and English and mail boilerplate removed, cut to a short prefix so that Polish
inflection - "przesyłka", "przesyłki", "przesyłkę" - meets).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from responer_threading.domain.facts import MailFacts

# A thread's vocabulary is bounded so the PostgreSQL aggregate stays small: the first terms of a
# conversation (subject, first mail, our first answer) name the matter; later ones add little.
MAX_THREAD_TERMS = 400
STEM = 6

_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|wiadomo\w* oryginalna|urspr\w+ nachricht|forwarded message|"
    r"wiadomo\w* przekazana)\s*-{2,}"
    r"|on\b.{0,200}\bwrote:?"
    r"|(?:w dniu|dnia)\b.{0,200}\b(?:napisa\w*|pisze):?"
    r"|.{0,200}\bnapisa(?:ł|l)\(a\):"
    r"|wiadomo\w+ napisana przez\b.*"
    r"|am\b.{0,200}\bschrieb\b.*"
    r"|(?:from|od|von|de):\s.*@.*"
    r"|_{10,}"
    r")\s*$",
    re.I,
)
_SIGNATURE = re.compile(r"^(?:--|__)\s*$")
# Matched on the folded line: a short line that opens with a closing formula ends the text.
_SIGN_OFF = re.compile(
    r"^(?:pozdrawiam|pozdrowienia|pozdr\b|serdecznie|z powazaniem|z wyrazami|z pozdrowieniami|"
    r"z gory dzieku|dziekuje i pozdrawiam|kind regards|best regards|warm regards|many thanks|regards|"
    r"cheers|best\b|sincerely|yours\b|thanks in advance|thanks\W*$|thank you\W*$|thx\W*$|"
    r"mit freundlichen|viele gr|sent from my|wyslane z)"
)
_MAX_SIGN_OFF = 40
_TOKEN = re.compile(r"[0-9a-z]+(?:[/\-.][0-9a-z]+)*")
_DIGITS = re.compile(r"\d")
_DIGIT_GAP = re.compile(r"(?<=\d)[ \u00a0](?=\d)")
# How to reach or pay the author is no matter of its own: international phone numbers,
# "tel. 22 628 14 05", a bank account (IBAN) for a refund, also when a line wrap splits it.
_PARTY = re.compile(
    r"\b[a-z]{2}\d{2}(?:\s?[a-z]{4})?(?:\s?\d{4}){2,7}(?:\s?\d{1,4})?\b"
    r"|\+\d[\d \u00a0()./-]{6,}\d"
    r"|\b(?:tel|phone|mobile|fax|kom|telefon)\w*\.?:?\s*\(?\d[\d \u00a0()./-]{6,}\d"
)
# A date or a time is no identifier: "po 16:00", "do 08.01.2026" say when, not what.
_DATE = re.compile(r"^\d{1,4}(?:[./-]\d{1,2}){1,2}(?:[./-]\d{2,4})?$")

_STOPWORDS = frozenset(
    """
    a aby albo ale ani az bardzo bez bo by byc byl byla bylo byly bede bedzie beda ci cie co czy dla do
    dlatego dzis gdy gdyz gdzie go ich ile im inne i ja jak jaki jakie jako je jego jej jest jestem
    jeszcze jesli juz kazdy kiedy kto ktora ktore ktory ktorzy lub ma mam maja mi mie mnie moge moj moja
    moje moze mozna mu my na nad nam nas nasz nasza nasze nawet nie nic nich niz no o od on ona one oni
    ono oraz po pod przez przy sa sie si ta tak tam te tego tej ten to tu tylko tym u w we wiec wszystko
    z za ze zeby juz jeszcze pan pani panstwo panu panstwa pana prosze prosimy dzien dobry witam witamy
    szanowni szanowny szanowna hej czesc dziekuje dziekujemy dzieki bardzo uprzejmie informujemy
    pozdrawiam serdecznie wiadomosc wiadomosci odpowiedz odpowiedzi kontakt sprawa sprawie sprawe
    pytanie pytania informacje informacja informacji problem problemu mozecie mogli moglibyscie mogliby
    mogą moga chcialbym chcialabym chcial chciala prosba prosbe zalaczniku zalacznik dodam dodac
    the and or but if of to in on at by for with from as is are was were be been being it its this that
    these those there here we you your yours our ours i me my mine he she they them their his her an
    not no yes do does did done have has had can could would should will shall may might must am
    what when where which who whom why how all any some more most other such only own same so than too
    very just also again still please thanks thank thx hello hi dear sir madam team regards best kind
    cheers sincerely message email mail reply answer question issue problem help support info
    information regarding about re fw fwd odp aw wg pd sv tr
    """.split()
)


def fold(text: str) -> str:
    """Lower case without diacritics ("Łódź" -> "lodz"); ł has no decomposition of its own."""
    text = text.replace("ł", "l").replace("Ł", "L")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def own_text(text: str) -> str:
    """The part of a mail its author wrote now: before the quoted mail, without the signature."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or _ATTRIBUTION.match(stripped):
            break
        lines.append(line)
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line.strip()):
            lines = lines[:i]
            break
    # The sign-off closes the text: the name, company and phone below it are the author's, not the matter's.
    for i, line in enumerate(lines):
        folded = fold(line.strip())
        if len(folded) <= _MAX_SIGN_OFF and _SIGN_OFF.match(folded) and any(x.strip() for x in lines[:i]):
            lines = lines[:i]
            break
    return "\n".join(lines).strip()


def terms(text: str) -> frozenset[str]:
    """Salient terms of `text`: identifiers whole (with at least three digits), content words stemmed."""
    out: set[str] = set()
    # Digit groups written apart are one number: a phone "+48 561 666 521", an IBAN.
    for token in _TOKEN.findall(_DIGIT_GAP.sub("", _PARTY.sub(" ", fold(text)))):
        if _DIGITS.search(token):
            if sum(c.isdigit() for c in token) >= 3 and not _DATE.match(token):
                out.add(token.strip(".-/"))
            continue
        for word in re.split(r"[/\-.]", token):
            if len(word) >= 4 and word not in _STOPWORDS:
                out.add(word[:STEM])
    return frozenset(out)


def is_identifier(term: str) -> bool:
    return bool(_DIGITS.search(term))


def bounded(vocabulary: Iterable[str], more: Iterable[str]) -> tuple[str, ...]:
    """The thread's vocabulary after one more message: the old terms first, new ones up to the bound."""
    out = dict.fromkeys(vocabulary)
    for term in sorted(more):
        if len(out) >= MAX_THREAD_TERMS:
            break
        out.setdefault(term)
    return tuple(out)


def vocabulary_terms(facts: MailFacts) -> frozenset[str]:
    """What one message adds to its thread's vocabulary: its subject and the text its author wrote."""
    return terms(facts.subject) | terms(own_text(facts.text))
