"""Writes eval/qa.jsonl from the table below: hand-written questions, as students ask them.

Each row: language, question, needles (empty for a question the texts do not answer), source.
The split alternates within each language (dev, test, dev, ...), so both splits have every language.
Run: python eval/make_qa.py
"""

import json
from collections import defaultdict
from pathlib import Path

F, UPJV, LILLE = "uphf-faq", "upjv-international", "ulille-international"
NONE = None
ROWS = [
    # --- French, answerable (every page of the UPHF FAQ) ---
    ("fr", "Où candidater en master 1 ?", ["Mon Master"], F),
    ("fr", "Je viens d'avoir mon bac, sur quelle plateforme je dois candidater pour une licence ?", ["Parcoursup"], F),
    ("fr", "J'habite en France et je veux entrer en licence 3, j'utilise quelle application ?", ["eCandidat"], F),
    ("fr", "Quelles sont les étapes pour s'inscrire à l'UPHF ?", ["inscription administrative", "trois étapes"], F),
    ("fr", "Comment faire un transfert de dossier vers une autre université ?", ["transfert-scolarite@uphf.fr", "demande de transfert"], F),
    ("fr", "Combien de campus a l'UPHF et où sont-ils ?", ["Cambrai", "Maubeuge", "5 campus"], F),
    ("fr", "Quand l'Université Polytechnique Hauts-de-France a-t-elle été créée ?", ["9 septembre 2019"], F),
    ("fr", "C'est quoi l'alliance EUNICE ?", ["alliance de dix établissements", "dix"], F),
    ("fr", "Quelles universités font partie d'EUNICE ?", ["Poznan", "Vaasa", "Cantabria", "Karlstad"], F),
    ("fr", "Depuis quand l'UPHF est-elle une université européenne ?", ["9 juillet 2020"], F),
    ("fr", "Qui contacter pour le développement durable à l'université ?", ["ddrs@uphf.fr"], F),
    ("fr", "Quel est le classement de l'UPHF au Times Higher Education 2022 ?", ["1001-1200"], F),
    ("fr", "Sur quels objectifs de développement durable l'UPHF a-t-elle obtenu ses meilleurs scores dans le classement d'impact ?", ["58,2", "inégalités réduites"], F),
    ("fr", "Comment trouver le contact d'un enseignant ou d'un service ?", ["uphf.fr/annuaire"], F),
    ("fr", "Combien d'étudiants compte l'UPHF ?", ["14 500", "14500"], F),
    ("fr", "En quelle année l'IUT de Valenciennes a-t-il été créé ?", ["1967"], F),
    ("fr", "Combien d'étudiants étrangers y a-t-il à l'UPHF ?", ["1 700"], F),
    ("fr", "L'UPHF a-t-elle le label Bienvenue en France ?", ["niveau 2"], F),
    ("fr", "Quel est le code Erasmus de l'UPHF ?", ["999884537"], F),
    ("fr", "Quel est le numéro OID de l'université ?", ["E10209014"], F),
    ("fr", "Quelle adresse mail pour les questions sur Erasmus+ ?", ["erasmus@uphf.fr"], F),
    ("fr", "Je suis enseignant, combien d'heures de cours minimum pour une mobilité d'enseignement Erasmus ?", ["8 heures"], F),
    ("fr", "Quelle est la durée minimum d'une mobilité du personnel hors Europe ?", ["5 jours"], F),
    ("fr", "Où trouver la liste des formations de l'UPHF ?", ["formations.uphf.fr"], F),
    ("fr", "Pourquoi choisir l'UPHF pour mes études ?", ["polytechnique", "taille humaine"], F),
    ("fr", "Quelles certifications en langues peut-on passer à l'UPHF ?", ["TOEIC", "LINGUASKILL", "VOLTAIRE"], F),
    ("fr", "Quels sont les horaires du centre de ressources en langues ?", ["8h30"], F),
    ("fr", "Où se trouve le CRL du Mont Houy ?", ["Matisse"], F),
    ("fr", "Je suis en situation de handicap, qui dois-je contacter ?", ["relaishandicap@uphf.fr", "Relais Handicap"], F),
    ("fr", "C'est quoi le PAEH ?", ["Plan d'Accompagnement de l'Etudiant en situation de Handicap"], F),
    ("fr", "Où voir les offres d'emploi de l'université ?", ["uphf.fr/universite/recrutements"], F),
    ("fr", "Peut-on partir étudier au Québec ?", ["BCI"], F),
    ("fr", "Quels sont les avantages d'un double diplôme ?", ["deux diplômes"], F),
    ("fr", "Qui contacter pour ma convention de stage à l'étranger ?", ["stage-emploi@uphf.fr", "BAIP"], F),
    ("fr", "Quels documents fournir pour déclarer ma mobilité de stage ?", ["Convention de stage signée", "avis d'imposition"], F),
    ("fr", "Est-ce que l'université me trouve un logement pendant ma mobilité à l'étranger ?", ["ne vous trouve pas de logement"], F),
    ("fr", "Je veux prolonger mon stage Erasmus, quand dois-je faire la demande ?", ["un mois avant"], F),
    ("fr", "À mon retour de stage, comment je reçois le solde de ma bourse ?", ["attestation de présence"], F),
    ("fr", "Je suis chercheur étranger, quel code postal indiquer sur la base EURAXESS ?", ["59300"], F),
    ("fr", "Comment joindre le centre EURAXESS ?", ["euraxess@uphf.fr"], F),
    ("fr", "Combien touche-t-on par mois avec la bourse Erasmus ?", ["210", "261", "312"], F),
    ("fr", "Quel est le plafond de quotient familial pour la bourse Mermoz ?", ["30 000"], F),
    ("fr", "Quel est le montant de l'aide à la mobilité internationale pour les boursiers ?", ["400"], F),
    ("fr", "Combien donne la contribution forfaitaire de l'UPHF ?", ["500 euros"], F),
    ("fr", "Quels critères pour l'attribution d'une aide financière à la mobilité ?", ["Type de mobilité", "Durée du séjour"], F),
    ("fr", "Combien de temps dure la phase sur place d'un programme intensif hybride EUNICE ?", ["5 à 30 jours"], F),
    ("fr", "Quand ont eu lieu les EUNICE Weeks ?", ["23 octobre"], F),
    ("fr", "Quels formats de cours en ligne propose EUNICE ?", ["MOOC", "online live course"], F),
    ("fr", "Qui contacter pour proposer un cours avec un partenaire EUNICE ?", ["eunice@uphf.fr"], F),
    ("fr", "Je suis étudiant étranger et je veux venir à l'UPHF en échange, quel mail contacter ?", ["international_in@uphf.fr"], F),
    ("fr", "Quel est le contact relations internationales de l'IUT ?", ["iut-ri@uphf.fr"], F),
    ("fr", "Jusqu'à quel âge peut-on signer un contrat d'apprentissage ?", ["29 ans"], F),
    ("fr", "Depuis quand l'UPHF est-elle certifiée Qualiopi ?", ["juillet 2021"], F),
    ("fr", "C'est quoi le statut national étudiant entrepreneur ?", ["SNEE", "PEPITE"], F),
    ("fr", "Que propose le Hubhouse aux étudiants qui veulent créer une entreprise ?", ["Hubhouse"], F),
    ("fr", "Combien d'Erasmus partenariats a l'UPJV ?", ["265"], UPJV),
    ("fr", "L'Université de Lille a-t-elle un bureau au Brésil ?", ["Belo Horizonte"], LILLE),
    # --- French, not answered by the texts ---
    ("fr", "Quel temps fait-il à Valenciennes en hiver ?", [], NONE),
    ("fr", "Combien coûtent les frais d'inscription à la Sorbonne ?", [], NONE),
    ("fr", "Quel est le prix d'un repas au restaurant universitaire ?", [], NONE),
    ("fr", "Bonjour, tu peux me raconter une blague ?", [], NONE),
    ("fr", "Quel est le nom du président de l'Université de Lille ?", [], NONE),
    ("fr", "Où se garer sur le campus d'Amiens ?", [], NONE),
    ("fr", "Quelle est la date limite Parcoursup en 2027 ?", [], NONE),
    ("fr", "Combien coûte un titre de séjour étudiant ?", [], NONE),
    ("fr", "Quel est le mot de passe du wifi de la bibliothèque ?", [], NONE),
    ("fr", "Quels sont les horaires de la piscine municipale de Cambrai ?", [], NONE),
    ("fr", "Quelle moyenne faut-il pour être admis en master d'informatique à Lyon ?", [], NONE),
    ("fr", "Combien coûte un loyer en résidence CROUS à Lille ?", [], NONE),
    # --- English ---
    ("en", "How much is the Erasmus grant per month?", ["210", "261", "312"], F),
    ("en", "Where do I apply for a master's degree at UPHF?", ["Mon Master"], F),
    ("en", "How many campuses does UPHF have?", ["5 campus", "Cambrai", "Maubeuge"], F),
    ("en", "What is the Erasmus code of UPHF?", ["999884537"], F),
    ("en", "Who should I email about incoming exchange mobility?", ["international_in@uphf.fr"], F),
    ("en", "Who do I contact about going abroad as an outgoing student?", ["international_out@uphf.fr"], F),
    ("en", "What is the maximum monthly amount of the Mermoz scholarship?", ["400"], F),
    ("en", "Can I combine the Erasmus grant with the Mermoz grant?", ["CUMULABLE"], F),
    ("en", "What is EUNICE?", ["alliance de dix", "EUNICE"], F),
    ("en", "Which country is the EUNICE partner university of Vaasa in?", ["Finlande"], F),
    ("en", "I have a disability, who can help me with exam arrangements?", ["Relais Handicap", "relaishandicap@uphf.fr"], F),
    ("en", "What does PAEH stand for?", ["Plan d'Accompagnement de l'Etudiant en situation de Handicap"], F),
    ("en", "Which language certifications can I take at UPHF?", ["TOEIC", "LINGUASKILL", "BRIGHT"], F),
    ("en", "Does the university help me find housing abroad during my exchange?", ["ne vous trouve pas de logement"], F),
    ("en", "I'm a visiting researcher, who helps me with my visa and bank account?", ["EURAXESS"], F),
    ("en", "How many foreign students study at UPHF?", ["1 700", "12%"], F),
    ("en", "When did UPHF receive the Bienvenue en France label?", ["20 mai 2021"], F),
    ("en", "What is the minimum duration of a mobility to get the Erasmus allowance?", ["60 jours"], F),
    ("en", "What is the extra monthly amount for an Erasmus internship?", ["150"], F),
    ("en", "Where can I find the list of degree programmes?", ["formations.uphf.fr"], F),
    ("en", "How many Erasmus partnerships does UPJV have?", ["265"], UPJV),
    ("en", "What is the Erasmus Mundus master offered by UPJV?", ["MESC+"], UPJV),
    ("en", "Does UPJV have a French as a foreign language centre?", ["Centre FLE"], UPJV),
    ("en", "How often does the UPJV International Relations Commission meet?", ["once a quarter"], UPJV),
    ("en", "Where does UPJV offer delocalised courses?", ["Budapest", "Hanoi"], UPJV),
    ("en", "Which universities are in the 3i University Network with Lille?", ["Ghent", "KU Leuven", "Kent"], LILLE),
    ("en", "What is the InclusU alliance?", ["InclusU"], LILLE),
    ("en", "Which exchange programme links the University of Lille with the United States?", ["ISEP"], LILLE),
    ("en", "Since when has the University of Lille been a member of SGroup?", ["2020"], LILLE),
    ("en", "What is the weather like in Lille in November?", [], NONE),
    ("en", "How much are tuition fees at Harvard?", [], NONE),
    ("en", "Hi! How are you today?", [], NONE),
    ("en", "What is the Erasmus code of the University of Lille?", [], NONE),
    ("en", "How much does a student visa cost for Indian citizens?", [], NONE),
    ("en", "Can you recommend a good pizza place near the campus?", [], NONE),
    ("en", "What are the opening hours of the UPJV library?", [], NONE),
    ("en", "Who won the football World Cup in 2022?", [], NONE),
    # --- Spanish ---
    ("es", "¿Cuánto es la beca Erasmus al mes?", ["210", "261", "312"], F),
    ("es", "¿Dónde solicito la inscripción en un máster 1?", ["Mon Master"], F),
    ("es", "¿Cuál es el correo para los estudiantes internacionales que llegan de intercambio?", ["international_in@uphf.fr"], F),
    ("es", "¿Qué universidades forman parte de la alianza EUNICE?", ["Cantabria", "Poznan", "Catania"], F),
    ("es", "¿Qué certificaciones de idiomas ofrece la UPHF?", ["TOEIC", "LINGUASKILL"], F),
    ("es", "¿Cuántas asociaciones Erasmus tiene la UPJV?", ["265"], UPJV),
    ("es", "¿Cuál es el precio del transporte público en Valenciennes?", [], NONE),
    ("es", "¿Qué tiempo hace hoy en Amiens?", [], NONE),
    # --- Portuguese ---
    ("pt", "Qual é o valor da bolsa Erasmus por mês?", ["210", "261", "312"], F),
    ("pt", "Quantos campi tem a UPHF?", ["5 campus", "Cambrai"], F),
    ("pt", "Quem devo contactar sobre deficiência e adaptações nos exames?", ["Relais Handicap", "relaishandicap@uphf.fr"], F),
    ("pt", "A Universidade de Lille tem parcerias com a América Latina?", ["Latin America", "Belo Horizonte"], LILLE),
    ("pt", "Qual é o código Erasmus da UPHF?", ["999884537"], F),
    ("pt", "Quanto custa a mensalidade de uma universidade privada em Paris?", [], NONE),
    # --- German ---
    ("de", "Wie hoch ist das Erasmus-Stipendium pro Monat?", ["210", "261", "312"], F),
    ("de", "Wo bewerbe ich mich für einen Master 1?", ["Mon Master"], F),
    ("de", "Welche Sprachzertifikate kann ich an der UPHF ablegen?", ["TOEIC", "LINGUASKILL"], F),
    ("de", "Mit welchen deutschen Organisationen arbeitet die UPJV zusammen?", ["DAAD"], UPJV),
    ("de", "Was ist das EURAXESS-Zentrum?", ["EURAXESS"], F),
    ("de", "Wie ist das Wetter morgen in Valenciennes?", [], NONE),
    # --- Italian ---
    ("it", "Quanto è la borsa Erasmus al mese?", ["210", "261", "312"], F),
    ("it", "Qual è l'indirizzo email per la mobilità Erasmus del personale?", ["erasmus-staff@uphf.fr"], F),
    ("it", "L'università di Catania fa parte di EUNICE?", ["Catania"], F),
    ("it", "Chi contattare per la convenzione di tirocinio all'estero?", ["stage-emploi@uphf.fr", "BAIP"], F),
    ("it", "Quanto costa un caffè al bar dell'università?", [], NONE),
    # --- Arabic ---
    ("ar", "كم تبلغ منحة إيراسموس شهريا؟", ["210", "261", "312"], F),
    ("ar", "ما هو البريد الإلكتروني للطلاب الدوليين القادمين؟", ["international_in@uphf.fr"], F),
    ("ar", "كم عدد الطلاب الأجانب في الجامعة؟", ["1 700", "12%"], F),
    ("ar", "ما هي أفضل وجبة في مطعم الجامعة؟", [], NONE),
    # --- Chinese ---
    ("zh", "伊拉斯谟奖学金每个月多少钱？", ["210", "261", "312"], F),
    ("zh", "UPHF有几个校区？", ["5 campus", "Cambrai"], F),
    ("zh", "残疾学生应该联系谁？", ["Relais Handicap", "relaishandicap@uphf.fr"], F),
    ("zh", "法国的大学学费是多少？巴黎索邦大学呢？", [], NONE),
]


def main() -> None:
    counters = defaultdict(int)
    out = Path(__file__).with_name("qa.jsonl")
    with out.open("w", encoding="utf-8") as handle:
        for number, (lang, question, needles, source) in enumerate(ROWS, start=1):
            answerable = bool(needles)
            key = (lang, answerable)
            split = "dev" if counters[key] % 2 == 0 else "test"
            counters[key] += 1
            record = {"id": f"q{number:03d}", "question": question, "lang": lang, "answerable": answerable,
                      "needles": needles, "split": split}
            if source:
                record["source"] = source
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(ROWS)} questions to {out}")


if __name__ == "__main__":
    main()
