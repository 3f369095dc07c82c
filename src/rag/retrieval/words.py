"""The question's words as the lexical side reads them: accent-folded tokens without stop words, the
student glossary's French words for them, and the kind of fact a question asks (an amount, an address,
a date...) with what that fact looks like in the texts."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Folded-accent stop words of the question languages the lexical side sees (French and English text,
# questions in any Latin-script language); without them BM25 rewards "de", "la", "the".
STOPWORDS = frozenset("""
a au aux avec ce ces cette comment combien dans de des du elle en est et etre il ils je la le les leur
mais me mon ne nos notre nous on ou par pas pour qu que quel quelle quels quelles qui sa se ses son sur ta
te tes ton tu un une vos votre vous y l d s c j n m qu est-ce ai as avez ont sont faut peut puis
the of and to in for on at by is are was be do does did how what which who whom where when why can i my
me you your we our it its an or with from as this that there their they much many any about into
el la los las del un una que como cual cuanto cuanta cuantos donde cuando para por con es son se mi
o os um uma do da dos das em no na como qual quanto onde quando para com e sao
der die das den dem des ein eine einen ist sind wie was wo wann fur mit und zu im am ich kann
il lo gli i le un una di del della che come quale quanto dove quando per con e sono posso
""".split())
# A word, hyphenated compounds split: the corpus's "Hauts-de-France" must count "Hauts" as known.
_NAME = re.compile(r"[^\W\d_]\w*")
_TOKEN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[a-z0-9]+")
# Student words in the question languages -> the French words the texts use. Only the lexical side
# sees these; the dense side is multilingual already. Keys are folded (no accents); a key in a
# non-Latin script is matched as a substring of the question.
GLOSSARY = {
    "bourse allocation montant": "grant scholarship allowance beca bolsa stipendium borsa منحة 奖学金 助学金",
    "mois mensuel": "month monthly mes mensual mensal monat monatlich mese mensile شهر 每月 每个月",
    "logement": "housing accommodation alojamiento alojamento unterkunft wohnung alloggio سكن 住房 住宿",
    "stage": "internship traineeship placement practicas pasantia estagio praktikum tirocinio تدريب 实习",
    "handicap": "disability disabled discapacidad deficiencia behinderung disabilita إعاقة 残疾",
    "candidature candidater": "apply application solicitar solicito candidatar bewerben bewerbe candidarsi 申请",
    "entrante accueil": "incoming llegan chegam ankommende arrivo القادمين 来访",
    "sortante etranger": "outgoing abroad extranjero exterior ausland estero الخارج 出国",
    "contact mail": "courriel email e-mail correo contactar contactar kontakt contattare indirizzo البريد 联系 邮件",
    "etrangers internationaux": "foreign international extranjeros estrangeiros auslandische stranieri الأجانب الدوليين 外国 国际",
    "echange mobilite": "exchange intercambio intercambio austausch scambio تبادل 交换",
    "certification": "certificate certification certificacion certificado zertifikat sprachzertifikat certificazione شهادة 证书",
    "langues": "language languages idiomas linguas sprachen lingue لغة 语言",
    "formations": "degree programmes programs courses cursos studiengange corsi برامج 课程 专业",
    "campus": "campuses campi standort standorte 校区 حرم",
    "chercheur": "researcher investigador pesquisador forscher ricercatore باحث 研究员",
    "partenariats partenaires": "partner partnership partnerships asociaciones parcerias partnerschaften partenariati شراكة 合作",
    "personnel": "staff personal personale mitarbeiter موظفين 员工",
    "cumulable": "combine combined cumulative kombinieren combinar cumulare الجمع 同时",
    "frais": "fees tuition tasas propinas gebuhren tasse رسوم 学费",
    "creee creation": "founded created established fundada gegrundet fondata تأسست 成立",
    "etudiants": "students estudiantes studenten studenti طلاب 学生",
    "recrutement": "job jobs employment vacancies hiring recruitment empleo trabajo emprego stellenangebote lavoro "
                   "emploi emplois وظائف 招聘 工作",
}
# A question word at least this long that starts with a glossary word counts as it (dev: +1 question, the
# German 'Sprachzertifikate'; test unchanged).
GLOSSARY_PREFIX_CHARS = 6
# Question words asking for a kind of fact, in the assistant's languages, and what that fact looks like
# in the French and English texts. Retrieval gives passages holding the asked-for kind a small bonus;
# the answer prefers the sentence that holds it.
ANSWER_TYPES = {
    # a sum of money: "how much is the grant", "combien touche-t-on", "cuánto es la beca", "prix", "学费"
    "money": (re.compile(r"\b(how much|montant|amount|cu[aá]nto (?:es|son|vale|cuesta|cobra|dan|pagan|recib\w*)|quant[oa] (?:é|e|è|vale|paga\w*|ricev\w*|receb\w*|d[aã]o|danno)|wie ?viel|wie hoch|betrag|importo|valor|prix|"
                         r"price|prices|co[uû]t\w*|costs?|tarifs?|fees?|precio|cuesta\w*|custa\w*|pre[cç]o|kostet|kosten|preis|"
                         r"costa\w*|prezzo|combien d'euros|"
                         # ru, tr, pl, nl, vi
                         r"сколько стоит|стоимость\w*|цена|сумма|ne kadar|[üu]cret\w*|fiyat\w*|tutar\w*|ile kosztuje|ile wynosi|"
                         r"koszt\w*|kwota|op[łl]at\w*|hoeveel kost\w*|bedrag|prijs|bao nhi[eê]u ti[eề]n|chi ph[ií]|h[oọ]c ph[ií])\b|\bcombien\s+(co[uû]t|touch|gagn|pai|pay|donn|re[cç]oi|vaut|rapport|vers)|"
                         r"多少钱|金额|价格|费用|学费|سعر|تكلفة|تبلغ|いくら|金額|費用|料金|学費|얼마|금액|비용|학비|등록금", re.IGNORECASE),
              re.compile(r"\d[\d  .,]*\s*(€|euros?\b)|€\s*\d", re.IGNORECASE)),
    # a number of things: "how many campuses", "combien d'étudiants", "cuántos", "几个"
    "count": (re.compile(r"\b(how many|combien|cu[aá]nt[oa]s|quant[oa]s|quant[ie]|wie viele|сколько|ka[çc]|ile (?!ilgili)\w+[óo]w|hoeveel|"
                        r"bao nhi[eê]u|mấy)\b|几个|多少(?!钱)|كم عدد|いくつ|何人|何校|何か所|몇", re.IGNORECASE),
              re.compile(r"\d")),
    "address": (re.compile(r"\b(e-?mail|courriel|mail|adresse|address|correo|contact\w*|kontakt\w*|contatt\w*|whom?)\b|"
                           r"\b(qui|quem|qui[eé]n|wer|chi)\b.*\b(contacter|contactar|contattare|kontaktieren|écrire)|"
                           r"\b(почт\w*|адрес\w*|контакт\w*|связаться|e-?posta|adres\w*|ileti[şs]im|napisa[ćc]|"
                           r"li[eê]n h[eệ]|đ[iị]a ch[iỉ]|dia chi)\b|البريد|邮件|邮箱|联系|メール|アドレス|連絡|이메일|메일|주소|연락", re.IGNORECASE),
                re.compile(r"@|https?://|www\.")),
    "date": (re.compile(r"\b(quand|depuis quand|when|since when|cu[aá]ndo|desde cu[aá]ndo|quando|wann|seit wann|date|year|ann[ée]e)\b|"
                        r"\b(когда|в каком году|ne zaman|hangi y[ıi]l\w*|kiedy|od kiedy|w kt[óo]rym roku|wanneer|sinds wanneer|welk jaar|"
                        r"khi n[aà]o|bao gi[oờ]|n[aă]m n[aà]o)\b|متى|什么时候|何时|哪一年|いつ|何年|언제", re.IGNORECASE),
             re.compile(r"\b(1[89]|20)\d\d\b|\b(janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|"
                        r"d[ée]cembre|january|february|march|april|may|june|july|august|september|october|november|december)\b",
                        re.IGNORECASE)),
    # a telephone number: "phone number", "numéro de téléphone", "telefono", "电话"
    "phone": (re.compile(r"\b(t[ée]l[ée]phone\w*|phone|tel|t[ée]l[ée]fono|telefone|telefon\w*|call|appeler|llamar|ligar|"
                         r"anrufen|chiamare|телефон\w*|позвонить|zadzwoni[ćc]|telefoon\w*|bellen|[đd]i[eệ]n tho[aạ]i)\b|电话|هاتف|رقم|電話|전화", re.IGNORECASE),
              re.compile(r"(?:\+|\b0)\d(?:[\s.\u00a0-]?\d{2}){4}\b")),
    # a time of day: "opening hours", "à quelle heure", "horario", "几点"
    "hours": (re.compile(r"\b(horaires?|heures? d'ouverture|quelle heure|opening hours|opening times|what time|horarios?|"
                         r"a qu[eé] hora|que horas|orari\w*|a che ora|öffnungszeiten|uhrzeit|часы работы|во сколько|[çc]al[ıi][şs]ma saat\w*|"
                         r"saat ka[çc]ta|godziny otwarcia|o kt[óo]rej|openingstijden|hoe laat|gi[oờ] m[oở] c[uử]a|mấy giờ|may gio)\b|"
                         r"几点|营业时间|开放时间|ساعات|営業時間|開館時間|何時|운영 시간|몇 시|영업시간", re.IGNORECASE),
              re.compile(r"\b\d{1,2}\s?h\s?\d{0,2}\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(am|pm)\b", re.IGNORECASE)),
}


def fold(text: str) -> str:
    """Lower case without accents: 'Étudiant Été' -> 'etudiant ete'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """'Contact : erasmus@uphf.fr, les Bourses' -> ['contact', 'erasmus@uphf.fr', 'mail', 'erasmu', 'uphf', 'fr', 'bourse']"""
    tokens = []
    for token in _TOKEN.findall(fold(text)):
        if "@" in token:
            tokens += [token, "mail"]  # a passage giving an address answers "which e-mail / courriel?"
            tokens.extend(t for t in re.findall(r"[a-z0-9]+", token) if t not in STOPWORDS)
        elif token not in STOPWORDS:
            tokens.append(token[:-1] if len(token) > 4 and token.endswith("s") else token)
    return tokens


@lru_cache(maxsize=4096)
def expand_query(question: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The question's lexical tokens plus the French words its student vocabulary maps to, plus `extra`
    (the induced lexicon's reading of its other words, lexicon.py) (cached: the retrieval and the answer ask
    for the same question's words).

    'How much is the Erasmus grant per month?' -> (..., 'erasmus', 'grant', 'month', 'bourse', 'allocation', 'montant', 'mois', 'mensuel')
    """
    tokens = tokenize(question)
    present = set(tokens)
    # Inflected and compound forms: 'Sprachzertifikate', 'certificaciones', 'studenti' start with the
    # glossary's word. Short words are left out ('stage' would match 'stagiaire' and 'stages' alike).
    prefixes = {t[:k] for t in present for k in range(GLOSSARY_PREFIX_CHARS, len(t) + 1)}
    folded = fold(question)
    mapped = []
    for french, words in _GLOSSARY_INDEX:
        if any(w in folded if not w.isascii() else (w in present or w.rstrip("s") in present or
                                                     (len(w) >= GLOSSARY_PREFIX_CHARS and w in prefixes))
               for w in words):
            mapped.extend(french)
    added = [t for t in mapped if t not in present]
    return tuple(tokens + added + [t for t in extra if t not in present and t not in added])


# The French side goes through the same folding and plural-stripping as the indexed text, or
# "etudiants" would never meet the index's "etudiant".
_GLOSSARY_INDEX = [(tokenize(french), words.split()) for french, words in GLOSSARY.items()]


@lru_cache(maxsize=4096)
def answer_types(question: str) -> frozenset[str]:
    """What kind of fact the question asks for: 'How much is the grant?' -> {'money'} (cached: ranking,
    confidence and the answer each ask)."""
    return frozenset(kind for kind, (asks, _) in ANSWER_TYPES.items() if asks.search(question))


def asked_kinds(question: str, search_text: str) -> frozenset[str]:
    """The kind of fact a reading asks for: the question's own ('who do I write to about it?' -> an address,
    though the previous question it is read with asked an amount), or, when it names none ('and for a
    master?'), the previous question's, carried in `search_text`."""
    return answer_types(question) or answer_types(search_text)


YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")   # a year a question names: "Parcoursup 2027"
