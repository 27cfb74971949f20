"""What the sandbox's care home is made of: its people, residents, and everything they noted,
said and decided, in Danish written for this purpose (``sandbox.seed`` writes it).

Staff have first names only, residents an alias ("Fru H., stue 12"); ``texts()`` lists every
free text for the test that no CPR number is among them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from storage.models import CheckinAnswer, Role, Shift

SITE_NAME = "Plejehjemmet Solgården"
TEAM_NAME = "Team Rosen"
GROUP_TITLE = "Team Rosen, Solgården"
MEETING_PLACE = "Personalestuen, 1. sal"


# ---------------------------------------------------------------- who and whom


@dataclass(frozen=True)
class SeedPerson:
    key: str
    telegram_id: int
    first_name: str
    role: Role | None
    shifts: tuple[Shift, ...]
    language: str


LEAD = SeedPerson("mette", 7001, "Mette", Role.LEAD, (Shift.DAY,), "da")
STAFF = (
    SeedPerson("ahmed", 7002, "Ahmed", Role.STAFF, (Shift.DAY,), "da"),
    SeedPerson("line", 7003, "Line", Role.STAFF, (Shift.EVENING,), "da"),
    # Jonas reads the bot in English: a visitor who reads no Danish can be him.
    SeedPerson("jonas", 7004, "Jonas", Role.STAFF, (Shift.NIGHT,), "en"),
    SeedPerson("sofie", 7005, "Sofie", Role.STAFF, (Shift.DAY, Shift.EVENING), "da"),
)
STRANGER = SeedPerson("stranger", 7006, "Kim", None, (), "da")

RESIDENTS = (
    ("H", "Fru H., stue 12"),
    ("M", "Hr. M., stue 14"),
    ("P", "Fru P., stue 15"),
    ("N", "Hr. N., stue 17"),
    ("L", "Fru L., stue 18"),
    ("J", "Hr. J., stue 20"),
)

# ---------------------------------------------------------------- four weeks of moments

# (days ago, local time, author, resident, text, markers, shown without words, for the team)
_Moment = tuple[int, str, str, str, str, tuple[str, ...], bool, bool]
MOMENTS: tuple[_Moment, ...] = (
    (
        27,
        "08:20",
        "ahmed",
        "H",
        "Fru H. ville selv vælge trøje i dag. Hun pegede på den røde og sagde: "
        '"Den er min bedste." Hun smilede hele morgenen.',
        ("selvbestemmelse", "respekt"),
        False,
        False,
    ),
    (
        27,
        "21:40",
        "line",
        "L",
        "Fru L. ringede tre gange inden kl. 22 og spurgte hver gang, om hoveddøren var låst. "
        "Hun faldt til ro, da jeg gik med hende ud og viste hende, at den var.",
        ("tryghed",),
        False,
        False,
    ),
    (
        26,
        "02:10",
        "jonas",
        "L",
        "Fru L. var vågen og bange. Hun troede der gik fremmede på gangen. Jeg sagde mit navn "
        "i døren og tændte den lille lampe. Efter fem minutter sov hun.",
        ("tryghed", "naervaer"),
        False,
        True,
    ),
    (
        26,
        "10:30",
        "sofie",
        "J",
        'Hr. J. fulgte med i fodbold i radioen og kommenterede hvert mål. "Brøndby skal nok '
        'klare den," sagde han. Han grinede, da jeg sagde, jeg holder med FCK.',
        ("hverdagsliv", "hjemlighed"),
        False,
        False,
    ),
    (
        25,
        "17:45",
        "line",
        "H",
        "Fru H. gik frem og tilbage på gangen fra kl. 16.30 og ledte efter sin taske. Hun "
        "sagde, hun skulle hjem og lave mad til børnene.",
        ("tryghed",),
        False,
        False,
    ),
    (
        24,
        "13:10",
        "mette",
        "M",
        "Hr. M. sad længe ved vinduet efter frokost og så på fuglebrættet. Han fortalte om sin "
        "have og om mejserne, han fodrede hver vinter.",
        ("hverdagsliv", "hjemlighed"),
        False,
        False,
    ),
    (
        23,
        "03:30",
        "jonas",
        "L",
        "Lampen var tændt, og Fru L. sov roligt det meste af natten. Hun var kun vågen en gang, "
        "tog min hånd og sagde tak.",
        ("tryghed", "kontinuitet"),
        False,
        False,
    ),
    (
        23,
        "08:05",
        "ahmed",
        "M",
        "Hr. M. sagde nej til bad i morges. Han var træt og vred og trak dynen op over hovedet. "
        "Vi aftalte at prøve senere, men det blev ikke til noget.",
        ("selvbestemmelse", "sundhed"),
        False,
        True,
    ),
    (
        22,
        "18:30",
        "sofie",
        "P",
        "Fru P. spiste næsten ingenting til aftensmad i spisestuen. Hun sad med ryggen til de "
        "andre og kiggede ned i tallerkenen.",
        ("naervaer", "sundhed"),
        True,
        False,
    ),
    (
        21,
        "16:50",
        "line",
        "H",
        "Fru H. faldt til ro, da jeg satte mig med hende, hendes fotoalbum og en kop kaffe. "
        "Hun viste mig billeder fra Bornholm og glemte alt om tasken.",
        ("naervaer", "tryghed"),
        False,
        True,
    ),
    (
        20,
        "11:00",
        "mette",
        "N",
        "Hr. N. flyttede ind i dag. Han havde sin gamle lænestol med og ville selv bestemme, "
        "hvor den skulle stå: ved vinduet, så han kan se, hvem der kommer.",
        ("hjemlighed", "selvbestemmelse"),
        False,
        False,
    ),
    (
        20,
        "21:30",
        "line",
        "N",
        "Hr. N. spurgte flere gange efter sin kone. Jeg sad lidt hos ham, og vi talte om "
        'hendes roser. "Hun havde de fineste roser på vejen," sagde han.',
        ("tryghed", "naervaer"),
        False,
        False,
    ),
    (
        19,
        "01:45",
        "jonas",
        "N",
        "Hr. N. gik rundt på gangen i nat med sin stok og ledte efter toilettet. Vi har sat et "
        "skilt med et billede på døren, så han kan finde det selv.",
        ("tryghed", "selvhjulpenhed"),
        False,
        True,
    ),
    (
        18,
        "09:40",
        "ahmed",
        "J",
        "Hr. J. ville selv barbere sig i dag. Det tog lang tid, men han var stolt bagefter: "
        '"Nu ligner jeg mig selv igen."',
        ("selvhjulpenhed", "respekt"),
        False,
        False,
    ),
    (
        17,
        "12:15",
        "sofie",
        "P",
        "Fru P. spiste hele portionen, da hun fik lov at spise på sin stue med radioen tændt. "
        "Hun siger, der er for meget larm i spisestuen.",
        ("selvbestemmelse", "sundhed"),
        False,
        False,
    ),
    (
        16,
        "17:20",
        "line",
        "H",
        "Igen uro ved 17-tiden. Hun ville ikke sidde ned. Da vi gik en tur ned til postkassen "
        "sammen, blev hun rolig og holdt mig under armen.",
        ("tryghed", "hverdagsliv"),
        False,
        False,
    ),
    (
        15,
        "14:30",
        "mette",
        "L",
        "Fru L.s datter var på besøg. Hun siger, hendes mor lyder gladere i telefonen nu: "
        '"Mor siger, nattevagten er så sød."',
        ("kontinuitet", "tryghed"),
        False,
        False,
    ),
    (
        14,
        "07:30",
        "ahmed",
        "M",
        'Hr. M. lå vågen, da jeg kom ind. "Jeg har aldrig været et morgenmenneske," sagde '
        "han. Vi ventede med badet til kl. 10.30, og så gik det fint.",
        ("selvbestemmelse", "respekt"),
        False,
        True,
    ),
    (
        14,
        "23:50",
        "jonas",
        "J",
        "Hr. J. kunne ikke sove. Vi sad i dagligstuen med stille musik, og han nynnede med på "
        "en gammel Gasolin-sang.",
        ("naervaer", "hjemlighed"),
        False,
        False,
    ),
    (
        13,
        "10:10",
        "sofie",
        "N",
        "Hr. N. fik øje på drivhuset i haven og ville straks derud. Han har været gartner i "
        "40 år. Han rørte ved tomatplanterne og smilede.",
        ("hverdagsliv", "selvbestemmelse"),
        False,
        True,
    ),
    (
        12,
        "17:10",
        "line",
        "H",
        "Kaffe og fotoalbum kl. 16.30 igen. Fru H. var rolig hele aftenen og sang lidt med, "
        "da der kom gamle sange i radioen.",
        ("naervaer", "tryghed"),
        False,
        False,
    ),
    (
        11,
        "08:45",
        "ahmed",
        "P",
        'Fru P. sagde: "Min mand og jeg spiste altid morgenmad sammen kl. 8. Nu smager det '
        'ikke af noget." Hun fik tårer i øjnene.',
        ("naervaer",),
        False,
        True,
    ),
    (
        10,
        "15:40",
        "mette",
        "J",
        "Hr. J. hjalp med at dække bord til eftermiddagskaffen. Han talte servietterne to "
        "gange og var glad for at have en opgave.",
        ("hverdagsliv", "selvhjulpenhed"),
        False,
        False,
    ),
    (
        9,
        "02:30",
        "jonas",
        "H",
        "Fru H. sov roligt hele natten. Første nat i en uge, hvor hun ikke ringede.",
        ("tryghed",),
        False,
        False,
    ),
    (
        9,
        "18:15",
        "sofie",
        "M",
        'Hr. M. ville gerne i bad om aftenen i stedet. "Så kan jeg sove godt bagefter," '
        "sagde han. Han var i godt humør.",
        ("selvbestemmelse",),
        False,
        False,
    ),
    (
        8,
        "11:20",
        "ahmed",
        "N",
        "Hr. N. ville ikke have hjælp til skjorten og var sur på mig. Jeg ventede i døren, og "
        "han klarede det selv, bare lidt langsomt.",
        ("selvhjulpenhed", "respekt"),
        False,
        False,
    ),
    (
        7,
        "20:40",
        "line",
        "P",
        "Fru P. kom selv ud i dagligstuen og så Matador med de andre. Hun grinede højt af Skjern.",
        ("hverdagsliv", "naervaer"),
        False,
        False,
    ),
    (
        6,
        "09:15",
        "mette",
        "H",
        'Fru H. fortalte mig, at hun glæder sig til eftermiddagskaffen med "den søde pige, '
        'der har album med".',
        ("kontinuitet", "naervaer"),
        False,
        False,
    ),
    (
        5,
        "04:10",
        "jonas",
        "L",
        "Fru L. vågnede kl. 4 og var urolig: pæren i den lille lampe var sprunget. Jeg skiftede "
        "den, og hun faldt i søvn igen. Vi mangler reservepærer på afdelingen.",
        ("tryghed", "professionalisme"),
        False,
        True,
    ),
    (
        5,
        "13:30",
        "sofie",
        "J",
        "Hr. J. fik besøg af sit barnebarn, der havde hunden med. Han lyste op og ville selv "
        "give hunden godbidder.",
        ("hjemlighed", "hverdagsliv"),
        False,
        False,
    ),
    (
        4,
        "18:40",
        "line",
        "H",
        "I dag ville Fru H. ikke have kaffe kl. 16.30, hun var træt efter frisøren. Uroen kom "
        "først ved 18-tiden. Måske skal tidspunktet følge hende og ikke uret?",
        ("tryghed", "selvbestemmelse"),
        False,
        True,
    ),
    (
        3,
        "10:50",
        "ahmed",
        "P",
        "Fru P. fik morgenmad på stuen kl. 8 med billedet af sin mand på bordet. Hun spiste "
        "det hele og fortalte om deres sommerhus.",
        ("naervaer", "sundhed"),
        False,
        False,
    ),
    (
        3,
        "22:15",
        "line",
        "N",
        "Hr. N. var rolig i aften. Vi talte om drivhuset, og han spurgte, om han må så karse "
        "i morgen.",
        ("hverdagsliv",),
        False,
        False,
    ),
    (
        2,
        "07:40",
        "ahmed",
        "M",
        "Hr. M. sov stadig kl. 7.40. Jeg lod ham sove og kom igen kl. 9.30, så gik det fint med "
        "tøjet. Han sagde tak, fordi jeg ventede.",
        ("selvbestemmelse", "respekt"),
        False,
        False,
    ),
    (
        2,
        "14:20",
        "sofie",
        "N",
        "Hr. N. og jeg såede karse i drivhuset. Han viste mig, hvordan man gør, og rettede "
        "på mig. Han var meget glad.",
        ("selvhjulpenhed", "hverdagsliv", "respekt"),
        False,
        False,
    ),
    (
        1,
        "01:20",
        "jonas",
        "P",
        "Fru P. var vågen og græd lidt. Hun ville ikke snakke, men holdt min hånd i lang tid.",
        ("naervaer", "tryghed"),
        True,
        False,
    ),
    (
        1,
        "19:00",
        "line",
        "J",
        "Hr. J. ville ikke spise aftensmad, før kampen var slut. Vi gemte maden, og han spiste "
        "med god appetit kl. 20.",
        ("selvbestemmelse", "hverdagsliv"),
        False,
        False,
    ),
)

# ---------------------------------------------------------------- the loop's texts

# Fru L. (evaluated, the approach kept): Jonas observed her nights.
CASE_L_ANSWERS = (
    (
        "observation.saw",
        "Fru L. vågner flere gange om natten og ringer. Hun er bange og siger, der går "
        "fremmede på gangen. Det er værst, når der er helt mørkt på stuen.",
    ),
    (
        "observation.reaction",
        "Hun bliver rolig, når jeg siger mit navn allerede i døren og tænder den lille lampe. "
        "Når en vikar går ind uden at sige noget, bliver hun mere bange.",
    ),
    ("observation.mattered", "At vide hvem der kommer ind. Og at der ikke er helt mørkt."),
)
CASE_L_SUMMARY = (
    "Fru L. er utryg om natten, når der er mørkt, og når hun ikke ved, hvem der kommer ind. "
    "Lys og et kendt navn i døren hjælper hende."
)
CASE_L_PERSPECTIVES = (
    (
        "line",
        25,
        "18:00",
        "Om aftenen spørger hun tit til døren. Jeg tror, hun er bange for at være alene, når "
        "der bliver stille på gangen.",
    ),
    (
        "mette",
        24,
        "10:00",
        "Hendes datter fortæller, at hun havde indbrud, da hun boede alene. Det kan forklare "
        "meget.",
    ),
)
CASE_L_TITLE = "Tryghed om natten for Fru L."
CASE_L_PROPOSALS = (
    (
        "jonas",
        "Den lille lampe er tændt hele natten, og alle siger deres navn i døren, før de går ind "
        "hos Fru L.",
    ),
    ("line", "Aftenvagten siger godnat kl. 22 og fortæller, hvem der har nattevagt."),
    (
        "ahmed",
        "Vi hænger et billede af nattevagterne på hendes dør, så hun kan se, hvem der er "
        "på arbejde.",
    ),
)
CASE_L_TRIAL = (
    "Fru L. føler sig tryg om natten og ringer ikke af angst.",
    "Nattevagten skriver, hvor mange gange hun ringer om natten. Målet er højst en gang.",
    "Den lille lampe er tændt hele natten. Alle, også vikarer, siger deres navn i døren, "
    "før de går ind hos Fru L.",
)
CASE_L_CHECKINS = (
    (18, "jonas", CheckinAnswer.HELPED, "Hun ringede kun en gang i nat."),
    (18, "line", CheckinAnswer.HELPED, None),
    (15, "jonas", CheckinAnswer.HELPED, None),
    (15, "ahmed", CheckinAnswer.NOT_RELEVANT, None),
    (
        12,
        "line",
        CheckinAnswer.NOT_HELPED,
        "Vikaren i aftes kendte ikke aftalen. Den skal med i overleveringen.",
    ),
    (12, "jonas", CheckinAnswer.HELPED, None),
    (9, "jonas", CheckinAnswer.HELPED, "Tre nætter i træk uden opkald."),
    (9, "sofie", CheckinAnswer.HELPED, None),
)

# Fru H. (trying): Line talked with her about her afternoons.
CASE_H_ANSWERS = (
    (
        "conversation.matters",
        "At jeg kan gøre noget nyttigt. Jeg har altid lavet mad til min familie.",
    ),
    (
        "conversation.good_day",
        "Når der er nogen at snakke med. Det er så trist, når det "
        "bliver mørkt, og alle har travlt.",
    ),
    (
        "conversation.differently",
        "I må gerne sidde lidt hos mig om eftermiddagen. Bare en kop kaffe.",
    ),
)
CASE_H_SUMMARY = (
    "Fru H. bliver urolig sidst på eftermiddagen, når dagvagten går hjem, og der er travlt. "
    "Hun ønsker selskab og noget at lave. Kaffe og hendes fotoalbum hjælper."
)
CASE_H_PERSPECTIVES = (
    (
        "sofie",
        18,
        "14:40",
        "Jeg ser det samme ved vagtskiftet kl. 15. Hun følger efter dem, der går hjem.",
    ),
    (
        "mette",
        17,
        "11:15",
        "Hun var hjemmegående i mange år. Tidspunktet passer med, da børnene kom hjem fra skole.",
    ),
    (
        "ahmed",
        16,
        "09:50",
        "Om formiddagen er hun glad, når hun må hjælpe med at lægge vasketøj sammen.",
    ),
)
CASE_H_TITLE = "Uro hos Fru H. sidst på eftermiddagen"
CASE_H_PROPOSALS = (
    (
        "line",
        "Kl. 16.30 sætter aftenvagten sig ti minutter med Fru H., en kop kaffe og "
        "hendes fotoalbum.",
    ),
    ("ahmed", "Fru H. får en opgave ved vagtskiftet, fx at lægge viskestykker sammen."),
    ("sofie", "Vi tænder lyset på gangen tidligt, før det bliver mørkt."),
)
CASE_H_TRIAL = (
    "Fru H. er rolig og tryg sidst på eftermiddagen og går ikke rundt og leder efter sin taske.",
    "Aftenvagten skriver et mikroøjeblik, når hun er urolig. Vi tæller dem og sammenligner "
    "med de to uger før.",
    "Kl. 16.30 sætter aftenvagten sig ti minutter med Fru H., en kop kaffe og hendes "
    "fotoalbum. Alle på aftenvagt gør det, også vikarer.",
)
CASE_H_CHECKINS = (
    (4, "line", CheckinAnswer.HELPED, "Hun viste mig billeder fra Bornholm igen og var rolig."),
    (4, "sofie", CheckinAnswer.HELPED, None),
    (4, "ahmed", CheckinAnswer.NOT_RELEVANT, "Jeg har dagvagt, så jeg ser det ikke."),
    (
        1,
        "line",
        CheckinAnswer.NOT_HELPED,
        "Hun var træt efter frisøren, og uroen kom senere. Måske skal tidspunktet være "
        "mere fleksibelt.",
    ),
    (1, "mette", CheckinAnswer.HELPED, None),
)

# Hr. M. (deciding: the vote is open): Ahmed talked with him about the mornings.
CASE_M_ANSWERS = (
    ("conversation.matters", "At få lov at sove. Jeg har aldrig været et morgenmenneske."),
    (
        "conversation.good_day",
        "Når jeg selv bestemmer, hvornår jeg står op. Og når der er kaffe og avis.",
    ),
    (
        "conversation.differently",
        "Lad mig være om morgenen. Jeg vil hellere i bad om aftenen, så sover jeg godt.",
    ),
)
CASE_M_SUMMARY = (
    "Hr. M. siger nej til morgenbad, fordi han er træt og føler sig presset. Han vil selv "
    "bestemme, hvornår på dagen han bliver vasket, og foretrækker aftenen."
)
CASE_M_PERSPECTIVES = (
    ("sofie", 10, "16:20", "Da han fik bad om aftenen, var han i godt humør og sov hele natten."),
    ("jonas", 10, "03:10", "Han sover uroligt de nætter, hvor han har været vred om morgenen."),
    (
        "mette",
        9,
        "12:30",
        "Hans datter vil gerne have ham vasket hver morgen. Det må vi tale med hende om.",
    ),
)
CASE_M_TITLE = "Morgenbadet hos Hr. M."
CASE_M_PROPOSALS = (
    (
        "ahmed",
        5,
        "14:10",
        "Hr. M. vælger selv, om badet er om morgenen eller om aftenen. Vi spørger ham dagen før.",
    ),
    (
        "sofie",
        4,
        "11:30",
        "Fast bad om aftenen tirsdag og fredag, og kun en let vask om morgenen, når han selv "
        "er klar.",
    ),
    (
        "line",
        3,
        "17:15",
        "Vi lader ham sove til kl. 9, og dagvagten tager badet sidst på formiddagen.",
    ),
)

# Fru P. (in the team): Sofie talked with her about meals.
CASE_P_ANSWERS = (
    ("conversation.matters", "At der er ro omkring mig. Der er så meget larm i spisestuen."),
    (
        "conversation.good_day",
        "Når jeg får min morgenmad i ro og fred, som da min mand levede. Vi spiste altid kl. 8.",
    ),
    (
        "conversation.differently",
        "Jeg vil gerne spise på min stue nogle gange. Og have billedet af min mand med.",
    ),
)
CASE_P_SUMMARY = (
    "Fru P. spiser lidt i spisestuen, hvor der er larm. Måltiderne minder hende om hendes "
    "mand. Ro, faste tider og billedet af ham hjælper hende til at spise."
)
CASE_P_PERSPECTIVE = (
    "Om aftenen sidder hun gerne i dagligstuen, når der er færre mennesker. Det er ikke de "
    "andre, hun er ked af, det er larmen."
)

# Hr. N. (listening): Mette has begun the conversation.
CASE_N_ANSWER = (
    "conversation.matters",
    "Mine planter. Jeg har været gartner hele livet, og jeg vil gerne have jord under "
    "neglene igen.",
)

DILEMMA_NAMED = (
    "Hr. M. siger nej til morgenbad, men hans datter har ringet og klaget over, at han ikke "
    "bliver vasket. Hvem lytter vi til, når borgerens ønske og de pårørendes ønske er "
    "forskellige?"
)
DILEMMA_ANONYMOUS = (
    "Når vi kun er to på aftenvagt, og en beboer har brug for en til en, må de andre vente. "
    "Hvordan prioriterer vi, uden at nogen føler sig glemt?"
)
AGENDA_POINTS = (
    "Velkommen til Hr. N.: hvad har vi lært om ham de første uger?",
    "Pulsmålingen: hvordan bliver vi bedre til at sige det, når vi er i tvivl eller har "
    "lavet en fejl?",
    "Nattevagten mangler reservepærer til de små lamper.",
)
MINUTES_DECISION = (
    "Vi talte om nætterne hos Fru L. og om uroen hos Fru H. sidst på eftermiddagen. Aftale: "
    "alle skriver et mikroøjeblik, når de ser noget, der virker. Mette sender dagsordenen "
    "ud før næste møde."
)
MONTHLY_FOCUS = "Måltidet som et godt øjeblik: ro, tid og selskab ved bordet."

# The pulse's seven answers per member, as given (1 = helt uenig, 7 = helt enig; items 1,
# 3 and 5 are reverse-scored). Jonas did not answer: four answers, the site's threshold.
PULSE_ANSWERS = (
    ("mette", 13, "09:10", (2, 6, 1, 5, 2, 6, 6)),
    ("ahmed", 12, "13:30", (4, 5, 2, 4, 3, 6, 5)),
    ("line", 11, "16:05", (3, 4, 1, 3, 4, 5, 6)),
    ("sofie", 9, "11:00", (5, 4, 2, 3, 3, 6, 5)),
)


def texts() -> Iterator[str]:
    """Every free text the seed writes (for the test that no CPR number is among them)."""
    yield SITE_NAME
    yield TEAM_NAME
    yield GROUP_TITLE
    yield MEETING_PLACE
    yield from (person.first_name for person in (LEAD, *STAFF, STRANGER))
    yield from (alias for _key, alias in RESIDENTS)
    yield from (moment[4] for moment in MOMENTS)
    for answers in (CASE_L_ANSWERS, CASE_H_ANSWERS, CASE_M_ANSWERS, CASE_P_ANSWERS):
        yield from (text for _question, text in answers)
    yield CASE_N_ANSWER[1]
    yield from (CASE_L_SUMMARY, CASE_H_SUMMARY, CASE_M_SUMMARY, CASE_P_SUMMARY)
    for perspectives in (CASE_L_PERSPECTIVES, CASE_H_PERSPECTIVES, CASE_M_PERSPECTIVES):
        yield from (p[3] for p in perspectives)
    yield CASE_P_PERSPECTIVE
    yield from (CASE_L_TITLE, CASE_H_TITLE, CASE_M_TITLE)
    yield from (text for _author, text in (*CASE_L_PROPOSALS, *CASE_H_PROPOSALS))
    yield from (p[3] for p in CASE_M_PROPOSALS)
    yield from (*CASE_L_TRIAL, *CASE_H_TRIAL)
    yield from (c[3] for c in (*CASE_L_CHECKINS, *CASE_H_CHECKINS) if c[3])
    yield from (DILEMMA_NAMED, DILEMMA_ANONYMOUS, *AGENDA_POINTS)
    yield from (MINUTES_DECISION, MONTHLY_FOCUS)
