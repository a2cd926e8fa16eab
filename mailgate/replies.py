"""Every SMTP reply the gateway gives: code, enhanced status code, Swedish and English."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    code: int
    status: str
    swedish: str
    english: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.swedish} / {self.english}"

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500


def as_ascii(line: str) -> str:
    """A reply line without å, ä, ö: only clients that said SMTPUTF8 may get UTF-8 (RFC 6531)."""
    if line.isascii():
        return line
    return unicodedata.normalize("NFKD", line).encode("ascii", "ignore").decode("ascii")


OK = Reply(250, "2.0.0", "Tack, meddelandet är mottaget.", "Thank you, message received.")
RECIPIENT_OK = Reply(250, "2.1.5", "Mottagaren finns.", "Recipient OK.")
UNKNOWN_RECIPIENT = Reply(
    550,
    "5.1.1",
    "Adressen finns inte i forumet; skriv till ämnets adress.",
    "No such forum address; write to a topic's address.",
)
NOT_PUBLIC_SECTOR = Reply(
    550,
    "5.7.1",
    "Bara adresser hos svenska offentliga organisationer (kommuner, regioner, myndigheter)"
    " kan skriva här; fråga forumets ägare om din organisation saknas.",
    "Only addresses at Swedish public-sector organisations may post here;"
    " ask the forum's owner if yours is missing.",
)
NOT_AUTHENTICATED = Reply(
    550,
    "5.7.1",
    "Vi kunde inte verifiera att brevet kommer från avsändarens organisation (DKIM/DMARC).",
    "We could not verify that this mail comes from the sender's organisation (DKIM/DMARC).",
)
TOO_BIG = Reply(552, "5.3.4", "Meddelandet är för stort.", "Message too big.")
TOO_MANY_RECIPIENTS = Reply(
    452, "4.5.3", "För många mottagare i ett brev.", "Too many recipients in one message."
)
TOO_MANY_CONNECTIONS = Reply(
    421, "4.7.0", "För många anslutningar; försök igen senare.", "Too many connections; try later."
)
TOO_MANY_MESSAGES = Reply(
    452, "4.7.0", "För många brev just nu; försök igen senare.", "Too many messages; try later."
)
BARE_LF = Reply(
    550,
    "5.6.11",
    "Radslut utan CR (bare LF) tas inte emot.",
    "Bare LF line endings are not accepted.",
)
NO_RECIPIENTS = Reply(554, "5.5.1", "Inga giltiga mottagare.", "No valid recipients.")
TRY_LATER = Reply(
    451,
    "4.3.0",
    "Tillfälligt fel hos oss; försök igen senare, inget har gått förlorat.",
    "Temporary failure on our side; please retry, nothing was lost.",
)
DNS_TRY_LATER = Reply(
    451,
    "4.4.3",
    "Tillfälligt DNS-fel vid verifiering; försök igen senare.",
    "Temporary DNS failure while verifying; please retry.",
)
NO_FROM = Reply(
    550,
    "5.6.0",
    "Brevet saknar en läsbar avsändare (From); skicka det igen från ditt vanliga e-postprogram.",
    "The message has no readable sender (From); send it again from your usual mail program.",
)
LINE_TOO_LONG = Reply(
    500,
    "5.5.2",
    "En rad är längre än 1000 tecken (RFC 5321).",
    "A line is longer than 1000 characters (RFC 5321).",
)
