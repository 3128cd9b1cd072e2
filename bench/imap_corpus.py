"""A deterministic corpus of varied mail for bench/imap.

message(i) returns message i (1-based) of the corpus as (bytes with CRLF line
ends, INTERNALDATE as a Unix time, flags): the same bytes on every machine and
every run, for a given i and seed. The mix is meant to look like a real
mailbox, not like one message repeated:

  text/plain        us-ascii 7bit; utf-8 quoted-printable; utf-8 base64;
                    iso-8859-1 8bit and quoted-printable; windows-1252; koi8-r;
                    iso-2022-jp
  text/html         alone, or with text/plain in multipart/alternative
  multipart/mixed   a text or alternative body and one to three attachments
                    (pdf, png, zip, csv, ics, docx; base64, a few KB to a few
                    hundred KB, one in three hundred over a megabyte)
  multipart/related html with inline images
  message/rfc822    forwarded messages inside multipart/mixed
  multipart/report  delivery status notifications

Headers vary too: senders and recipients with plain, quoted and RFC 2047
encoded display names (utf-8 B and Q, iso-8859-1 Q), groups, Cc, Reply-To,
In-Reply-To/References on replies, subjects in several languages and
encodings, with "Re:" and "Fwd:" prefixes. A few words are planted at known
rates so searches have something to find: SUBJECT_WORD in about 3% of the
subjects (some of them RFC 2047 encoded), BODY_WORD in about 2% of the text
bodies (some inside quoted-printable or base64 parts).

Run as a program it writes the corpus as .eml files into a folder, for
looking at: python3 bench/imap_corpus.py FOLDER [COUNT] [SEED].
"""
import base64
import email.utils
import quopri
import random
import sys
import os

SEED = 20000
SUBJECT_WORD = "quarterly"
BODY_WORD = "zeppelin"
START = 1640995200          # 2022-01-01 00:00:00 UTC
SPAN = 2 * 365 * 86400      # the messages' dates spread over two years

WORDS = """
the of and to a in is for on that with as by at from this be are it was not or have
we our you your will can all new more about which their has if one been would there
meeting report project schedule budget review update release customer order invoice
account payment delivery shipment server network storage backup database migration
deadline contract proposal team office travel conference agenda minutes draft final
please thanks regards attached below following question answer issue ticket support
version feature change request approval analysis results figures numbers revenue cost
plan week month year today tomorrow monday friday morning afternoon evening call phone
""".split()

WORDS_DE = """
und der die das ist nicht mit für über Grüße Besprechung Bericht Rechnung Lieferung
Änderung Übersicht Größe Straße schön müssen können bitte danke morgen heute Woche
""".split()
WORDS_FR = """
le la les et est pour avec sur réunion rapport facture livraison été déjà très
bientôt merci cordialement demain aujourd'hui semaine mois année prévu équipe
""".split()
WORDS_RU = """
привет отчёт встреча счёт доставка проект неделя месяц сегодня завтра спасибо
пожалуйста команда бюджет сервер изменение вопрос ответ
""".split()
WORDS_JA = """
会議 報告 請求書 配送 予定 今日 明日 確認 お願い します ありがとう 資料 担当 変更
""".split()

FIRST = ("Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia "
         "Peggy Rupert Sybil Trent Victor Walter Yolanda Zoe Liam Emma Noah Ava Lucas "
         "Mia Ethan Sofia Mason").split()
LAST = ("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright "
        "Thompson Evans Walker White Roberts Green Hall Wood Jackson Clarke").split()
NAMES_8BIT = ["José Müller", "Zoë Françoise", "Björn Ångström", "Łukasz Żółć",
              "Søren Kierkegård", "Ana María Peña", "Jürgen Groß", "Anaïs Lefèvre",
              "Дмитрий Иванов", "Наталья Смирнова", "山田 太郎", "佐藤 花子",
              "Ελένη Παπαδοπούλου", "Ömer Çelik"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com",
           "corp.example", "lists.example.org", "shop.example", "bank.example",
           "university.example.edu", "bench.test"]
TLDS_ML = ["announce", "dev", "users", "security", "news"]

SUBJECTS = [
    "Meeting notes for {w}", "{W} report", "Re: {w} schedule", "Update on the {w} project",
    "Your order #{n} has shipped", "Invoice {n} from {c}", "Question about {w}",
    "[{l}] {W} {w} discussion", "Fwd: {W} figures", "Reminder: {w} deadline on {d}",
    "{W} and {w}: next steps", "Welcome to {c}", "Password reset for your account",
    "Weekly digest: {n} new {w} items", "Re: Re: {w}?", "Lunch {d}?",
    "Travel plans for the {w} conference", "Draft {w} proposal v{v}",
    "[{l}] [PATCH {v}/{n}] {w}: fix {w} handling", "Your {c} statement is ready",
]
SUBJECTS_INTL = [
    ("utf-8", "Besprechung über die {w} Änderung"), ("utf-8", "Réunion prévue: {w}"),
    ("utf-8", "Отчёт за неделю: {w}"), ("utf-8", "会議の予定 {w}"),
    ("iso-8859-1", "Größe der Lieferung {n}"), ("iso-8859-1", "Facture n° {n} – {w}"),
    ("utf-8", "Ελληνικά: {w} ενημέρωση"), ("utf-8", "☕ {W} break ✓"),
]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark",
             "Wayne", "Tyrell", "Soylent"]

ATTACHMENTS = [  # (content type, extension, typical size)
    ("application/pdf", "pdf", 30000), ("image/png", "png", 20000),
    ("image/jpeg", "jpg", 40000), ("application/zip", "zip", 50000),
    ("text/csv", "csv", 6000), ("text/calendar", "ics", 1500),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx",
     20000), ("application/octet-stream", "bin", 10000),
]

FLAG_SETS = [  # (flags, weight): most mail read, some answered or flagged
    ((), 20), (("\\Seen",), 60), (("\\Seen", "\\Answered"), 10), (("\\Seen", "\\Flagged"), 5),
    (("\\Flagged",), 2), (("\\Seen", "\\Deleted"), 1), (("\\Draft",), 1),
    (("\\Seen", "\\Answered", "\\Flagged"), 1),
]


def _enc_word(text, charset, q=False):
    raw = text.encode(charset)
    if q:
        body = "".join(
            "_" if b == 0x20 else chr(b) if (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5a or
                                              0x61 <= b <= 0x7a) else "=%02X" % b
            for b in raw)
        return "=?%s?Q?%s?=" % (charset, body)
    return "=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode())


def _needs_encoding(text):
    return any(ord(ch) > 127 for ch in text)


class _Gen:
    def __init__(self, i, seed):
        self.i = i
        self.r = random.Random(seed * 1000003 + i)

    # -- words and text --------------------------------------------------------

    def words(self, n, pool=WORDS):
        return " ".join(self.r.choices(pool, k=n))

    def paragraph(self, pool=WORDS, plant=False):
        n = self.r.randint(25, 90)
        ws = self.r.choices(pool, k=n)
        if plant:
            ws[self.r.randrange(n)] = BODY_WORD
        text = " ".join(ws)
        text = text[0].upper() + text[1:] + "."
        return text

    def wrap(self, text, width=72):
        out, line = [], ""
        for w in text.split(" "):
            if line and len(line) + 1 + len(w) > width:
                out.append(line)
                line = w
            else:
                line = line + " " + w if line else w
        if line:
            out.append(line)
        return "\r\n".join(out)

    def text_body(self, pool=WORDS, plant=False, paragraphs=None):
        n = paragraphs or max(1, min(40, int(self.r.lognormvariate(1.3, 0.8))))
        where = self.r.randrange(n) if plant else -1
        paras = [self.wrap(self.paragraph(pool, plant=k == where)) for k in range(n)]
        if self.r.random() < 0.3:     # a quoted reply below
            quoted = self.wrap(self.paragraph(WORDS), 70).split("\r\n")
            paras.append("On %s, %s wrote:\r\n%s" % (
                email.utils.formatdate(START + self.r.randrange(SPAN)), self.name_plain(),
                "\r\n".join("> " + q for q in quoted)))
        if self.r.random() < 0.5:
            paras.append("-- \r\n%s\r\n%s" % (self.name_plain(), self.r.choice(COMPANIES)))
        return "\r\n\r\n".join(paras) + "\r\n"

    def html_of(self, text):
        paras = text.replace("&", "&amp;").replace("<", "&lt;").split("\r\n\r\n")
        body = "\r\n".join("<p>%s</p>" % p.replace("\r\n", "<br>\r\n") for p in paras)
        return ("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">"
                "<style>p{font-family:sans-serif;margin:0 0 1em}</style></head>\r\n"
                "<body>\r\n%s\r\n</body></html>\r\n" % body)

    # -- names and addresses -------------------------------------------------------

    def name_plain(self):
        return "%s %s" % (self.r.choice(FIRST), self.r.choice(LAST))

    def address(self, allow_group=False):
        r = self.r
        dom = r.choice(DOMAINS)
        k = r.random()
        if k < 0.35:
            first, last = r.choice(FIRST), r.choice(LAST)
            return "%s %s <%s.%s@%s>" % (first, last, first.lower(), last.lower(), dom)
        if k < 0.5:
            first, last = r.choice(FIRST), r.choice(LAST)
            return "\"%s, %s\" <%s@%s>" % (last, first, first.lower()[0] + last.lower(), dom)
        if k < 0.65:
            name = r.choice(NAMES_8BIT)
            cs = "iso-8859-1" if all(ord(c) < 256 for c in name) and r.random() < 0.5 \
                else "utf-8"
            return "%s <u%d@%s>" % (_enc_word(name, cs, q=r.random() < 0.5),
                                    r.randrange(1000), dom)
        if k < 0.8:
            return "<%s%d@%s>" % (r.choice(FIRST).lower(), r.randrange(100), dom)
        if k < 0.9 or not allow_group:
            return "%s.%s@%s" % (r.choice(FIRST).lower(), r.choice(LAST).lower(), dom)
        return "undisclosed-recipients:;" if r.random() < 0.5 else \
            "Team: a@%s, %s <b@%s>;" % (dom, r.choice(FIRST), dom)

    def subject(self):
        r = self.r
        fill = dict(w=r.choice(WORDS[40:]), W=r.choice(WORDS[40:]).capitalize(),
                    n=r.randrange(1, 99999), c=r.choice(COMPANIES), d=r.choice(
                        ["Monday", "Friday", "tomorrow", "next week"]),
                    v=r.randint(1, 9), l=r.choice(TLDS_ML))
        plant = r.random() < 0.03
        if r.random() < 0.18:
            cs, tmpl = r.choice(SUBJECTS_INTL)
            text = tmpl.format(**fill)
            if plant:
                text += " " + SUBJECT_WORD
            try:
                text.encode(cs)
            except UnicodeEncodeError:
                cs = "utf-8"
            return _enc_word(text, cs, q=r.random() < 0.4)
        text = r.choice(SUBJECTS).format(**fill)
        if plant:
            text = text.replace(fill["w"], SUBJECT_WORD, 1) if fill["w"] in text \
                else SUBJECT_WORD.capitalize() + " " + text
        if r.random() < 0.15:
            text = r.choice(["Re: ", "RE: ", "Fwd: ", "AW: ", "Re: Re: "]) + text
        if len(text) > 60 and r.random() < 0.5:     # a folded header
            cut = text.rfind(" ", 0, 50)
            if cut > 0:
                text = text[:cut] + "\r\n\t" + text[cut + 1:]
        return text

    # -- parts ----------------------------------------------------------------------------

    def boundary(self, depth):
        return "=_bench_%d_%d_%08x" % (self.i, depth, self.r.getrandbits(32))

    def text_part(self, plant, html=False):
        """(headers, body) of one text part, in a varied charset and encoding."""
        r = self.r
        kind = r.random()
        pool, charset = WORDS, "us-ascii"
        if kind < 0.55:
            pass
        elif kind < 0.70:
            pool, charset = WORDS + WORDS_DE + WORDS_FR, "utf-8"
        elif kind < 0.80:
            pool, charset = WORDS + WORDS_DE + WORDS_FR, "iso-8859-1"
        elif kind < 0.84:
            pool, charset = WORDS + WORDS_FR, "windows-1252"
        elif kind < 0.90:
            pool, charset = WORDS_RU + WORDS[:20], r.choice(["utf-8", "koi8-r"])
        elif kind < 0.94:
            pool, charset = WORDS_JA, r.choice(["utf-8", "iso-2022-jp"])
        else:
            pool, charset = WORDS + WORDS_RU + WORDS_JA + WORDS_DE, "utf-8"
        if charset == "iso-8859-1":
            pool = [w for w in pool if all(ord(c) < 256 for c in w)]
        if charset == "windows-1252":
            pool = [w for w in pool if all(ord(c) < 256 for c in w)] + ["naïve", "€5"]
        text = self.text_body(pool, plant=plant)
        if html:
            text = self.html_of(text)
        raw = text.encode(charset)
        ctype = "text/html" if html else "text/plain"
        params = "; charset=%s" % charset
        if not html and r.random() < 0.1:
            params += "; format=flowed"
        if charset == "us-ascii":
            enc = r.choice(["7bit"] * 8 + ["quoted-printable", None])
        elif charset == "iso-2022-jp":
            enc = "7bit"
        else:
            enc = r.choice(["quoted-printable"] * 4 + ["base64"] * 2 + ["8bit"] * 2)
        if enc == "quoted-printable":
            body = quopri.encodestring(raw.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
        elif enc == "base64":
            body = self.b64(raw)
        else:
            body = raw
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        head = "Content-Type: %s%s\r\n" % (ctype, params)
        if enc:
            head += "Content-Transfer-Encoding: %s\r\n" % enc
        return head.encode(), body

    def b64(self, raw):
        enc = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        return enc

    def attachment(self):
        r = self.r
        ctype, ext, typical = r.choice(ATTACHMENTS)
        size = int(min(typical * r.lognormvariate(0, 0.8), 300000))
        if r.random() < 0.003:
            size = r.randint(1000000, 1600000)
        size = max(200, size)
        if ctype.startswith("text/"):
            if ext == "csv":
                lines = ["date,item,amount"] + ["2023-%02d-%02d,%s,%d.%02d" % (
                    r.randint(1, 12), r.randint(1, 28), r.choice(WORDS), r.randrange(10000),
                    r.randrange(100)) for _ in range(size // 28)]
                raw = ("\r\n".join(lines) + "\r\n").encode()
            else:
                raw = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:%d@bench\r\n"
                       "SUMMARY:%s\r\nDTSTART:20230%d1%dT090000Z\r\nEND:VEVENT\r\n"
                       "END:VCALENDAR\r\n" % (self.i, self.words(4), r.randint(1, 9),
                                              r.randint(0, 9))).encode()
        else:
            raw = r.randbytes(size)
        base = self.words(r.randint(1, 3)).replace(" ", "_")
        fname = "%s.%s" % (base, ext)
        disp = "attachment"
        if r.random() < 0.1:       # an RFC 2231 file name
            fname8 = "%s_%s.%s" % (r.choice(["Übersicht", "résumé", "отчёт", "報告"]), base,
                                   ext)
            fparam = "filename*=utf-8''%s" % "".join(
                c if c.isascii() and c.isalnum() or c in "._-" else
                "".join("%%%02X" % b for b in c.encode()) for c in fname8)
            nparam = "name=\"%s\"" % fname
        else:
            fparam = "filename=\"%s\"" % fname
            nparam = "name=\"%s\"" % fname
        head = ("Content-Type: %s; %s\r\nContent-Disposition: %s; %s\r\n"
                "Content-Transfer-Encoding: base64\r\n" % (ctype, nparam, disp, fparam))
        if r.random() < 0.2:
            head += "Content-Description: %s\r\n" % self.words(3)
        return head.encode(), self.b64(raw)

    def multipart(self, subtype, parts, depth, extra=""):
        b = self.boundary(depth)
        head = "Content-Type: multipart/%s; boundary=\"%s\"%s\r\n" % (subtype, b, extra)
        out = []
        if depth == 0 or self.r.random() < 0.3:
            out.append(b"This is a multi-part message in MIME format.\r\n")
        for ph, pb in parts:
            out.append(b"\r\n--" + b.encode() + b"\r\n" + ph + b"\r\n" + pb)
        out.append(b"\r\n--" + b.encode() + b"--\r\n")
        return head.encode(), b"".join(out)

    def alternative(self, plant, depth):
        th, tb = self.text_part(plant)
        hh, hb = self.text_part(plant, html=True)
        return self.multipart("alternative", [(th, tb), (hh, hb)], depth)

    def related(self, plant, depth):
        hh, hb = self.text_part(plant, html=True)
        imgs = []
        for k in range(self.r.randint(1, 3)):
            raw = self.r.randbytes(self.r.randint(800, 12000))
            imgs.append((("Content-Type: image/png\r\nContent-ID: <img%d.%d@bench>\r\n"
                          "Content-Disposition: inline\r\n"
                          "Content-Transfer-Encoding: base64\r\n" % (k, self.i)).encode(),
                         self.b64(raw)))
        return self.multipart("related", [(hh, hb)] + imgs, depth,
                              extra="; type=\"text/html\"")

    def headers(self, kind):
        r = self.r
        date = START + (self.i * SPAN) // 20000 + r.randrange(3600)
        h = []
        if r.random() < 0.6:
            h.append("Return-Path: <bounce-%d@%s>" % (r.randrange(10 ** 6), r.choice(DOMAINS)))
        if r.random() < 0.6:
            h.append("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n\tby mx.bench.test "
                     "with ESMTPS id %08x\r\n\tfor <u@bench.test>; %s" % (
                         r.randrange(9), r.choice(DOMAINS), r.randrange(9),
                         r.choice(DOMAINS), r.randrange(1, 255), r.getrandbits(32),
                         email.utils.formatdate(date + 5)))
        h.append("From: %s" % self.address())
        if r.random() < 0.1:
            h.append("Sender: %s" % self.address())
        h.append("To: %s" % ", ".join(self.address(allow_group=True)
                                       for _ in range(r.choice([1, 1, 1, 2, 3]))))
        if r.random() < 0.25:
            h.append("Cc: %s" % ",\r\n ".join(self.address() for _ in range(r.randint(1, 4))))
        if r.random() < 0.1:
            h.append("Reply-To: %s" % self.address())
        h.append("Subject: %s" % self.subject())
        h.append("Date: %s" % email.utils.formatdate(date, localtime=False,
                                                     usegmt=r.random() < 0.5))
        h.append("Message-ID: <%d.%08x@%s>" % (self.i, r.getrandbits(32), r.choice(DOMAINS)))
        if r.random() < 0.3 and self.i > 1:
            ref = "<%d.%08x@%s>" % (r.randrange(1, self.i), r.getrandbits(32),
                                    r.choice(DOMAINS))
            h.append("In-Reply-To: %s" % ref)
            h.append("References: %s" % ref)
        if r.random() < 0.2:
            h.append("List-Id: %s list <%s.lists.example.org>" % (
                r.choice(TLDS_ML).capitalize(), r.choice(TLDS_ML)))
            h.append("List-Unsubscribe: <mailto:leave-%d@lists.example.org>" % r.randrange(999))
        if r.random() < 0.3:
            h.append("X-Mailer: %s" % r.choice(["Thunderbird 115.3", "Outlook 16.0",
                                                 "Apple Mail (2.3731)", "mutt 2.2.9"]))
        h.append("MIME-Version: 1.0")
        return "\r\n".join(h).encode() + b"\r\n"

    def message(self, depth=0, forwarded=False):
        r = self.r
        k = r.random()
        plant = r.random() < 0.02
        if k < 0.40:
            ph, pb = self.text_part(plant)
        elif k < 0.50:
            ph, pb = self.text_part(plant, html=True)
        elif k < 0.72:
            ph, pb = self.alternative(plant, depth)
        elif k < 0.90:
            body = self.alternative(plant, depth + 1) if r.random() < 0.5 \
                else self.text_part(plant)
            parts = [body] + [self.attachment() for _ in range(r.choice([1, 1, 1, 2, 3]))]
            ph, pb = self.multipart("mixed", parts, depth)
        elif k < 0.94:
            ph, pb = self.related(plant, depth)
        elif k < 0.98 and not forwarded:
            inner = _Gen(self.i, r.getrandbits(30))
            inner_bytes = inner.message(depth + 1, forwarded=True)
            fwd = (b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n",
                   inner_bytes)
            ph, pb = self.multipart("mixed", [self.text_part(plant), fwd], depth)
        else:
            ph, pb = self.report(depth)
        return self.headers(k) + ph + b"\r\n" + pb

    def report(self, depth):
        rcpt = "user%d@%s" % (self.r.randrange(999), self.r.choice(DOMAINS))
        text = ("This is the mail system at host mx.bench.test.\r\n\r\nI'm sorry to have "
                "to inform you that your message could not\r\nbe delivered to one or more "
                "recipients.\r\n\r\n<%s>: host mx.example.com said: 550 5.1.1 "
                "unknown user\r\n" % rcpt).encode()
        status = ("Reporting-MTA: dns; mx.bench.test\r\n\r\nFinal-Recipient: rfc822; %s\r\n"
                  "Action: failed\r\nStatus: 5.1.1\r\n" % rcpt).encode()
        orig = ("From: u@bench.test\r\nTo: %s\r\nSubject: %s\r\n" % (
            rcpt, self.words(4))).encode()
        return self.multipart("report", [
            (b"Content-Type: text/plain; charset=us-ascii\r\n", text),
            (b"Content-Type: message/delivery-status\r\n", status),
            (b"Content-Type: text/rfc822-headers\r\n", orig)], depth,
            extra="; report-type=delivery-status")


def message(i, seed=SEED):
    """Message i of the corpus: (bytes, internaldate, flags)."""
    g = _Gen(i, seed)
    data = g.message()
    when = START + (i * SPAN) // 20000 + 3600 + g.r.randrange(600)
    flags = g.r.choices([f for f, _ in FLAG_SETS], weights=[w for _, w in FLAG_SETS])[0]
    return data, when, flags


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: python3 bench/imap_corpus.py FOLDER [COUNT] [SEED]\n")
        return 2
    folder = argv[1]
    count = int(argv[2]) if len(argv) > 2 else 20000
    seed = int(argv[3]) if len(argv) > 3 else SEED
    os.makedirs(folder, exist_ok=True)
    total = 0
    for i in range(1, count + 1):
        data, _, _ = message(i, seed)
        total += len(data)
        with open(os.path.join(folder, "%05d.eml" % i), "wb") as f:
            f.write(data)
    print("%d messages, %d bytes" % (count, total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
