"""The words of every answer to a command mail, in Swedish and English."""

from __future__ import annotations

from mailgate.commands import Language

_TEXTS: dict[str, tuple[str, str]] = {
    "subject": ("Svar från {topic}", "Answer from {topic}"),
    "greeting": (
        "Hej!\n\nSå här gjorde vi med ditt brev till {request}:\n",
        "Hello!\n\nThis is what we did with your mail to {request}:\n",
    ),
    "joined_already": ("Du är redan medlem i {topic}.", "You are already a member of {topic}."),
    "join_confirm": (
        "Bekräfta att du vill gå med i {topic}: svara på det här brevet, eller öppna\n"
        "  {url}\noch tryck på knappen. Länken gäller i 7 dagar.",
        "Confirm that you want to join {topic}: reply to this mail, or open\n"
        "  {url}\nand press the button. The link works for 7 days.",
    ),
    "not_public_sector": (
        "Bara medarbetare i svenska kommuner, regioner och myndigheter kan gå med i {topic}.\n"
        "Saknas din organisation? Skriv till {owner}.",
        "Only staff of Swedish municipalities, regions and agencies may join {topic}.\n"
        "Is your organisation missing? Write to {owner}.",
    ),
    "left": (
        "Du har lämnat {topic}. Dina inlägg finns kvar i arkivet. Vill du tillbaka? Skriv\n"
        '"gå med" till {request}.',
        "You have left {topic}. Your posts stay in the archive. To come back, write\n"
        '"join" to {request}.',
    ),
    "not_member": (
        'Du är inte medlem i {topic}. Skriv "gå med" till {request} för att gå med.',
        'You are not a member of {topic}. Write "join" to {request} to join.',
    ),
    "mode": (
        "Du får nu {mode_sv} från {topic}.",
        "You now get {mode_en} from {topic}.",
    ),
    "followed": (
        'Du följer nu tråden "{subject}" och får varje nytt inlägg i den.',
        'You now follow the thread "{subject}" and get every new post in it.',
    ),
    "muted": (
        'Du får inte längre brev från tråden "{subject}".',
        'You no longer get mail from the thread "{subject}".',
    ),
    "no_thread": (
        "Vi hittade ingen tråd att följa eller tysta. Svara på ett inlägg i tråden med bara\n"
        'ordet "följ" eller "tysta", eller använd länken i sammanfattningen.',
        "We found no thread to follow or mute. Reply to a post in the thread with only the\n"
        'word "follow" or "mute", or use the link in the digest.',
    ),
    "topics": ("Ämnen i forumet:\n{lines}", "Topics in the forum:\n{lines}"),
    "forget_confirm": (
        "Vill du att vi glömmer dig? Då avslutas alla dina prenumerationer och ditt namn och\n"
        'din adress tas bort. Dina inlägg finns kvar som "borttagen medlem" med din\n'
        "organisation. Svara på det här brevet för att bekräfta; annars händer ingenting.",
        "Do you want us to forget you? All your subscriptions end and your name and address\n"
        'are removed. Your posts stay, shown as "removed member" with your organisation.\n'
        "Reply to this mail to confirm; otherwise nothing happens.",
    ),
    "forgotten": (
        "Vi har glömt dig: prenumerationer avslutade, namn och adress borttagna.",
        "We have forgotten you: subscriptions ended, name and address removed.",
    ),
    "help": (
        "Skriv ett eller flera av de här orden i ämnesraden eller på egna rader i brevet\n"
        "till {request}:\n\n"
        "  gå med                  bli medlem\n"
        "  lämna                   sluta vara medlem\n"
        "  sammanfattning varje    få varje inlägg\n"
        "  sammanfattning dag      en sammanfattning per dag\n"
        "  sammanfattning vecka    en sammanfattning per vecka\n"
        "  sammanfattning ingen    inga brev, bara arkivet\n"
        "  följ / tysta            svara på ett inlägg med bara ordet\n"
        "  ämnen                   lista forumets ämnen\n"
        "  glöm mig                ta bort ditt namn och din adress\n"
        "  hjälp                   det här brevet",
        "Write one or more of these words in the subject or on lines of their own to\n"
        "{request}:\n\n"
        "  join                    become a member\n"
        "  leave                   stop being a member\n"
        "  digest each             get every post\n"
        "  digest daily            one digest a day\n"
        "  digest weekly           one digest a week\n"
        "  digest none             no mail, only the archive\n"
        "  follow / mute           reply to a post with only the word\n"
        "  topics                  list the forum's topics\n"
        "  forget me               remove your name and address\n"
        "  help                    this mail",
    ),
    "digest_reply": (
        "Du svarade på sammanfattningen från {topic}. Ett svar på själva sammanfattningen\n"
        'publiceras inte. Vill du svara i en tråd? Använd länken "Svara" under tråden i\n'
        'sammanfattningen, så hamnar ditt svar rätt. Länken "Följ" ger dig varje nytt\n'
        "inlägg i tråden.",
        "You replied to the digest from {topic}. A reply to the digest itself is not\n"
        'published. To answer in a thread, use the "Svara" (reply) link under that thread in\n'
        'the digest, and your answer lands in the right place. "Följ" (follow) gets you every\n'
        "new post in the thread.",
    ),
    "unknown": ('Vi förstod inte "{words}".', 'We did not understand "{words}".'),
    "sign_off": (
        "\n-- \n{topic}: {archive}\nDet här är ett automatiskt svar.",
        "\n-- \n{topic}: {archive}\nThis is an automatic answer.",
    ),
}

MODE_WORDS = {
    "each": ("varje inlägg", "every post"),
    "daily": ("en sammanfattning per dag", "a daily digest"),
    "weekly": ("en sammanfattning per vecka", "a weekly digest"),
    "none": ("inga brev (bara arkivet)", "no mail (only the archive)"),
}


def text(key: str, language: Language, **values: str) -> str:
    swedish, english = _TEXTS[key]
    return (swedish if language is Language.SWEDISH else english).format(**values)
