"""Generate realistic Sparkify landing data: Million Song Dataset song files and event logs.

The output mirrors the real S3 layout and bytes closely enough to exercise the loader end to end:

* ``song_data/A/B/C/TRABC....json``: one song per file, one JSON object on one line, keys in the
  MSD order, written with ``json.dumps`` defaults (``", "`` separators, non-ASCII as ``\\uXXXX``).
* ``log_data/YYYY/MM/YYYY-MM-DD-events.json``: JSON Lines, 18 keys in the app's order, ordered
  by ``ts`` within the day, compact separators.

Like the real files, neither kind ends with a newline after its last object.

Deterministic: every random choice comes from ``random.Random`` instances seeded from ``seed``
(never the global generator) and is consumed in a fixed order (songs, then users, then days in
order, events in ``(ts, sessionId)`` order), so the same arguments give byte-identical files.

Streaming: events are rendered and written line by line. Only per-day state is held (the day's
session plan and the sessions currently open), plus bounded catalogues (users, a sample of the
generated songs used for plays, a pool of unknown songs), so memory stays flat however many
events are asked for. Song files are written as they are generated.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from tqdm import tqdm

# --- Shape of the data -----------------------------------------------------------------------

LOG_KEYS = (
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
)
SONG_KEYS = (
    "num_songs",
    "artist_id",
    "artist_latitude",
    "artist_longitude",
    "artist_location",
    "artist_name",
    "song_id",
    "title",
    "duration",
    "year",
)

DAY_MS = 86_400_000
# Plays draw from a sample of the generated catalogue so memory does not grow with --songs.
PLAYABLE_SONGS_MAX = 20_000
UNKNOWN_SONGS_MAX = 5_000
USERS_MIN, USERS_MAX = 10, 100_000
EVENTS_PER_USER = 200

LOGGED_OUT_SHARE = 0.03
# Share of logged-in events (after session openers, logouts and account changes) that are plays;
# tuned so NextSong lands near 80% of all events.
NEXT_SONG_SHARE = 0.865
KNOWN_SONG_SHARE = 0.60
MEAN_SESSION_EVENTS = 18
MAX_SESSION_EVENTS = 200
MAX_LOGGED_OUT_SESSION_EVENTS = 5
# Rough wall-clock length of one logged-in event, used to start long sessions early enough
# that they end before midnight (the file is per UTC day).
MEAN_EVENT_GAP_MS = 210_000

# page -> (method, status) as the Sparkify app logs them.
PAGE_REQUEST = {
    "NextSong": ("PUT", 200),
    "Home": ("GET", 200),
    "Login": ("PUT", 307),
    "Logout": ("PUT", 307),
    "Settings": ("GET", 200),
    "Save Settings": ("PUT", 307),
    "Upgrade": ("GET", 200),
    "Submit Upgrade": ("PUT", 307),
    "Downgrade": ("GET", 200),
    "Submit Downgrade": ("PUT", 307),
    "About": ("GET", 200),
    "Help": ("GET", 200),
    "Error": ("GET", 404),
}
# Pre-rendered `"method":...,"page":...` fragment and status per page: formatting them per event
# would dominate the run time.
PAGE_FRAGMENT = {
    page: (f'"method":"{method}","page":"{page}"', str(status))
    for page, (method, status) in PAGE_REQUEST.items()
}
# Non-play pages of a logged-in session; "Account" becomes Upgrade or Downgrade by level.
BROWSING_PAGES = ("Home", "Settings", "Help", "About", "Error", "Account")
BROWSING_CUM_WEIGHTS = tuple(
    sum((45, 9, 8, 5, 2, 12)[: index + 1]) for index in range(len(BROWSING_PAGES))
)
LOGGED_OUT_PAGES = ("Home", "Home", "About", "Help", "Error")

# --- Vocabulary ------------------------------------------------------------------------------

FEMALE_NAMES = (
    "Kaylee", "Lily", "Ava", "Chloe", "Sophie", "Amiya", "Layla", "Jacqueline", "Tegan", "Rylan",
    "Aleena", "Celeste", "Anabelle", "Harper", "Mila", "Zoe", "Elena", "Maya", "Nora", "Ruby",
    "Stella", "Hazel", "Aurora", "Violet", "Naomi", "Isla", "Clara", "Ivy", "Lucia", "Ines",
)  # fmt: skip
MALE_NAMES = (
    "Walter", "Ryan", "Jayden", "Connar", "Theodore", "Kevin", "Lucas", "Mason", "Cooper", "Evan",
    "Jordan", "Micah", "Brayden", "Wyatt", "Owen", "Caleb", "Hudson", "Ezra", "Miles", "Silas",
    "Jonah", "Felix", "Rowan", "Elias", "Adrian", "Julian", "Tobias", "Marco", "Dario", "Nico",
)  # fmt: skip
LAST_NAMES = (
    "Frye", "Summers", "Smith", "Williams", "Simpson", "Moreno", "Fox", "Cruz", "Lynch", "Levine",
    "Harrell", "Koch", "Bell", "Owens", "Nguyen", "Patel", "Garcia", "Kim", "Reyes", "Brooks",
    "Hayes", "Mendoza", "Foster", "Ortiz", "Price", "Sanders", "Wolfe", "Barker", "Lowe", "Stone",
    "O'Brien", "Dubois", "Müller", "García", "Nakamura", "Kowalski", "Larsen", "Rossi", "Haddad",
)  # fmt: skip
LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA",
    "Houston-The Woodlands-Sugar Land, TX",
    "Washington-Arlington-Alexandria, DC-VA-MD-WV",
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD",
    "Los Angeles-Long Beach-Anaheim, CA",
    "Seattle-Tacoma-Bellevue, WA",
    "Denver-Aurora-Lakewood, CO",
    "Miami-Fort Lauderdale-West Palm Beach, FL",
    "Boston-Cambridge-Newton, MA-NH",
    "Portland-Vancouver-Hillsboro, OR-WA",
    "Sacramento--Roseville--Arden-Arcade, CA",
    "San Jose-Sunnyvale-Santa Clara, CA",
    "New Orleans-Metairie, LA",
    "Minneapolis-St. Paul-Bloomington, MN-WI",
    "Nashville-Davidson--Murfreesboro--Franklin, TN",
    "Lubbock, TX",
    "Klamath Falls, OR",
    "Salinas, CA",
    "Cedar Rapids, IA",
    "Saginaw, MI",
    "Columbia, SC",
    "Winston-Salem, NC",
    "Santa Rosa, CA",
    "Yuba City, CA",
)
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/35.0.1916.153 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) "
    "Version/7.0.5 Safari/537.77.4",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 "
    "(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
)
TITLE_WORDS = (
    "Love", "Night", "Dream", "Fire", "Rain", "Heart", "Summer", "River", "Ghost", "Light",
    "Shadow", "Gold", "Paper", "Ocean", "Highway", "Midnight", "Tide", "Thunder", "Velvet",
    "Honey", "Stone", "Silver", "Echo", "Mirror", "Garden", "Satellite", "Desert", "Window",
    "Cherry", "Lonely", "Broken", "Sweet", "Wild", "Electric", "Golden", "Crazy", "Blue", "Lost",
    "Dancing", "Burning", "Falling", "Running", "Sleeping", "Giants", "Cabaret", "Matins",
)  # fmt: skip
TITLE_PATTERNS = (
    "{a} {b}", "The {a} {b}", "{a} Of {b}", "{a} In A {b}", "{a}", "Keep On {a}", "My {a} {b}",
    "{a} And {b}", "Where The {a} Goes", "{a} {b} Blues",
)  # fmt: skip
TITLE_SUFFIXES = (" (LP Version)", " (Remix)", " (Live)", " (Album Version)", " (Instrumental)")
# Titles and names that exercise escaping and multibyte handling end to end.
TRICKY_TITLES = (
    "Don't Stop 'Til Tomorrow",
    'The "Real" Thing',
    "Rock 'n' Roll Heart",
    "Crème Brûlée Dreams",
    "Niño Perdido",
    "夜明けの歌",
    "東京ナイト",
    "Heartbreak Hotel Lobby 💔",
    "🎸 Static Bloom",
    "Either/Or (Reprise)",
    'She Said "Yes"',
    "Ça Va Pas",
)
ARTIST_FIRST = (
    "Jimmy", "Alice", "Wayne", "Adam", "Lionel", "Bob", "Elena", "Andy", "Nina", "Otis", "Etta",
    "Sam", "Marvin", "June", "Ray", "Dolly", "Iggy", "Patti", "Johnny", "Bessie", "Faiz",
)  # fmt: skip
ARTIST_LAST = (
    "Wakely", "Stuart", "Watson", "Ant", "Richie", "Azzam", "Souther", "Simone", "Redding",
    "James", "Cooke", "Gaye", "Carter", "Charles", "Parton", "Pop", "Smith", "Cash", "Ali",
)  # fmt: skip
ARTIST_PATTERNS = (
    "{first} {last}", "The {a} {b}s", "{a} {b}", "{first} {last} & The {b}s", "DJ {a}",
    "{last}", "{a}{b}",
)  # fmt: skip
TRICKY_ARTISTS = (
    "Les Étoiles Filantes",
    "Zoë & The Ñandúes",
    "Mötley Brüe",
    "東京スカイライン",
    "少女時代 Tribute Band",
    "Guns N' Petals",
    'The "Quoted" Collective',
    "Björk-ish",
    "Señor Coconut Jr.",
    "🔥 Firestarters",
)
TRICKY_SHARE = 0.03
ARTIST_PLACES = (
    ("Memphis, TN", 35.14968, -90.04892),
    ("Toronto, Ontario, Canada", 43.64856, -79.38533),
    ("London, England", 51.50632, -0.12714),
    ("Morris Plains, NJ", 40.82624, -74.47995),
    ("North Carolina", 35.21962, -80.01955),
    ("Washington", 38.8991, -77.029),
    ("United States", 37.16793, -95.84502),
    ("Paris, France", 48.85692, 2.34121),
    ("Reykjavík, Iceland", 64.13548, -21.89541),
    ("São Paulo, Brazil", -23.56288, -46.65471),
    ("Tokyo, Japan", 35.68949, 139.69171),
    ("Montréal, Québec, Canada", 45.51228, -73.55439),
)
UNPLACED_LOCATIONS = ("Beverly Hills, CA", "Ohio", "California - LA", "Wisner, LA", "Texas")

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEX_DIGITS = 11
_HEX_SPACE = 16**_HEX_DIGITS
# Odd, so `index * _SCATTER % 16**11` is a bijection: ids look random yet can never collide,
# which matters because a colliding track id would silently overwrite a song file.
_SCATTER = 0x9E3779B97F4A7
# Different offsets, so a song's id and its track id do not share their hex digits.
_TRACK_SALT, _SONG_SALT = 0x128F92CA9DC, 0x12A8C140925
# Prime, so coprime with 36: `index * _ARTIST_SCATTER % 36**7` is a bijection as well.
_ARTIST_SCATTER = 2_654_435_761


@dataclass(frozen=True)
class GenerateSummary:
    """What was written; every count can be recomputed from the files."""

    song_files: int
    log_files: int
    events: int
    next_song_events: int
    matching_plays: int
    users: int
    logged_out_events: int


def generate(
    out_dir: Path,
    *,
    events: int,
    songs: int,
    seed: int = 42,
    days: int | None = None,
    start_date: date = date(2018, 11, 1),
    progress: bool = False,
) -> GenerateSummary:
    """Write ``songs`` song files and ``events`` log events under ``out_dir``.

    Events are spread over ``days`` UTC days from ``start_date`` (by default 3 to 30 days, more
    for more events), one log file per day that has events. Progress bars go to stderr.
    Files of an earlier run are overwritten, never deleted: point each run at an empty directory
    if the directory must hold exactly this run's files.
    """
    if events < 0 or songs < 0:
        raise ValueError("events and songs must be >= 0")
    if days is not None and days < 1:
        raise ValueError("days must be >= 1")
    day_count = days if days is not None else max(3, min(30, events // 5000 + 3))

    # Separate streams, so the song files depend only on (seed, songs): asking for more events
    # does not change them.
    root = random.Random(seed)
    song_rng = random.Random(root.getrandbits(64))
    user_rng = random.Random(root.getrandbits(64))
    event_rng = random.Random(root.getrandbits(64))

    playable = _write_songs(Path(out_dir) / "song_data", songs, song_rng, progress)
    unknown = _unknown_songs(min(UNKNOWN_SONGS_MAX, max(50, events // 100)), user_rng)
    start_ms = int(datetime.combine(start_date, time(), tzinfo=UTC).timestamp()) * 1000
    users = _make_users(
        min(USERS_MAX, max(USERS_MIN, events // EVENTS_PER_USER)), start_ms, user_rng
    )

    writer = _EventWriter(event_rng, users, playable, unknown)
    with tqdm(
        total=events, unit="event", desc="events", file=sys.stderr, disable=not progress
    ) as bar:
        day_events = _split_events_over_days(events, day_count, event_rng)
        for day_index, count in enumerate(day_events):
            if count:
                day = start_date + timedelta(days=day_index)
                path = Path(out_dir) / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day}-events.json"
                writer.write_day(path, start_ms + day_index * DAY_MS, count, bar)

    return GenerateSummary(
        song_files=songs,
        log_files=sum(1 for count in day_events if count),
        events=writer.events,
        next_song_events=writer.next_song_events,
        matching_plays=writer.matching_plays,
        users=sum(writer.seen_users),
        logged_out_events=writer.logged_out_events,
    )


# --- Songs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Artist:
    artist_id: str
    name: str
    latitude: float | None
    longitude: float | None
    location: str


# A song as a play references it: pre-rendered JSON for the artist, song and length fields.
_Play = tuple[str, str, str]


def _write_songs(song_dir: Path, count: int, rng: random.Random, progress: bool) -> list[_Play]:
    """Write the song files; return a bounded, evenly spread sample of them to be played."""
    keep_every = max(1, math.ceil(count / PLAYABLE_SONGS_MAX))
    playable: list[_Play] = []
    recent_artists: list[_Artist] = []  # bounded: artists with several songs are "recent" ones
    made_dirs: set[str] = set()
    artist_count = 0
    for index in tqdm(
        range(count), unit="song", desc="songs", file=sys.stderr, disable=not progress
    ):
        if recent_artists and rng.random() < 0.3:
            artist = rng.choice(recent_artists)
        else:
            artist = _make_artist(artist_count, rng)
            artist_count += 1
            if len(recent_artists) < 500:
                recent_artists.append(artist)
            else:
                recent_artists[rng.randrange(500)] = artist
        title = _song_title(rng)
        # Even hundred-thousandths of a second: the unknown songs use odd ones, so a play of an
        # unknown song can never match a generated song by accident.
        duration = (int(rng.lognormvariate(math.log(230), 0.35) * 50_000) or 1) * 2 / 100_000
        year = 0 if rng.random() < 0.5 else rng.randint(1955, 2010)
        track_id = "TR" + _scattered_id(index, _TRACK_SALT, rng)
        song = {
            "num_songs": 1,
            "artist_id": artist.artist_id,
            "artist_latitude": artist.latitude,
            "artist_longitude": artist.longitude,
            "artist_location": artist.location,
            "artist_name": artist.name,
            "song_id": "SO" + _scattered_id(index, _SONG_SALT, rng),
            "title": title,
            "duration": duration,
            "year": year,
        }
        folder = f"{track_id[2]}/{track_id[3]}/{track_id[4]}"
        if folder not in made_dirs:
            (song_dir / folder).mkdir(parents=True, exist_ok=True)
            made_dirs.add(folder)
        with open(song_dir / folder / f"{track_id}.json", "w", encoding="utf-8") as song_file:
            song_file.write(json.dumps(song))
        if index % keep_every == 0:
            playable.append((json.dumps(artist.name), json.dumps(title), repr(duration)))
    return playable


def _scattered_id(index: int, salt: int, rng: random.Random) -> str:
    """Five random letters then 11 hex digits unique to ``index`` (like TRAABVM128F92CA9DC)."""
    letters = "".join(rng.choices(_LETTERS, k=5))
    return f"{letters}{(index * _SCATTER + salt) % _HEX_SPACE:011X}"


def _make_artist(index: int, rng: random.Random) -> _Artist:
    # MSD artist ids are "AR" + 16 upper-case alphanumerics; the last 7 encode the index so
    # two artists never share an id.
    suffix = ""
    value = index * _ARTIST_SCATTER % 36**7
    for _ in range(7):
        value, digit = divmod(value, 36)
        suffix = _ID_ALPHABET[digit] + suffix
    artist_id = "AR" + "".join(rng.choices(_ID_ALPHABET, k=9)) + suffix
    roll = rng.random()
    if roll < 0.4:  # geocoded, as about 40% of MSD artists are
        location, latitude, longitude = rng.choice(ARTIST_PLACES)
        latitude = round(latitude + rng.uniform(-0.5, 0.5), 5)
        longitude = round(longitude + rng.uniform(-0.5, 0.5), 5)
        return _Artist(artist_id, _artist_name(rng), latitude, longitude, location)
    location = rng.choice(UNPLACED_LOCATIONS) if roll < 0.6 else ""
    return _Artist(artist_id, _artist_name(rng), None, None, location)


def _song_title(rng: random.Random) -> str:
    if rng.random() < TRICKY_SHARE:
        return rng.choice(TRICKY_TITLES)
    title = rng.choice(TITLE_PATTERNS).format(a=rng.choice(TITLE_WORDS), b=rng.choice(TITLE_WORDS))
    return title + rng.choice(TITLE_SUFFIXES) if rng.random() < 0.1 else title


def _artist_name(rng: random.Random) -> str:
    if rng.random() < TRICKY_SHARE:
        return rng.choice(TRICKY_ARTISTS)
    return rng.choice(ARTIST_PATTERNS).format(
        first=rng.choice(ARTIST_FIRST),
        last=rng.choice(ARTIST_LAST),
        a=rng.choice(TITLE_WORDS),
        b=rng.choice(TITLE_WORDS),
    )


def _unknown_songs(count: int, rng: random.Random) -> list[_Play]:
    """Songs users play that are not in the song files (most of the real log's plays)."""
    unknown: list[_Play] = []
    for _ in range(count):
        # Odd hundred-thousandths: never equal to a generated song's duration (always even).
        length = (int(rng.lognormvariate(math.log(230), 0.35) * 50_000) * 2 + 1) / 100_000
        unknown.append((json.dumps(_artist_name(rng)), json.dumps(_song_title(rng)), repr(length)))
    return unknown


# --- Users -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _User:
    index: int
    user_id: str
    # Pre-rendered fragments of the event line that never change for this user.
    names_and_gender: str  # '"firstName":"Walter","gender":"M",'
    last_name: str  # '"lastName":"Frye",'
    location: str  # '"location":"...",'
    registration: str  # '1540919166796.0'
    user_agent: str  # '"Mozilla/5.0 ..."'
    level: str
    # Upgrade (free) or downgrade (paid) at some point in the period, then clear the flag.
    pending_change: bool


def _make_users(count: int, start_ms: int, rng: random.Random) -> list[_User]:
    users = []
    for index in range(count):
        gender = rng.choice("FM")
        first_name = rng.choice(FEMALE_NAMES if gender == "F" else MALE_NAMES)
        paid = rng.random() < 0.3
        # Registered in the weeks before the period, so registration precedes every event.
        registration_ms = start_ms - rng.randint(3_600_000, 120 * DAY_MS)
        users.append(
            _User(
                index=index,
                user_id=str(index + 1),
                names_and_gender=f'"firstName":{json.dumps(first_name)},"gender":"{gender}",',
                last_name=f'"lastName":{json.dumps(rng.choice(LAST_NAMES))},',
                location=f'"location":{json.dumps(rng.choice(LOCATIONS))},',
                registration=repr(float(registration_ms)),
                user_agent=json.dumps(rng.choice(USER_AGENTS)),
                level="paid" if paid else "free",
                pending_change=rng.random() < (0.08 if paid else 0.25),
            )
        )
    return users


def _activity_cum_weights(users: list[_User], rng: random.Random) -> list[float]:
    """Heavy-tailed activity: a few users generate most sessions, paid users listen more."""
    total = 0.0
    cumulative = []
    for user in users:
        total += rng.paretovariate(1.3) * (2.0 if user.level == "paid" else 1.0)
        cumulative.append(total)
    return cumulative


# --- Events ----------------------------------------------------------------------------------


def _split_events_over_days(events: int, day_count: int, rng: random.Random) -> list[int]:
    """Exactly ``events`` spread over the days with some day-to-day variation."""
    weights = [rng.uniform(0.75, 1.25) for _ in range(day_count)]
    total = sum(weights)
    shares = [events * weight / total for weight in weights]
    counts = [int(share) for share in shares]
    # Largest remainders get the leftover events, ties broken by day order.
    by_remainder = sorted(range(day_count), key=lambda day: (counts[day] - shares[day], day))
    for day in by_remainder[: events - sum(counts)]:
        counts[day] += 1
    return counts


@dataclass(slots=True)
class _Session:
    session_id: int
    user: _User | None  # None: a logged-out visitor
    length: int
    item: int = 0
    # Item at which a pending level change happens (-1: none in this session).
    change_at: int = -1
    forced_page: str | None = None
    ends_with_logout: bool = False


class _EventWriter:
    """Plans each day's sessions and writes their events in ts order, counting as it goes."""

    def __init__(
        self,
        rng: random.Random,
        users: list[_User],
        playable: list[_Play],
        unknown: list[_Play],
    ) -> None:
        self.rng = rng
        self.users = users
        self.user_cum_weights = _activity_cum_weights(users, rng)
        self.playable = playable
        self.unknown = unknown
        self.next_session_id = 1
        self.events = 0
        self.next_song_events = 0
        self.matching_plays = 0
        self.logged_out_events = 0
        self.seen_users = bytearray(len(users))

    def write_day(self, path: Path, day_start_ms: int, count: int, bar: tqdm) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        last_ms = day_start_ms + DAY_MS - 1
        heap: list[tuple[int, int, _Session]] = []  # (next ts, sessionId, session)
        planned = iter(self._plan_day(day_start_ms, count))
        pending = next(planned, None)
        lines: list[str] = []
        with open(path, "w", encoding="utf-8", buffering=1 << 20) as log_file:
            written = 0
            while written < count:
                # Sessions are merged by their next event's ts; a session starting at the same
                # ms as an open session's next event goes first (it was planned earlier).
                if pending is not None and (not heap or pending[0] <= heap[0][0]):
                    ts, session = pending
                    pending = next(planned, None)
                else:
                    ts, _, session = heapq.heappop(heap)
                line, gap_ms = self._render(session, ts)
                lines.append(line)
                written += 1
                if session.item < session.length:
                    # A session still open at midnight squeezes its last events into the day's
                    # final millisecond, so a file only holds its own date (rare by planning).
                    heapq.heappush(heap, (min(ts + gap_ms, last_ms), session.session_id, session))
                if len(lines) == 8192 or written == count:
                    # The real files have no newline after the last line: join, and separate
                    # chunks with a newline written before every chunk but the first.
                    log_file.write(("\n" if written > len(lines) else "") + "\n".join(lines))
                    bar.update(len(lines))
                    lines.clear()
        self.events += count

    def _plan_day(self, day_start_ms: int, count: int) -> Iterator[tuple[int, _Session]]:
        """The day's sessions as (start ts, session), by start; their lengths sum to ``count``."""
        rng = self.rng
        logged_out_budget = round(count * LOGGED_OUT_SHARE)
        # (start ts, plan order, length, logged out?): the order breaks ties reproducibly.
        plan: list[tuple[int, int, int, bool]] = []
        remaining = count
        while remaining:
            logged_out = logged_out_budget > 0
            if logged_out:
                length = 1 + int(rng.expovariate(0.8))
                length = min(remaining, logged_out_budget, length, MAX_LOGGED_OUT_SESSION_EVENTS)
                logged_out_budget -= length
            else:
                length = 1 + int(rng.expovariate(1 / MEAN_SESSION_EVENTS))
                length = min(remaining, length, MAX_SESSION_EVENTS)
            remaining -= length
            # Start early enough that the session is likely over before midnight.
            latest_start = max(1, DAY_MS - length * MEAN_EVENT_GAP_MS)
            start_ms = day_start_ms + int(rng.random() * latest_start)
            plan.append((start_ms, len(plan), length, logged_out))
        plan.sort()
        for start_ms, _, length, logged_out in plan:
            session_id = self.next_session_id
            self.next_session_id += 1
            if logged_out:
                yield start_ms, _Session(session_id, None, length)
            else:
                yield start_ms, self._user_session(session_id, length)

    def _user_session(self, session_id: int, length: int) -> _Session:
        rng = self.rng
        user = rng.choices(self.users, cum_weights=self.user_cum_weights)[0]
        session = _Session(session_id, user, length)
        if user.pending_change and length >= 3 and rng.random() < 0.4:
            session.change_at = rng.randint(1, length - 2)
        session.ends_with_logout = length >= 2 and rng.random() < 0.25
        self.seen_users[user.index] = 1
        return session

    def _render(self, session: _Session, ts: int) -> tuple[str, int]:
        """One event line for the session's next item, and the ms until the item after it."""
        rng = self.rng
        user = session.user
        item = session.item
        session.item += 1
        if user is None:
            self.logged_out_events += 1
            if item == session.length - 1 and rng.random() < 0.6:
                page = "Login"
            else:
                page = rng.choice(LOGGED_OUT_PAGES)
            method_page, status = PAGE_FRAGMENT[page]
            line = (
                '{"artist":null,"auth":"Logged Out","firstName":null,"gender":null,'
                f'"itemInSession":{item},"lastName":null,"length":null,"level":"free",'
                f'"location":null,{method_page},"registration":null,'
                f'"sessionId":{session.session_id},"song":null,"status":{status},"ts":{ts},'
                '"userAgent":null,"userId":""}'
            )
            return line, int(rng.random() * 40_000)

        level = user.level
        page = self._logged_in_page(session, user, item)
        if page == "NextSong":
            self.next_song_events += 1
            if self.playable and rng.random() < KNOWN_SONG_SHARE:
                self.matching_plays += 1
                catalogue = self.playable
            else:
                catalogue = self.unknown
            # Squaring skews plays toward the head of the catalogue, like real popularity.
            artist, song, length = catalogue[int(len(catalogue) * rng.random() ** 2)]
            # The next event comes when this song ends (or a little after).
            gap_ms = int(float(length) * 1000) + int(rng.random() * 3_000)
        else:
            artist = song = length = "null"
            gap_ms = int(rng.random() * 60_000)
        method_page, status = PAGE_FRAGMENT[page]
        line = (
            f'{{"artist":{artist},"auth":"Logged In",{user.names_and_gender}'
            f'"itemInSession":{item},{user.last_name}"length":{length},"level":"{level}",'
            f'{user.location}{method_page},"registration":{user.registration},'
            f'"sessionId":{session.session_id},"song":{song},"status":{status},"ts":{ts},'
            f'"userAgent":{user.user_agent},"userId":"{user.user_id}"}}'
        )
        return line, gap_ms

    def _logged_in_page(self, session: _Session, user: _User, item: int) -> str:
        """Pick the page; applies a level change once its Submit page is logged."""
        rng = self.rng
        forced = session.forced_page
        if forced is not None:
            session.forced_page = None
            if forced in ("Submit Upgrade", "Submit Downgrade"):
                # The submit event still carries the old level; later events the new one.
                user.level = "paid" if forced == "Submit Upgrade" else "free"
            return forced
        if item == session.change_at and user.pending_change:
            user.pending_change = False  # claimed here, so an overlapping session cannot repeat it
            upgrade = user.level == "free"
            session.forced_page = "Submit Upgrade" if upgrade else "Submit Downgrade"
            return "Upgrade" if upgrade else "Downgrade"
        if item == session.length - 1 and session.ends_with_logout:
            return "Logout"
        if item == 0 and rng.random() < 0.5:
            return "Home"
        if rng.random() < NEXT_SONG_SHARE:
            return "NextSong"
        page = rng.choices(BROWSING_PAGES, cum_weights=BROWSING_CUM_WEIGHTS)[0]
        if page == "Account":
            return "Upgrade" if user.level == "free" else "Downgrade"
        if page == "Settings" and item < session.length - 1 and rng.random() < 0.5:
            session.forced_page = "Save Settings"
        return page
