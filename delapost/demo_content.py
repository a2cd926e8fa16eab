"""The demo forum's people and threads: what a week in "Offentliga måltider" might look like."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

TOPIC_SLUG = "maltider"
TOPIC_NAME = "Offentliga måltider"
TOPIC_DESCRIPTION = (
    "Kostchefer i kommuner och regioner delar recept, upphandlingar och erfarenheter."
)

# (address, name, mode): real municipalities from the registry, invented people.
MEMBERS = (
    ("anna.andersson@molndal.se", "Anna Andersson", "each"),
    ("erik.nilsson@goteborg.se", "Erik Nilsson", "each"),
    ("maria.lindqvist@umea.se", "Maria Lindqvist", "weekly"),
    ("johan.berg@malmo.se", "Johan Berg", "daily"),
    ("sara.persson@kiruna.se", "Sara Persson", "each"),
)


@dataclass(frozen=True)
class DemoMail:
    sender: int  # index into MEMBERS
    subject: str
    body: str
    answers: int | None = None  # index of an earlier DemoMail
    charset: str = "utf-8"


MAILS = (
    DemoMail(
        0,
        "Minska matsvinnet i skolmatsalen?",
        "Hej alla!\n\nVi har mätt tallrikssvinnet på tre skolor i Mölndal och ligger på\n"
        "ungefär 35 gram per elev och dag. Har någon av er lyckats få ner det?\n"
        "Vi funderar på svinnvågar i matsalen och att låta eleverna rösta om\n"
        "veckans rätt.\n\nMed vänlig hälsning\nAnna Andersson\nKostchef, Mölndals stad\n",
    ),
    DemoMail(
        1,
        "SV: Minska matsvinnet i skolmatsalen?",
        "Hej Anna!\n\nSvinnvågar gav oss ungefär 20 procent mindre svinn på ett halvår.\n"
        "Det som gjorde mest var ändå att pedagogerna åt tillsammans med eleverna.\n\n"
        "/Erik\n\n"
        "Från: Anna Andersson\nSkickat: den 23 november 2026 09:12\n"
        "Till: Offentliga måltider\nÄmne: Minska matsvinnet i skolmatsalen?\n\n"
        "Hej alla! Vi har mätt tallrikssvinnet på tre skolor i Mölndal …\n",
        answers=0,
    ),
    DemoMail(
        4,
        "SV: Minska matsvinnet i skolmatsalen?",
        "I Kiruna serverar vi mindre portioner först och låter eleverna ta om.\n"
        "Det sänkte svinnet märkbart, särskilt på högstadiet.\n\nHälsningar\nSara\n",
        answers=1,
        charset="iso-8859-1",
    ),
    DemoMail(
        3,
        "Upphandling av livsmedel 2027 – krav på svensk kyckling?",
        "Vi ska upphandla livsmedel för förskola, skola och äldreomsorg från\n"
        "1 april 2027. Hur har ni formulerat djurskyddskraven så att de håller\n"
        "i en överprövning? Delar gärna vårt underlag i gengäld.\n\nJohan Berg, Malmö stad\n",
    ),
    DemoMail(
        2,
        "Specialkost i äldreomsorgen: konsistensanpassad mat",
        "Hej! Vi inför IDDSI-skalan för konsistensanpassad kost på våra\n"
        "särskilda boenden. Någon som har utbildningsmaterial på svenska?\n\n"
        "Tack på förhand,\nMaria\n",
    ),
)


def compose(index: int, list_domain: str, message_ids: list[str]) -> EmailMessage:
    """The demo mail number `index`, answering the one it names."""
    mail = MAILS[index]
    address, name, _ = MEMBERS[mail.sender]
    message = EmailMessage()
    message["From"] = f"{name} <{address}>"
    message["To"] = f"{TOPIC_NAME} <{TOPIC_SLUG}@{list_domain}>"
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=address.split("@")[1])
    if mail.answers is not None:
        message["In-Reply-To"] = message_ids[mail.answers]
        message["References"] = message_ids[mail.answers]
    message.set_content(mail.body, charset=mail.charset, cte="quoted-printable")
    return message
